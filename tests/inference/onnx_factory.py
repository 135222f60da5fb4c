"""Tiny ONNX models built with onnx.helper, and model folders written around them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIDE = 8
FEATURES = 3 * SIDE * SIDE


def _model(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _image_input(name="pixels", batch="N", side=SIDE):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, 3, side, side])


def _out(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _gemm(prefix, source, weight, bias):
    return ([helper.make_node("Gemm", [source, f"{prefix}_w", f"{prefix}_b"], [prefix])],
            [numpy_helper.from_array(weight.astype(np.float32), f"{prefix}_w"),
             numpy_helper.from_array(bias.astype(np.float32), f"{prefix}_b")])


def linear_model(heads, batch="N"):
    """Input [batch, 3, 8, 8] → Flatten → one Gemm per head {output name: (W, b)}."""
    nodes = [helper.make_node("Flatten", ["pixels"], ["flat"], axis=1)]
    inits, outputs = [], []
    for name, (weight, bias) in heads.items():
        head_nodes, head_inits = _gemm(name, "flat", weight, bias)
        nodes += head_nodes
        inits += head_inits
        outputs.append(_out(name, [batch, weight.shape[1]]))
    return _model(nodes, [_image_input(batch=batch)], outputs, inits)


def detector_model(boxes, weight, bias, classes):
    """Constant boxes [K, 4] and class ids per image; scores = sigmoid(flat @ W + b) [N, K]."""
    k = boxes.shape[0]
    nodes = [helper.make_node("Flatten", ["pixels"], ["flat"], axis=1)]
    score_nodes, inits = _gemm("logit", "flat", weight, bias)
    box_nodes, box_inits = _gemm("flatboxes", "flat", np.zeros((FEATURES, 4 * k)),
                                 boxes.reshape(-1))
    class_nodes, class_inits = _gemm("classf", "flat", np.zeros((FEATURES, k)),
                                     classes.astype(np.float32))
    nodes += score_nodes + box_nodes + class_nodes + [
        helper.make_node("Sigmoid", ["logit"], ["scores"]),
        helper.make_node("Reshape", ["flatboxes", "box_shape"], ["boxes"]),
        helper.make_node("Cast", ["classf"], ["classes"], to=TensorProto.INT64),
    ]
    inits += box_inits + class_inits + [
        numpy_helper.from_array(np.array([-1, k, 4], np.int64), "box_shape")]
    outputs = [_out("boxes", ["N", k, 4]), _out("scores", ["N", k]),
               _out("classes", ["N", k], TensorProto.INT64)]
    return _model(nodes, [_image_input()], outputs, inits)


def upscale_model(factor=2):
    """Input [N, 3, H, W] (dynamic) → nearest-neighbour ×factor → "image"."""
    nodes = [helper.make_node("Resize", ["pixels", "", "scales"], ["image"], mode="nearest")]
    inits = [numpy_helper.from_array(np.array([1, 1, factor, factor], np.float32), "scales")]
    inputs = [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 3, "H", "W"])]
    return _model(nodes, inputs, [_out("image", ["N", 3, "H2", "W2"])], inits)


def write_model(folder: Path, model, toml: str, labels=None, card=True,
                sha256: str | None = None) -> Path:
    """Write a model folder; ``{sha256}`` in ``toml`` becomes the real digest."""
    folder.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString()
    (folder / "model.onnx").write_bytes(data)
    digest = sha256 or hashlib.sha256(data).hexdigest()
    (folder / "model.toml").write_text(toml.replace("{sha256}", digest))
    if labels is not None:
        (folder / "labels.txt").write_text("\n".join(labels) + "\n")
    if card:
        (folder / "MODEL_CARD.md").write_text(f"# {folder.name}\n")
    return folder


def pixels(image, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)):
    """The independent reference preprocessing of an 8×8 RGB image: flat NCHW features."""
    x = (image.astype(np.float64) / 255.0 - np.asarray(mean)) / np.asarray(std)
    return x.transpose(2, 0, 1).reshape(-1)
