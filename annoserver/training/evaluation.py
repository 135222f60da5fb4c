"""The held-out split and what is measured on it: accuracy, precision/recall, confusion matrix.

The split is stratified (every class keeps its share in both parts) and drawn from the seed
alone, before any pixel is fetched, so the same data and seed give the same split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from annoserver.training.errors import TrainingError


def stratified_split(labels: Sequence[int], test_size: float, seed: int,
                     names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and held-out parts; each class has at least one in each.

    Raises:
        TrainingError: ``test_size`` is not in (0, 1), or a class has fewer than 2 samples.
    """
    if not 0 < test_size < 1:
        raise TrainingError(f"--test-size is a fraction between 0 and 1, not {test_size}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            name = names[int(label)] if names is not None else int(label)
            raise TrainingError(f"class {name!r} has {len(members)} sample: at least 2 are "
                                "needed (one to train on, one to test)")
        members = rng.permutation(members)
        held = min(max(1, round(test_size * len(members))), len(members) - 1)
        test.extend(members[:held])
        train.extend(members[held:])
    return np.sort(np.asarray(train, int)), np.sort(np.asarray(test, int))


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def wilson_interval(successes: int, total: int, z: float = 1.96) -> list[float]:
    """95 % Wilson score interval of a proportion (honest for small held-out sets)."""
    if not total:
        return [0.0, 0.0]
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)]


def evaluate(truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray,
             labels: Sequence[str], min_score: float) -> dict[str, Any]:
    """Held-out figures, JSON-ready, rounded to 4 places (what the card and CLI show).

    ``coverage`` is the share of images whose best score reaches ``min_score`` (the others
    get no annotation from the server), ``accuracy_covered`` the accuracy among those.
    """
    classes = len(labels)
    matrix = np.zeros((classes, classes), int)
    np.add.at(matrix, (truth, predicted), 1)
    per_class = {}
    for index, label in enumerate(labels):
        hits = int(matrix[index, index])
        precision = _ratio(hits, int(matrix[:, index].sum()))
        recall = _ratio(hits, int(matrix[index].sum()))
        f1 = round(2 * precision * recall / (precision + recall), 4) if hits else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1,
                            "support": int(matrix[index].sum())}
    covered = scores.max(axis=1) >= min_score
    correct = truth == predicted
    return {
        "images": int(len(truth)),
        "accuracy": _ratio(int(correct.sum()), len(truth)),
        "accuracy_95ci": wilson_interval(int(correct.sum()), len(truth)),
        "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])), 4),
        "per_class": per_class,
        "confusion_matrix": {"labels": list(labels), "rows": "true class",
                             "columns": "predicted class", "counts": matrix.tolist()},
        "min_score": min_score,
        "coverage": _ratio(int(covered.sum()), len(truth)),
        "accuracy_covered": _ratio(int((correct & covered).sum()), int(covered.sum())),
    }
