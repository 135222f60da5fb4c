"""Overlapped tiles with the shipped ×2 model: tiled output equals one untiled run."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annoserver.inference import Runtime
from annoserver.superres import TileSettings, enhance_tiled
from tests.iiif.fixtures import DEMO_IMAGES


@pytest.fixture(scope="module")
def model():
    runtime = Runtime("onnx_models", settings={"intra_op_threads": 1})
    yield runtime.get("espcn-x2").kind("superres")
    runtime.close()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 300 × 200 crop of a real photograph (RGB): texture and edges across tile borders."""
    image = cv2.cvtColor(cv2.imread(str(DEMO_IMAGES / "chelsea.jpg")), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(image[50:250, 80:380])


def _difference(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    delta = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(delta.max()), float(delta.mean())


def test_tiled_equals_untiled(model, photo):
    whole = model.enhance(photo)
    assert whole.shape == (400, 600, 3)
    calls = []

    def counted(tile):
        calls.append(tile.shape)
        return model.enhance(tile)

    tiled = enhance_tiled(photo, counted, 2, TileSettings(tile=64, pad=8, overlap=8))
    assert len(calls) == 4 * 5  # really tiled: cores of at most 64 px over 200 × 300
    worst, mean = _difference(tiled, whole)
    assert worst <= 2 and mean < 0.05, (worst, mean)


def test_tiles_without_context_show_seams(model, photo):
    """The same check fails for naive tiling: the tolerance above is meaningful."""
    whole = model.enhance(photo)
    naive = enhance_tiled(photo, model.enhance, 2, TileSettings(tile=64, pad=0, overlap=0))
    worst, _mean = _difference(naive, whole)
    assert worst > 10


def test_one_tile_when_the_image_fits(model, photo):
    small = np.ascontiguousarray(photo[:, :250])  # within one default tile (320 px)
    calls = []
    enhance_tiled(small, lambda tile: calls.append(tile.shape) or model.enhance(tile), 2)
    assert calls == [small.shape]


def test_wrong_factor_is_refused(photo):
    with pytest.raises(ValueError, match="scale 4"):
        enhance_tiled(photo, lambda tile: np.repeat(np.repeat(tile, 2, 0), 2, 1), 4)
