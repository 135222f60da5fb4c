"""Each built-in plugin on real ONNX Runtime outputs, against numpy on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from annoserver.inference import Box, Label, Labels, ModelSession, load_model_config
from tests.inference.conftest import CLASSIFIER_LABELS, MEAN, STD, header
from tests.inference.onnx_factory import (
    FEATURES,
    detector_model,
    linear_model,
    pixels,
    upscale_model,
    write_model,
)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def build(folder, kinds):
    config = load_model_config(folder, kinds)
    return kinds[config.kind](config, ModelSession(config.onnx_path))


def test_classifier_top_k_softmax(repo, kinds, weights, images):
    classifier = build(repo / "tiny-classifier", kinds)
    weight, bias = weights["logits"]
    results = classifier.infer(images)
    assert len(results) == len(images)
    for image, result in zip(images, results, strict=True):
        probs = softmax(pixels(image, MEAN, STD) @ weight + bias)
        best = np.argsort(-probs)[:2]
        assert isinstance(result, Labels) and len(result) == 2
        assert [label.label for label in result] == [CLASSIFIER_LABELS[i] for i in best]
        np.testing.assert_allclose([label.score for label in result], probs[best], rtol=1e-4)


def test_classifier_sigmoid_and_min_score(tmp_path, kinds, weights, images):
    weight, bias = weights["logits"]
    folder = write_model(tmp_path / "multi", linear_model({"logits": weights["logits"]}),
                         header("classifier") + "[thresholds]\nmin_score = 0.5\ntop_k = 3\n"
                         + '[options]\nactivation = "sigmoid"\n')
    for image, result in zip(images, build(folder, kinds).infer(images), strict=True):
        probs = 1 / (1 + np.exp(-(pixels(image) @ weight + bias)))
        expected = sorted(((p, str(i)) for i, p in enumerate(probs) if p >= 0.5), reverse=True)
        assert [(label.label) for label in result] == [name for _, name in expected]
        np.testing.assert_allclose([label.score for label in result],
                                   [p for p, _ in expected], rtol=1e-4)


def test_embedding_is_l2_normalised(repo, kinds, weights, images):
    weight, bias = weights["embedding"]
    for image, vector in zip(images, build(repo / "tiny-embedding", kinds).infer(images),
                             strict=True):
        raw = pixels(image) @ weight + bias
        assert vector.values.dtype == np.float32 and not vector.values.flags.writeable
        np.testing.assert_allclose(vector.values, raw / np.linalg.norm(raw), rtol=1e-4)


BOXES = np.array([[1, 1, 5, 5],     # class 0
                  [1.2, 1, 5, 5.2],  # class 0, overlaps box 0: NMS keeps the better one
                  [1, 1, 5, 5],     # class 1: same place, other class, kept
                  [6, 6, 8, 8],     # class 0, alone
                  [0, 0, 2, 2]], np.float32)  # score far below min_score
CLASSES = np.array([0, 0, 1, 0, 1])


@pytest.fixture
def detector(tmp_path, kinds, rng):
    weight = rng.normal(0, 0.02, (FEATURES, 5))
    bias = np.array([1.0, 1.0, 0.5, 2.0, -20.0])
    folder = write_model(tmp_path / "det", detector_model(BOXES, weight, bias, CLASSES),
                         header("detector", labels="labels.txt", max_batch_size=4)
                         + '[output]\nboxes = "boxes"\nscores = "scores"\nlabels = "classes"\n'
                         + "[thresholds]\nmin_score = 0.3\nnms_iou = 0.5\n",
                         labels=["text", "figure"])
    return build(folder, kinds), weight, bias


def test_detector_boxes_in_image_pixels_after_nms(detector):
    kind, weight, bias = detector
    colours = [(30, 60, 90), (250, 5, 128), (0, 0, 0)]
    images = [np.full((16, 16, 3), colour, np.uint8) for colour in colours]
    for colour, result in zip(colours, kind.infer(images), strict=True):
        small = np.full((8, 8, 3), colour, np.uint8)  # a uniform image resizes exactly
        scores = 1 / (1 + np.exp(-(pixels(small) @ weight + bias)))
        better = 0 if scores[0] >= scores[1] else 1
        kept = sorted([better, 2, 3], key=lambda i: -scores[i])
        expected = [Box(*(BOXES[i, :2] * 2), *((BOXES[i, 2:] - BOXES[i, :2]) * 2),
                        label=["text", "figure"][CLASSES[i]], score=scores[i]) for i in kept]
        assert len(result) == 3
        for got, want in zip(result, expected, strict=True):
            assert got.label == want.label
            np.testing.assert_allclose([got.x, got.y, got.w, got.h, got.score],
                                       [want.x, want.y, want.w, want.h, want.score], rtol=1e-4)


def test_detector_normalised_cxcywh_through_letterbox(tmp_path, kinds):
    boxes = np.array([[0.5, 0.5, 1.0, 0.5]], np.float32)  # the letterboxed picture area
    folder = write_model(tmp_path / "det", detector_model(boxes, np.zeros((FEATURES, 1)),
                                                          np.array([3.0]), np.array([0])),
                         header("detector") + '[input]\nresize = "letterbox"\n'
                         + '[output]\nboxes = "boxes"\nscores = "scores"\n'
                         + '[options]\nbox_format = "cxcywh"\nbox_units = "normalized"\n')
    [result] = build(folder, kinds).infer([np.zeros((8, 16, 3), np.uint8)])
    [box] = result
    np.testing.assert_allclose([box.x, box.y, box.w, box.h], [0, 0, 16, 8], atol=1e-5)
    assert box.label == "0" and box.score == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_superres_variable_size(tmp_path, kinds, rng):
    folder = write_model(tmp_path / "sr", upscale_model(2), header("superres"))
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(5, 7, 3), (3, 4, 3)]]
    for image, result in zip(images, build(folder, kinds).infer(images), strict=True):
        assert result.scale == 2.0
        np.testing.assert_array_equal(result.array, image.repeat(2, axis=0).repeat(2, axis=1))


def test_superres_letterbox_crops_the_padding(tmp_path, kinds, rng):
    folder = write_model(tmp_path / "sr", upscale_model(2),
                         header("superres") + '[input]\nsize = [8, 8]\nresize = "letterbox"\n')
    image = rng.integers(0, 256, (4, 8, 3), dtype=np.uint8)
    [result] = build(folder, kinds).infer([image])
    np.testing.assert_array_equal(result.array, image.repeat(2, axis=0).repeat(2, axis=1))


def test_watermark_threshold(tmp_path, kinds, rng, images):
    weight, bias = rng.normal(0, 0.3, (FEATURES, 1)), np.array([0.0])
    folder = write_model(tmp_path / "wm", linear_model({"score": (weight, bias)}),
                         header("watermark", labels="labels.txt", max_batch_size=8),
                         labels=["clean", "watermark"])
    for image, result in zip(images, build(folder, kinds).infer(images), strict=True):
        p = float(1 / (1 + np.exp(-(pixels(image) @ weight + bias)))[0])
        want = Label("watermark", p) if p >= 0.5 else Label("clean", 1 - p)
        [got] = result
        assert got.label == want.label and got.score == pytest.approx(want.score, rel=1e-4)
