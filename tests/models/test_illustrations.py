"""Regression tests for the shipped illustration detector (onnx_models/illustrations).

torch-free: onnxruntime, numpy and OpenCV, through annoserver's model loading and the
``detector`` plugin. The model, its two held-out fixture pages and their picture boxes
(eval.json ``fixtures``) come from scripts/train_illustrations.py; these tests never retrain.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

from annoserver.inference import Boxes
from annoserver.validation import annotation_errors
from tests.iiif.servers import ReferenceServer

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "illustrations"
MODEL_DIR = REPO / "onnx_models" / MODEL_ID
SCHEMA = REPO / "annoserver" / "schemas" / "model-config.schema.json"


@pytest.fixture(scope="module")
def meta() -> dict:
    with open(MODEL_DIR / "model.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads((MODEL_DIR / "eval.json").read_text())


@pytest.fixture(scope="module")
def detector():
    inference = pytest.importorskip("annoserver.inference")
    from annoserver.inference.plugins import BUILTIN_PLUGINS_DIR

    manager = inference.get_plugin_manager(plugin_dirs=[BUILTIN_PLUGINS_DIR],
                                           load_entry_points=False)
    kinds = inference.model_kinds(manager)
    config = inference.load_model_config(MODEL_DIR, kinds)
    return kinds[config.kind](config, inference.ModelSession(config.onnx_path))


def rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(MODEL_DIR / name), cv2.IMREAD_COLOR)
    assert bgr is not None, name
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def iou(a, b) -> float:
    """IoU of two (x1, y1, x2, y2) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_model_toml(meta):
    assert meta["kind"] == "detector"
    assert meta["license"] == "Apache-2.0"
    assert meta["labels"] == "labels.txt"
    assert meta["input"]["size"] == [384, 384] and meta["input"]["resize"] == "stretch"
    assert meta["output"] == {"boxes": "boxes", "scores": "scores"}
    assert meta["options"] == {"box_format": "xyxy", "box_units": "pixels"}
    assert 0.0 < meta["thresholds"]["min_score"] < 1.0
    assert (MODEL_DIR / "labels.txt").read_text() == "illustration\n"


def test_model_toml_matches_schema(meta):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(meta, json.loads(SCHEMA.read_text()))


def test_sha256_matches_file(meta):
    assert hashlib.sha256((MODEL_DIR / "model.onnx").read_bytes()).hexdigest() == meta["sha256"]


def test_card_and_eval_report_the_shipped_file(meta, report):
    assert report["sha256"] == meta["sha256"]
    assert report["threshold"]["min_score"] == meta["thresholds"]["min_score"]
    assert meta["quality"]["heldout_ap50"] == report["results"]["test"]["ap50"]
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    assert meta["sha256"] in card and f"{report['results']['test']['ap50']:.3f}" in card


def test_finds_each_picture_of_the_held_out_fixture_page(detector, report):
    truth = report["fixtures"]["fixture_pictures.jpg"]["pictures"]
    [found] = detector.infer([rgb("fixture_pictures.jpg")])
    assert isinstance(found, Boxes)
    assert len(found) == len(truth) >= 2
    for box in found:
        assert box.label == "illustration"
        assert detector.config.thresholds["min_score"] <= box.score <= 1
        xyxy = (box.x, box.y, box.x + box.w, box.y + box.h)
        assert max(iou(xyxy, t) for t in truth) >= 0.5, (xyxy, truth)


def test_a_page_of_text_has_no_illustration(detector):
    [found] = detector.infer([rgb("fixture_text.jpg")])
    assert list(found) == []


def test_boxes_follow_the_page_when_it_is_resized(detector, report):
    """The plugin maps model-input boxes back to image pixels (stretch resize undone)."""
    truth = np.array(report["fixtures"]["fixture_pictures.jpg"]["pictures"])
    page = cv2.resize(rgb("fixture_pictures.jpg"), (600, 800), interpolation=cv2.INTER_CUBIC)
    [found] = detector.infer([page])
    scaled = truth * [600 / 384, 800 / 384, 600 / 384, 800 / 384]
    assert len(found) == len(truth)
    for box in found:
        xyxy = (box.x, box.y, box.x + box.w, box.y + box.h)
        assert max(iou(xyxy, t) for t in scaled) >= 0.5, (xyxy, scaled)


def test_analyze_tags_the_pictures_of_a_page_served_over_iiif(tmp_path, settings, report):
    """/analyze through the IIIF reference server process: one tagging box per picture."""
    from annoserver.app import create_app

    images, models = tmp_path / "images", tmp_path / "models"
    images.mkdir()
    models.mkdir()
    shutil.copy(MODEL_DIR / "fixture_pictures.jpg", images / "page.jpg")
    (models / MODEL_ID).symlink_to(MODEL_DIR, target_is_directory=True)
    canvas = {"id": "https://example.org/canvas/1", "width": 768, "height": 768}
    with ReferenceServer(images, tmp_path) as server:
        app = create_app({**settings, "MODELS_DIR": str(models), "ALLOWED_HOSTS": ["127.0.0.1"]})
        try:
            response = app.test_client().post("/analyze", json={
                "image": server.info_url("3.0", "page"), "models": [MODEL_ID],
                "canvas": canvas})
        finally:
            app.extensions["annoserver.db"].dispose()
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_json()
    annotations = page["items"]
    truth = [np.array(t) * 2 for t in report["fixtures"]["fixture_pictures.jpg"]["pictures"]]
    assert len(annotations) == len(truth)
    for annotation in annotations:
        assert annotation_errors({**annotation, "@context": page["@context"]}) == []
        assert annotation["motivation"] == "tagging"
        assert annotation["body"]["value"] == "illustration"
        assert annotation["target"]["source"]["id"] == canvas["id"]
        x, y, w, h = map(int, annotation["target"]["selector"]["value"][5:].split(","))
        assert max(iou((x, y, x + w, y + h), t) for t in truth) >= 0.5  # canvas = 2 x pixels
