"""Regression tests for the shipped MTCNN face detector (onnx_models/mtcnn-faces).

torch-free: onnxruntime, numpy and OpenCV through annoserver's model loading and the
``faces`` plugin. The three graphs were exported by scripts/export_mtcnn.py from the
facenet-pytorch 2.6.0 wheel; the fixtures are scikit-image's ``astronaut`` (one frontal
face) and ``coffee`` (none), saved beside the model by that script. Detection only: nothing
here, or in the model, says whose face a box holds.
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
from click.testing import CliRunner

from annoserver.inference import Boxes, ModelConfigError, ModelSession, load_model_config, ops
from annoserver.inference.ops import nms
from annoserver.inference.plugins import BUILTIN_PLUGINS_DIR
from annoserver.validation import annotation_errors
from tests.iiif.servers import ReferenceServer

REPO = Path(__file__).resolve().parents[2]
MODEL_ID = "mtcnn-faces"
MODEL_DIR = REPO / "onnx_models" / MODEL_ID
SCHEMA = REPO / "annoserver" / "schemas" / "model-config.schema.json"
SHA256 = {"model.onnx": "313a27d0ca3ffcf06cf774b638fce3df634804e010a8a95aa07a8778088fbafb",
          "rnet.onnx": "8842307929663342b0ba5419864565919a85952b7c1c853fb052dac16265d0a8",
          "onet.onnx": "4c155fab0c822f2aa8c4fc27f9ef4b05d4073ab4d758a4ecdb20ca33b1da987d"}
# Measured on astronaut.jpg when the model was exported (x1, y1, x2, y2); the face boxed by
# hand is (172, 64, 266, 176).
ASTRONAUT_BOX = (180.0, 61.0, 268.0, 174.5)
HAND_BOX = (172, 64, 266, 176)


@pytest.fixture(scope="module")
def meta() -> dict:
    with open(MODEL_DIR / "model.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def kinds():
    from annoserver.inference import get_plugin_manager, model_kinds

    return model_kinds(get_plugin_manager(plugin_dirs=[BUILTIN_PLUGINS_DIR],
                                          load_entry_points=False))


@pytest.fixture(scope="module")
def detector(kinds):
    config = load_model_config(MODEL_DIR, kinds)
    graphs = {role: ModelSession(file.path) for role, file in config.files.items()}
    return kinds[config.kind](config, ModelSession(config.onnx_path), graphs)


def rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(MODEL_DIR / name), cv2.IMREAD_COLOR)
    assert bgr is not None, name
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def xyxy(box) -> tuple[float, float, float, float]:
    return (box.x, box.y, box.x + box.w, box.y + box.h)


def iou(a, b) -> float:
    """IoU of two ``x1, y1, x2, y2`` boxes, by the runtime's own function."""
    return float(ops.iou(np.asarray(a, float), np.asarray([b], float))[0])


def test_files_are_the_exported_ones(meta):
    for name, digest in SHA256.items():
        assert hashlib.sha256((MODEL_DIR / name).read_bytes()).hexdigest() == digest, name
    assert meta["sha256"] == SHA256["model.onnx"]
    assert meta["files"] == {"rnet": {"file": "rnet.onnx", "sha256": SHA256["rnet.onnx"]},
                             "onet": {"file": "onet.onnx", "sha256": SHA256["onet.onnx"]}}
    assert meta["kind"] == "faces" and meta["license"] == "MIT"
    assert "facenet-pytorch==2.6.0" in meta["source"]
    assert (MODEL_DIR / "labels.txt").read_text() == "face\n"
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(meta, json.loads(SCHEMA.read_text()))


def test_card_and_eval_report_the_shipped_files(meta):
    card = (MODEL_DIR / "MODEL_CARD.md").read_text("utf-8")
    assert all(digest in card for digest in SHA256.values())
    assert "MIT" in card and "no explicit license" in card
    assert "never identification" in card.lower()
    report = json.loads((MODEL_DIR / "eval.json").read_text())
    assert report["export"]["files"] == SHA256
    diffs = report["export"]["torch_vs_onnx_max_abs_diff"]
    assert max(v for net in diffs.values() for v in net.values()) < 1e-4
    evaluation, quality = report["evaluation"], meta["quality"]
    assert quality["collage_recall_iou50"] == evaluation["collages"]["recall_iou50"]
    assert quality["negative_false_alarms"] == evaluation["negatives"]["false_alarms"]
    assert f"{evaluation['collages']['recall_iou50']:.2f}" in card


