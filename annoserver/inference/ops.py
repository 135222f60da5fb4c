"""Small numeric helpers plugins share: activations, normalisation, non-maximum suppression."""

from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``."""
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, without overflow warnings for large negative inputs."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    """Apply ``softmax``, ``sigmoid`` or ``none`` to the last axis of ``x``."""
    if activation == "softmax":
        return softmax(np.asarray(x, dtype=np.float64))
    if activation == "sigmoid":
        return sigmoid(x)
    if activation == "none":
        return np.asarray(x, dtype=np.float64)
    raise ValueError(f"unknown activation {activation!r} (softmax, sigmoid, none)")


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Scale vectors along ``axis`` to unit length (zero vectors stay zero)."""
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def _intersection(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    return (x2 - x1).clip(0) * (y2 - y1).clip(0)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``x1, y1, x2, y2`` box with each of ``boxes``."""
    inter = _intersection(box, boxes)
    return inter / np.maximum(_areas(box) + _areas(boxes) - inter, 1e-12)


def iom(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over the smaller area: 1 for a box lying inside another.

    Cascades such as MTCNN suppress with it last, so a small box found inside a larger one
    (a face's eye region inside the face) goes, which IoU alone lets through.
    """
    inter = _intersection(box, boxes)
    return inter / np.maximum(np.minimum(_areas(box), _areas(boxes)), 1e-12)


OVERLAPS = {"iou": iou, "iom": iom}


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float,
        limit: int, overlap: str = "iou") -> list[int]:
    """Greedy per-class non-maximum suppression; indices of kept boxes, best first.

    ``overlap`` is how two boxes are compared against ``iou_threshold``: ``iou`` or ``iom``
    (intersection over the smaller area, see :func:`iom`).
    """
    measure = OVERLAPS[overlap]
    order = list(np.argsort(-scores, kind="stable"))
    kept: list[int] = []
    while order and len(kept) < limit:
        best, order = order[0], order[1:]
        kept.append(int(best))
        if not order:
            break
        rest = np.asarray(order)
        overlaps = measure(boxes[best], boxes[rest])
        suppressed = (overlaps > iou_threshold) & (classes[rest] == classes[best])
        order = list(rest[~suppressed])
    return kept
