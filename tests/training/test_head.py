"""The numpy head, the split and the TOML writer: deterministic, stratified, round-tripping."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from annoserver.inference.model_folder import to_toml
from annoserver.training import HeadSettings, TrainingError, train_head
from annoserver.training.evaluation import evaluate, stratified_split, wilson_interval
from annoserver.training.folder import next_version


def _blobs(seed=0, per_class=40, dimension=64, classes=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, dimension))
    # Raw features on very different scales, as a backbone's are: standardisation matters.
    scale = rng.uniform(0.01, 100, dimension)
    x = np.concatenate([(c + rng.normal(0, 1, (per_class, dimension))) * scale
                        for c in centres]).astype(np.float32)
    return x, np.repeat(np.arange(classes), per_class)


def test_head_learns_and_is_deterministic():
    x, y = _blobs()
    train, test = stratified_split(y, 0.25, seed=3)
    first = train_head(x[train], y[train], 3, HeadSettings(seed=3))
    again = train_head(x[train], y[train], 3, HeadSettings(seed=3))
    assert np.array_equal(first.weight, again.weight) and np.array_equal(first.bias, again.bias)
    assert (first.predict(x[test]) == y[test]).mean() == 1.0
    probabilities = first.probabilities(x[test])
    assert np.allclose(probabilities.sum(axis=1), 1)
    # Standardisation is folded into one affine map on raw features (what the ONNX Gemm
    # applies): features rescaled and shifted give the same logits on the same inputs.
    moved = train_head(x[train] * 10 + 5, y[train], 3, HeadSettings(seed=3))
    assert np.allclose(moved.logits(x[test] * 10 + 5), first.logits(x[test]), atol=1e-3)


def test_split_is_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [10, 5, 2])
    train, test = stratified_split(y, 0.2, seed=0)
    assert sorted(np.bincount(y[test])) == [1, 1, 2]
    assert set(train) | set(test) == set(range(len(y))) and not set(train) & set(test)
    assert np.array_equal(test, stratified_split(y, 0.2, seed=0)[1])
    assert not np.array_equal(test, stratified_split(y, 0.2, seed=1)[1])
    with pytest.raises(TrainingError, match="'lonely' has 1 sample"):
        stratified_split([0, 0, 1], 0.2, 0, names=["many", "lonely"])
    with pytest.raises(TrainingError, match="--test-size"):
        stratified_split(y, 1.0, 0)


def test_evaluation_figures():
    truth, predicted = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    scores = np.array([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.2, 0.8]])
    figures = evaluate(truth, predicted, scores, ["a", "b"], min_score=0.58)
    assert figures["accuracy"] == 0.75
    assert figures["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667,
                                         "support": 2}
    assert figures["per_class"]["b"]["precision"] == 0.6667
    assert figures["confusion_matrix"]["counts"] == [[1, 1], [0, 2]]
    assert figures["coverage"] == 0.75 and figures["accuracy_covered"] == 0.6667
    low, high = wilson_interval(18, 18)
    assert 0.8 < low < 0.85 and high == 1.0


def test_toml_round_trips_and_versions_advance():
    document = {"kind": "classifier", "description": 'a "quoted" line\twith\\ tab \x7f é',
                "max_batch_size": 16, "input": {"size": [224, 224], "mean": [0.0, 0.5, 1e-05]},
                "thresholds": {"min_score": 0.5}, "quality": {"odd key": True}}
    assert tomllib.loads(to_toml(document, "header")) == document
    assert [next_version(v) for v in (None, "1.0.0", "2.9", "v")] == ["1.0.0", "1.0.1",
                                                                       "2.10", "v.1"]
