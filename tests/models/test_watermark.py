"""Regression tests for the shipped watermark classifier (onnx_models/watermark).

torch-free: onnxruntime, numpy and OpenCV, through annoserver's model loading and the
``watermark`` plugin. The model and its three fixtures (a held-out watermarked photograph, a
clean photograph and a clean text page, all from the held-out test split) are produced by
scripts/train_watermark.py; these tests never retrain it.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tomllib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from annoserver.inference import Labels
from annoserver.validation import annotation_errors
from tests.iiif.servers import ReferenceServer

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "watermark"
MODEL_DIR = REPO / "onnx_models" / MODEL_ID
SCHEMA = REPO / "annoserver" / "schemas" / "model-config.schema.json"
FIXTURES = {"watermarked.png": True, "clean_photo.png": False, "clean_page.png": False}


@pytest.fixture(scope="module")
def meta() -> dict:
    with open(MODEL_DIR / "model.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(MODEL_DIR / "model.onnx"), opts,
                                providers=["CPUExecutionProvider"])


def rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(MODEL_DIR / name), cv2.IMREAD_COLOR)
    assert bgr is not None, name
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def logit(session, image: np.ndarray) -> float:
    x = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    [[score]] = session.run(["score"], {"image": x.transpose(2, 0, 1)[None]})[0]
    return float(score)


def test_model_toml(meta):
    assert meta["kind"] == "watermark"
    assert meta["license"] == "Apache-2.0"
    assert meta["labels"] == "labels.txt"
    assert meta["input"]["size"] == [224, 224] and meta["input"]["resize"] == "stretch"
    assert meta["input"]["mean"] == [0.0, 0.0, 0.0] and meta["input"]["std"] == [1.0, 1.0, 1.0]
    assert meta["output"] == {"score": "score"}
    assert meta["options"] == {"activation": "sigmoid"}
    assert 0.0 < meta["thresholds"]["min_score"] < 1.0
    assert (MODEL_DIR / "labels.txt").read_text() == "watermark\n"


def test_model_toml_matches_schema(meta):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(meta, json.loads(SCHEMA.read_text()))


def test_sha256_matches_file(meta):
    assert hashlib.sha256((MODEL_DIR / "model.onnx").read_bytes()).hexdigest() == meta["sha256"]


def test_card_and_eval_report_the_shipped_file(meta):
    report = json.loads((MODEL_DIR / "eval.json").read_text())
    assert report["sha256"] == meta["sha256"]
    assert report["threshold"]["min_score"] == meta["thresholds"]["min_score"]
    test = report["results"]["test"]
    assert meta["quality"]["heldout_styles_roc_auc"] == test["roc_auc"]
    fresh = report["results"]["test_fresh"]
    assert meta["quality"]["heldout_styles_fresh_draw_roc_auc"] == fresh["roc_auc"]
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    assert meta["sha256"] in card and f"{test['roc_auc']:.3f}" in card
    assert f"{fresh['roc_auc']:.3f}" in card


def test_graph_signature(session):
    (inp,) = session.get_inputs()
    assert inp.name == "image" and inp.type == "tensor(float)"
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [3, 224, 224]
    (out,) = session.get_outputs()
    assert out.name == "score" and isinstance(out.shape[0], str) and out.shape[1:] == [1]


@pytest.mark.parametrize(("name", "watermarked"), FIXTURES.items())
def test_fixture_falls_on_its_side_of_the_threshold(session, meta, name, watermarked):
    p = meta["thresholds"]["min_score"]
    threshold = math.log(p / (1 - p))
    score = logit(session, rgb(name))
    assert (score >= threshold) == watermarked, (name, score, threshold)


def test_batch_of_three_equals_one_by_one(session):
    images = [rgb(name) for name in FIXTURES]
    x = np.stack([cv2.resize(im, (224, 224), interpolation=cv2.INTER_AREA) for im in images])
    batch = session.run(["score"], {"image": x.astype(np.float32).transpose(0, 3, 1, 2) / 255})[0]
    np.testing.assert_allclose(batch[:, 0], [logit(session, im) for im in images], atol=1e-4)


def test_plugin_tags_only_the_watermarked_fixture():
    inference = pytest.importorskip("annoserver.inference")
    from annoserver.inference.plugins import BUILTIN_PLUGINS_DIR

    manager = inference.get_plugin_manager(plugin_dirs=[BUILTIN_PLUGINS_DIR],
                                           load_entry_points=False)
    kinds = inference.model_kinds(manager)
    config = inference.load_model_config(MODEL_DIR, kinds)
    kind = kinds[config.kind](config, inference.ModelSession(config.onnx_path))
    results = kind.infer([rgb(name) for name in FIXTURES])
    assert all(isinstance(r, Labels) for r in results)
    marked, photo, page = results
    assert [label.label for label in marked] == ["watermark"]
    assert marked[0].score >= config.thresholds["min_score"]
    assert list(photo) == [] and list(page) == []


def test_analyze_tags_a_watermarked_image_served_over_iiif(tmp_path, settings):
    """/analyze through the IIIF reference server process: a tag for the watermarked image."""
    from annoserver.app import create_app

    images, models = tmp_path / "images", tmp_path / "models"
    images.mkdir()
    models.mkdir()
    for name in ("watermarked.png", "clean_page.png"):
        shutil.copy(MODEL_DIR / name, images / name)
    (models / MODEL_ID).symlink_to(MODEL_DIR, target_is_directory=True)
    canvas = {"id": "https://example.org/canvas/1", "width": 448, "height": 448}
    with ReferenceServer(images, tmp_path) as server:
        app = create_app({**settings, "MODELS_DIR": str(models), "ALLOWED_HOSTS": ["127.0.0.1"]})
        try:
            client = app.test_client()
            marked, page = (client.post("/analyze", json={
                "image": server.info_url("3.0", name.split(".")[0]), "models": [MODEL_ID],
                "canvas": canvas}) for name in ("watermarked.png", "clean_page.png"))
        finally:
            app.extensions["annoserver.db"].dispose()
    assert marked.status_code == 200, marked.get_data(as_text=True)
    assert page.status_code == 200, page.get_data(as_text=True)
    [annotation] = marked.get_json()["items"]
    assert annotation_errors({**annotation, "@context": marked.get_json()["@context"]}) == []
    assert annotation["motivation"] == "tagging"
    assert annotation["body"]["value"] == "watermark"
    assert 0.5 <= annotation["body"]["confidence"] <= 1
    assert annotation["target"]["source"]["id"] == canvas["id"]
    assert page.get_json()["items"] == []
