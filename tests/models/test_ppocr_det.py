"""Regression tests for the shipped PP-OCRv4 text-line detector (onnx_models/ppocr-det-v4).

onnxruntime, numpy and OpenCV only, through annoserver's Runtime and the ``text-lines``
plugin. The model is copied out of the rapidocr-onnxruntime wheel by
scripts/extract_ppocr.py; these tests never download or rebuild it.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

from annoserver.inference import Boxes, Runtime, get_plugin_manager, model_kinds
from annoserver.inference.model_config import load_model_config

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "ppocr-det-v4"
MODEL_DIR = REPO / "onnx_models" / MODEL_ID
SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
WORDS = ["the", "of", "and", "printed", "page", "annotation", "library", "museum", "archive",
         "collection", "letter", "volume", "chapter", "section", "figure", "plate", "index",
         "1887", "1923", "catalogue", "record"]


@pytest.fixture(scope="module")
def meta() -> dict:
    with open(MODEL_DIR / "model.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def manager():
    return get_plugin_manager(load_entry_points=False)


@pytest.fixture(scope="module")
def runtime(manager):
    runtime = Runtime(REPO / "onnx_models", manager,
                      settings={"batching": False, "providers": ["CPUExecutionProvider"]})
    yield runtime
    runtime.close()


def render_page(seed: int = 7, width: int = 900, height: int = 1200):
    """A clean printed page: 14 lines in one column; returns RGB and [K, 4] ink boxes."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width, 3), 245, np.uint8)
    boxes = []
    y = 110
    for i in range(14):
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 8))))
        if i % 5 == 4:  # the last line of a paragraph is short, then a gap
            text = " ".join(text.split()[:2])
        mask = np.zeros((height, width), np.uint8)
        cv2.putText(mask, text, (80, y), cv2.FONT_HERSHEY_DUPLEX, 1.0, 255, 2, cv2.LINE_AA)
        ys, xs = np.nonzero(mask > 64)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        page[mask > 0] = np.minimum(page[mask > 0], (255 - mask[mask > 0])[:, None])
        y += 70 if i % 5 == 4 else 50
    return page, np.array(boxes, np.float64)


def iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_sha256_matches_model_toml(meta):
    digest = hashlib.sha256((MODEL_DIR / "model.onnx").read_bytes()).hexdigest()
    assert digest == meta["sha256"] == SHA256


def test_model_toml_and_card(meta, manager):
    assert meta["kind"] == "text-lines"
    assert meta["license"] == "Apache-2.0"
    assert "rapidocr-onnxruntime==1.4.4" in meta["source"]
    assert meta["input"]["resize"] == "longest-side" and max(meta["input"]["size"]) == 960
    assert meta["input"]["color"] == "BGR"
    assert meta["max_batch_size"] == 1
    assert 0 < meta["options"]["binarize"] < meta["thresholds"]["min_score"] < 1
    quality = meta["quality"]
    assert 0 < quality["truetype_recall"] <= 1 and quality["latency_ms_a4_page_960px"] > 0
    config = load_model_config(MODEL_DIR, model_kinds(manager))
    assert config.outputs["probability"].name == "sigmoid_0.tmp_0"
    card = (MODEL_DIR / "MODEL_CARD.md").read_text("utf-8")
    assert SHA256 in card and "Apache-2.0" in card


def test_finds_the_lines_of_a_rendered_page(runtime):
    page, truth = render_page()
    [found] = runtime.infer(MODEL_ID, [page])
    assert isinstance(found, Boxes) and len(found) > 0
    height, width = page.shape[:2]
    for box in found:
        assert box.label == "text line" and 0.5 <= box.score <= 1.0
        assert box.x >= 0 and box.y >= 0 and box.w > 0 and box.h > 0
        assert box.x + box.w <= width and box.y + box.h <= height
    boxes = [(b.x, b.y, b.x + b.w, b.y + b.h) for b in found]
    hits = sum(max(iou(t, b) for b in boxes) >= 0.5 for t in truth)
    # Measured: 14 of 14 at IoU >= 0.5 and no extra box; leave room for other CPUs/ORT builds.
    assert hits / len(truth) >= 0.85
    assert len(found) <= len(truth) + 2
    # Scores come best first.
    assert [b.score for b in found] == sorted((b.score for b in found), reverse=True)


def test_a_blank_page_has_no_text(runtime):
    rng = np.random.default_rng(3)
    blank = np.clip(rng.normal(240, 4, (1000, 700, 3)), 0, 255).astype(np.uint8)
    assert len(runtime.infer(MODEL_ID, [blank])[0]) == 0


def test_a_small_region_is_not_enlarged(runtime):
    page, truth = render_page()
    crop = page[80:232, 60:860]  # three lines, 800 × 152: runs at 800 × 160, not 960 wide
    kind = runtime.get(MODEL_ID).kind()
    feeds, [transform] = kind.preprocess([crop])
    assert next(iter(feeds.values())).shape == (1, 3, 160, 800)
    assert (transform.width, transform.height) == (800, 152)
    [found] = runtime.infer(MODEL_ID, [crop])
    assert len(found) == 3
    tops = sorted(b.y + 80 for b in found)
    np.testing.assert_allclose(tops, truth[:3, 1], atol=8)
