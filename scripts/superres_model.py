"""The ESPCN-class network of ``scripts/train_superres.py`` and its hand-built ONNX graph.

The network works on luma only, at the low resolution, and predicts a luma *residual* over
bicubic upsampling through a sub-pixel convolution (PixelShuffle / DepthToSpace):

    y      = 0.299 R + 0.587 G + 0.114 B                (full-range BT.601 luma)
    body   = Conv5x5(1->C1) ReLU Conv3x3(C1->C) ReLU [Conv3x3(C->C) ReLU] x M Conv3x3(C->s*s)
    output = clip(bicubic_s(RGB) + PixelShuffle_s(body(y - 0.5)), 0, 1)

Adding the same residual to R, G and B adds exactly that residual to the luma (the weights sum
to 1) and leaves the chroma of the bicubic upsampling untouched: this is "super-resolve Y,
upsample CbCr bicubically" without a YCbCr round trip. Bicubic is ONNX ``Resize`` (cubic,
a = -0.75, half-pixel), which equals ``torch.nn.functional.interpolate(mode="bicubic",
align_corners=False)`` and OpenCV ``INTER_CUBIC``.

The ONNX graph is written node by node with ``onnx.helper`` (opset 17, IR version 9) rather
than through a torch exporter, so it is small, readable and byte-for-byte reproducible from
the weights: Conv, Relu, DepthToSpace (CRD), Resize, Add and Clip only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

OPSET = 17
IR_VERSION = 9  # onnxruntime 1.17 loads IR <= 9
LUMA = (0.299, 0.587, 0.114)


class ESPCN(nn.Module):
    """Luma residual super-resolution at ``scale``; input/output luma [N, 1, H, W] in [0, 1]."""

    def __init__(self, scale: int, c1: int = 64, c: int = 32, mid: int = 3):
        super().__init__()
        self.scale = scale
        self.arch = {"c1": c1, "c": c, "mid": mid}
        layers: list[nn.Module] = [nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(),
                                   nn.Conv2d(c1, c, 3, padding=1), nn.ReLU()]
        for _ in range(mid):
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU()]
        layers.append(nn.Conv2d(c, scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)
        for m in self.body:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        last = self.body[-1]
        nn.init.normal_(last.weight, std=1e-3)  # starts as plain bicubic

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        residual = F.pixel_shuffle(self.body(y - 0.5), self.scale)
        base = F.interpolate(y, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + residual

    def forward_rgb(self, rgb: torch.Tensor) -> torch.Tensor:
        """The exported function, in torch: RGB [N, 3, H, W] -> RGB [N, 3, sH, sW] in [0, 1]."""
        w = torch.tensor(LUMA, dtype=rgb.dtype).view(1, 3, 1, 1)
        y = (rgb * w).sum(1, keepdim=True)
        residual = F.pixel_shuffle(self.body(y - 0.5), self.scale)
        base = F.interpolate(rgb, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return (base + residual).clamp(0.0, 1.0)


def n_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters())


def build_onnx(model: ESPCN, output_name: str, doc: str, metadata: dict[str, str]):
    """The hand-written ONNX graph of ``model.forward_rgb`` (returns an ``onnx.ModelProto``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    s = model.scale
    inits = [
        numpy_helper.from_array(np.array(LUMA, np.float32).reshape(1, 3, 1, 1), "luma.weight"),
        numpy_helper.from_array(np.array([-0.5], np.float32), "luma.bias"),
        numpy_helper.from_array(np.array([1.0, 1.0, s, s], np.float32), "resize.scales"),
        numpy_helper.from_array(np.array(0.0, np.float32), "clip.min"),
        numpy_helper.from_array(np.array(1.0, np.float32), "clip.max"),
    ]
    nodes = [helper.make_node("Conv", ["image", "luma.weight", "luma.bias"], ["luma"],
                              name="luma", kernel_shape=[1, 1])]
    x = "luma"
    convs = [m for m in model.body if isinstance(m, nn.Conv2d)]
    for i, conv in enumerate(convs):
        k = conv.kernel_size[0]
        w, b = f"conv{i}.weight", f"conv{i}.bias"
        inits += [numpy_helper.from_array(conv.weight.detach().numpy().astype(np.float32), w),
                  numpy_helper.from_array(conv.bias.detach().numpy().astype(np.float32), b)]
        out = f"conv{i}"
        nodes.append(helper.make_node("Conv", [x, w, b], [out], name=out, kernel_shape=[k, k],
                                      pads=[k // 2] * 4))
        if i < len(convs) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i}"], name=f"relu{i}"))
            out = f"relu{i}"
        x = out
    nodes += [
        helper.make_node("DepthToSpace", [x], ["residual"], name="pixel_shuffle",
                         blocksize=s, mode="CRD"),
        helper.make_node("Resize", ["image", "", "resize.scales"], ["bicubic"], name="bicubic",
                         mode="cubic", coordinate_transformation_mode="half_pixel",
                         cubic_coeff_a=-0.75, exclude_outside=0),
        helper.make_node("Add", ["bicubic", "residual"], ["sum"], name="add_residual"),
        helper.make_node("Clip", ["sum", "clip.min", "clip.max"], [output_name], name="clip"),
    ]
    graph = helper.make_graph(
        nodes, f"espcn_x{s}",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT,
                                       ["N", 3, f"H*{s}", f"W*{s}"])],
        inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="annoserver scripts/train_superres.py",
                              doc_string=doc)
    proto.ir_version = IR_VERSION
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto, full_check=True)
    return proto
