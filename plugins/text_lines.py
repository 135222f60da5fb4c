"""Built-in ``text-lines`` kind: a DB (differentiable binarization) text detector.

The model gives a text probability map (role ``probability``, [N, 1, H, W], values in [0, 1],
the same size as its input or a fixed fraction of it). Following Liao et al., *Real-time Scene
Text Detection with Differentiable Binarization* (AAAI 2020), the map is binarised, each
connected region becomes a minimum-area rectangle, the rectangle is scored by the mean
probability inside it, and it is grown back ("unclipped") by ``area * ratio / perimeter`` on
every side, because the network was trained to predict shrunk text kernels. Results are
axis-aligned :class:`Box` es in image pixels, best first.

Input: sides are rounded to multiples of 32 (what the network's strides need); with
``resize = "longest-side"`` the longest side is brought to ``max(size)``, never enlarged unless
``options.upscale`` is true. Thresholds: ``min_score`` (box score, 0.5), ``min_size`` (shorter
side of a kernel rectangle in map pixels, 3), ``top_k`` (1000 candidate regions). Options:
``binarize`` (0.3), ``unclip_ratio`` (1.5), ``dilate`` (false; true: a 2 × 2 dilation that joins
broken kernels, as RapidOCR does), ``label`` ("text line"), ``upscale`` (false).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annoserver.inference import Box, Boxes, ModelKind, hookimpl
from annoserver.inference.preprocessing import check_image, fit, to_tensor

STRIDE = 32


def _cv2():
    # Imported on first use, not with the plugin: the IIIF client sets
    # OPENCV_IO_MAX_IMAGE_PIXELS before cv2 is first imported (see preprocessing._resize).
    import cv2

    return cv2


@dataclass(frozen=True)
class DBParams:
    binarize: float = 0.3
    box_thresh: float = 0.5
    unclip_ratio: float = 1.5
    min_size: float = 3.0
    max_candidates: int = 1000
    dilate: bool = False


def unclip(rect, ratio):
    """Grow a ``cv2.minAreaRect`` by ``area * ratio / perimeter`` on every side."""
    (cx, cy), (w, h), angle = rect
    perimeter = 2.0 * (w + h)
    distance = w * h * ratio / perimeter if perimeter > 0 else 0.0
    return (cx, cy), (w + 2 * distance, h + 2 * distance), angle


def rect_score(prob, rect):
    """Mean probability inside a (rotated) rectangle of the map."""
    cv2 = _cv2()
    corners = cv2.boxPoints(rect)
    height, width = prob.shape
    x0 = int(np.clip(np.floor(corners[:, 0].min()), 0, width - 1))
    x1 = int(np.clip(np.ceil(corners[:, 0].max()), 0, width - 1))
    y0 = int(np.clip(np.floor(corners[:, 1].min()), 0, height - 1))
    y1 = int(np.clip(np.ceil(corners[:, 1].max()), 0, height - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [np.round(corners - [x0, y0]).astype(np.int32)], 1)
    window = prob[y0:y1 + 1, x0:x1 + 1]
    return float(window[mask > 0].mean()) if mask.any() else 0.0


def db_boxes(prob, params=DBParams()):
    """Text boxes of one probability map: ``[K, 5]`` rows ``x1, y1, x2, y2, score`` (map pixels).

    Boxes are axis-aligned hulls of the unclipped rotated rectangles, clipped to the map.
    """
    cv2 = _cv2()
    prob = np.asarray(prob, np.float32)
    height, width = prob.shape
    bitmap = (prob > params.binarize).astype(np.uint8)
    if params.dilate:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    rows = []
    for contour in contours[:params.max_candidates]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < params.min_size:
            continue
        score = rect_score(prob, rect)
        if score < params.box_thresh:
            continue
        grown = unclip(rect, params.unclip_ratio)
        if min(grown[1]) < params.min_size + 2:
            continue
        corners = cv2.boxPoints(grown)
        x1, y1 = corners.min(axis=0).clip(0, [width, height])
        x2, y2 = corners.max(axis=0).clip(0, [width, height])
        if x2 > x1 and y2 > y1:
            rows.append((x1, y1, x2, y2, score))
    return np.array(rows, np.float64).reshape(-1, 5)


def network_size(height, width, longest=None, upscale=False):
    """The input size (multiples of 32) for an image, its longest side brought to ``longest``."""
    scale = 1.0
    if longest is not None and (upscale or max(height, width) > longest):
        scale = longest / max(height, width)
    return (max(STRIDE, round(height * scale / STRIDE) * STRIDE),
            max(STRIDE, round(width * scale / STRIDE) * STRIDE))


class TextLines(ModelKind):
    name = "text-lines"
    outputs = ("probability",)

    @classmethod
    def check_config(cls, config):
        spec = config.input
        if spec.size is not None and spec.resize != "longest-side":
            return [f"input.resize: kind 'text-lines' needs 'longest-side' (or no size), "
                    f"not {spec.resize!r}"]
        return []

    @property
    def stackable(self):
        return False

    def params(self):
        return DBParams(binarize=float(self.option("binarize", 0.3)),
                        box_thresh=self.threshold("min_score", 0.5),
                        unclip_ratio=float(self.option("unclip_ratio", 1.5)),
                        min_size=self.threshold("min_size", 3.0),
                        max_candidates=int(self.threshold("top_k", 1000)),
                        dilate=bool(self.option("dilate", False)))

    def preprocess(self, images):
        spec = self.config.input
        longest = max(spec.size) if spec.size is not None else None
        upscale = bool(self.option("upscale", False))
        fitted = []
        for image in images:
            height, width = check_image(image).shape[:2]
            fitted.append(fit(image, network_size(height, width, longest, upscale), "stretch"))
        tensor = to_tensor([f[0] for f in fitted], spec.color, spec.mean, spec.std,
                           spec.layout, spec.dtype)
        return {spec.name: tensor}, [f[1] for f in fitted]

    def postprocess(self, outputs, metas):
        maps = outputs["probability"]
        maps = maps.reshape(len(metas), maps.shape[-2], maps.shape[-1])
        params, label = self.params(), str(self.option("label", "text line"))
        results = []
        for prob, meta in zip(maps, metas, strict=True):
            rows = db_boxes(prob, params)
            # The map may be smaller than the input (a stride); bring it to input pixels.
            in_w, in_h = meta.width * meta.scale_x, meta.height * meta.scale_y
            rows[:, 0:4:2] *= in_w / prob.shape[1]
            rows[:, 1:4:2] *= in_h / prob.shape[0]
            rows = rows[np.argsort(-rows[:, 4], kind="stable")]
            found = []
            for (x1, y1, x2, y2), score in zip(meta.to_image(rows[:, :4]), rows[:, 4],
                                               strict=True):
                if x2 > x1 and y2 > y1:
                    found.append(Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1),
                                     label, float(score)))
            results.append(Boxes(found))
        return results


@hookimpl
def register_model_kinds():
    return [TextLines]
