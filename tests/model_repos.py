"""Model repositories for tests: the shipped classifier plus a tiny generated detector."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from tests.inference.onnx_factory import FEATURES, detector_model, write_model

SHIPPED = Path(__file__).resolve().parent.parent / "onnx_models"
DETECTOR_TOML = """kind = "detector"
version = "0.1.0"
license = "Apache-2.0"
sha256 = "{sha256}"
[output]
boxes = "boxes"
scores = "scores"
[options]
box_units = "normalized"
"""


def write_test_models(root: Path) -> Path:
    """``efficientnet-lite0`` and ``tiny-detector``, whose one box is the middle of its input."""
    shutil.copytree(SHIPPED / "efficientnet-lite0", root / "efficientnet-lite0")
    box = np.array([[0.25, 0.25, 0.75, 0.75]], np.float32)
    write_model(root / "tiny-detector",
                detector_model(box, np.zeros((FEATURES, 1)), np.array([5.0]), np.array([0])),
                DETECTOR_TOML)
    return root
