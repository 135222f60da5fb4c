"""Built-in ``detector`` kind: boxes with labels and scores, after per-class NMS.

Output roles: ``boxes`` ([N, K, 4]), ``scores`` ([N, K] with ``labels`` [N, K] class ids, or
[N, K, C] per-class scores), optional ``count`` ([N] valid rows, for padded outputs).
``options.box_format`` is ``xyxy`` (default), ``xywh`` or ``cxcywh``; ``options.box_units``
``pixels`` of the model input (default) or ``normalized`` to [0, 1]. Thresholds:
``min_score`` (0.25), ``nms_iou`` (0.5), ``top_k`` (100 boxes per image).
"""

from __future__ import annotations

import numpy as np

from annoserver.inference import Box, Boxes, ModelKind, hookimpl
from annoserver.inference.ops import nms


def to_xyxy(boxes, box_format):
    if box_format == "xyxy":
        return boxes
    x, y, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    if box_format == "cxcywh":
        x, y = x - w / 2, y - h / 2
    elif box_format != "xywh":
        raise ValueError(f"unknown box_format {box_format!r} (xyxy, xywh, cxcywh)")
    return np.stack([x, y, x + w, y + h], axis=1)


class Detector(ModelKind):
    name = "detector"
    outputs = ("boxes", "scores")
    optional_outputs = ("labels", "count")

    def _classes_and_scores(self, outputs, n, k):
        scores = outputs["scores"].reshape(n, k, -1).astype(np.float64)
        if scores.shape[2] > 1:
            return scores.argmax(axis=2), scores.max(axis=2)
        classes = (outputs["labels"].reshape(n, k).astype(np.int64) if "labels" in outputs
                   else np.zeros((n, k), np.int64))
        return classes, scores[:, :, 0]

    def _input_size(self, meta):
        size = self.config.input.size
        if size is not None and self.config.input.resize != "longest-side":
            return size
        return round(meta.height * meta.scale_y), round(meta.width * meta.scale_x)

    def postprocess(self, outputs, metas):
        n = len(metas)
        boxes = outputs["boxes"].reshape(n, -1, 4).astype(np.float64)
        classes, scores = self._classes_and_scores(outputs, n, boxes.shape[1])
        counts = (outputs["count"].reshape(n).astype(int) if "count" in outputs
                  else [boxes.shape[1]] * n)
        return [self._one(boxes[i, :counts[i]], scores[i, :counts[i]], classes[i, :counts[i]],
                          meta) for i, meta in enumerate(metas)]

    def _one(self, boxes, scores, classes, meta):
        boxes = to_xyxy(boxes, self.option("box_format", "xyxy"))
        if self.option("box_units", "pixels") == "normalized":
            height, width = self._input_size(meta)
            boxes = boxes * [width, height, width, height]
        keep = scores >= self.threshold("min_score", 0.25)
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        kept = nms(boxes, scores, classes, self.threshold("nms_iou", 0.5),
                   int(self.threshold("top_k", 100)))
        found = []
        for i, (x1, y1, x2, y2) in zip(kept, meta.to_image(boxes[kept]), strict=True):
            if x2 > x1 and y2 > y1:
                found.append(Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1),
                                 self.label(int(classes[i])), float(scores[i])))
        return Boxes(found)


@hookimpl
def register_model_kinds():
    return [Detector]