def test_models_check_passes(tmp_path):
    from annoserver.cli import main

    (tmp_path / MODEL_ID).symlink_to(MODEL_DIR, target_is_directory=True)
    checked = CliRunner().invoke(main, ["models", "check", str(tmp_path)])
    assert checked.exit_code == 0, checked.output
    assert "0 error(s), 0 warning(s)" in checked.output


def test_a_model_without_its_onet_is_refused(tmp_path, kinds):
    folder = tmp_path / MODEL_ID
    shutil.copytree(MODEL_DIR, folder)
    toml = (folder / "model.toml").read_text()
    (folder / "model.toml").write_text(toml.replace('[files.onet]\nfile = "onet.onnx"\n'
                                                    f'sha256 = "{SHA256["onet.onnx"]}"\n', ""))
    with pytest.raises(ModelConfigError, match="files.onet"):
        load_model_config(folder, kinds)


def test_finds_the_astronaut_face(detector):
    [found] = detector.infer([rgb("astronaut.jpg")])
    assert isinstance(found, Boxes) and len(found) == 1
    [face] = found
    assert face.label == "face" and face.score >= 0.99
    np.testing.assert_allclose(xyxy(face), ASTRONAUT_BOX, atol=4)
    assert iou(xyxy(face), HAND_BOX) > 0.75


def test_a_photograph_without_people_has_no_face(detector):
    [found] = detector.infer([rgb("coffee.jpg")])
    assert list(found) == []
    grey = np.full((300, 400, 3), 128, np.uint8)
    assert list(detector.infer([grey])[0]) == []


def test_boxes_follow_a_large_image_brought_down(detector):
    """Past 1024 px the image is searched smaller; the box still comes in its own pixels."""
    big = cv2.resize(rgb("astronaut.jpg"), (1400, 1400), interpolation=cv2.INTER_CUBIC)
    [found] = detector.infer([big])
    assert len(found) == 1
    expected = np.array(ASTRONAUT_BOX) * 1400 / 512
    np.testing.assert_allclose(xyxy(found[0]), expected, atol=12)


def test_min_overlap_suppression_drops_a_box_inside_another():
    """MTCNN's last NMS compares with the smaller area: a box inside a larger one goes."""
    boxes = np.array([[0, 0, 100, 100], [10, 10, 50, 50]], float)
    scores, classes = np.array([0.9, 0.95]), np.zeros(2, int)
    assert nms(boxes, scores, classes, 0.7, 10) == [1, 0]
    assert nms(boxes, scores, classes, 0.7, 10, overlap="iom") == [1]


def test_analyze_tags_the_face_on_the_canvas(tmp_path, settings):
    """/analyze through the IIIF reference server process: one ``face`` tagging box."""
    from annoserver.app import create_app

    images, models = tmp_path / "images", tmp_path / "models"
    images.mkdir()
    models.mkdir()
    shutil.copy(MODEL_DIR / "astronaut.jpg", images / "astronaut.jpg")
    (models / MODEL_ID).symlink_to(MODEL_DIR, target_is_directory=True)
    canvas = {"id": "https://example.org/canvas/1", "width": 1024, "height": 1024}
    with ReferenceServer(images, tmp_path) as server:
        app = create_app({**settings, "MODELS_DIR": str(models), "ALLOWED_HOSTS": ["127.0.0.1"]})
        try:
            response = app.test_client().post("/analyze", json={
                "image": server.info_url("3.0", "astronaut"), "models": [MODEL_ID],
                "canvas": canvas})
        finally:
            app.extensions["annoserver.db"].dispose()
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_json()
    annotations = sorted(page["items"], key=lambda a: -a["body"]["confidence"])
    for annotation in annotations:
        assert annotation_errors({**annotation, "@context": page["@context"]}) == []
        assert annotation["motivation"] == "tagging"
        assert annotation["body"]["value"] == "face" and annotation["body"]["purpose"] == "tagging"
        assert annotation["creator"]["name"] == MODEL_ID
        assert annotation["target"]["source"]["id"] == canvas["id"]
    best, *others = annotations
    assert best["body"]["confidence"] >= 0.99
    x, y, w, h = map(int, best["target"]["selector"]["value"][5:].split(","))
    # canvas units are 2 x image pixels
    np.testing.assert_allclose((x, y, x + w, y + h), 2 * np.array(ASTRONAUT_BOX), atol=10)
    # The reference server re-encodes the JPEG (Pillow); that gave one more box, 0.87, on the
    # suit's collar ring (see the model card): anything else must score below the face.
    assert len(others) <= 1 and all(a["body"]["confidence"] < 0.9 for a in others)
