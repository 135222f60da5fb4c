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

Built-in ``recognizer`` kind: find the text lines of an image, then read each one.

A pipeline of two graphs (see ``[files]`` in model.toml): the ``detector`` graph is a DB text
detector, post-processed as above, run on a copy whose longest side is
``options.detect_size`` (960); ``model.onnx`` is a CTC recogniser (role ``characters``,
``[N, T, C]`` per-step class probabilities) that reads each line *from the full pixels it was
given*, so small print keeps its detail. Each line is cut out along its rotated rectangle and
straightened (turned upright when much taller than wide: a skewed page's lines then stay clear
of their neighbours), resized to the recogniser's height (48) keeping its aspect, and lines of
similar width are batched (``max_batch_size``) with zero padding on the right, as PaddleOCR
does.

Greedy CTC decoding: the best class per step, repeats merged, blanks (class 0) dropped; the
labels file is the dictionary (class ``i`` is line ``i - 1``; the last class is a space). A
line's confidence is the mean probability of the characters kept.

Results are :class:`Box` es with ``text`` — image pixels, best first — which become
``supplementing`` annotations. Thresholds: ``min_score`` (line confidence, 0.5),
``min_line_score`` (detector box score, 0.5), ``top_k`` (1000). Options: ``detect_size``,
``binarize``, ``unclip_ratio``, ``dilate`` (as for ``text-lines``), ``label``, ``max_width``
(widest line image, 3200 px: longer lines are squeezed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from annoserver.inference import Box, Boxes, ModelKind, hookimpl
from annoserver.inference.preprocessing import Transform, check_image, fit, opencv, to_tensor

STRIDE = 32



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
    cv2 = opencv()
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


def db_regions(prob, params=DBParams()):
    """Text regions of one probability map: ``[K, 4, 2]`` corners of the unclipped rotated
    rectangles (map pixels, not clipped) and ``[K]`` scores."""
    cv2 = opencv()
    prob = np.asarray(prob, np.float32)
    bitmap = (prob > params.binarize).astype(np.uint8)
    if params.dilate:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    quads, scores = [], []
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
        quads.append(cv2.boxPoints(grown))
        scores.append(score)
    return np.array(quads, np.float64).reshape(-1, 4, 2), np.array(scores, np.float64)


def db_boxes(prob, params=DBParams()):
    """Text boxes of one probability map: ``[K, 5]`` rows ``x1, y1, x2, y2, score`` (map pixels).

    Boxes are axis-aligned hulls of the unclipped rotated rectangles, clipped to the map.
    """
    height, width = np.shape(prob)
    quads, scores = db_regions(prob, params)
    rows = np.concatenate([quads.min(axis=1).clip(0, [width, height]),
                           quads.max(axis=1).clip(0, [width, height]), scores[:, None]], axis=1)
    return rows[(rows[:, 2] > rows[:, 0]) & (rows[:, 3] > rows[:, 1])]


def image_rows(rows: np.ndarray, map_shape: tuple[int, ...], meta: Transform) -> np.ndarray:
    """Map :func:`db_boxes` rows from map pixels to the pixels of the image ``meta`` fitted.

    The map may be smaller than the network input (a stride), so it is scaled to the input
    first; scores are kept.
    """
    rows = rows.copy()
    in_w, in_h = meta.width * meta.scale_x, meta.height * meta.scale_y
    rows[:, 0:4:2] *= in_w / map_shape[1]
    rows[:, 1:4:2] *= in_h / map_shape[0]
    rows[:, :4] = meta.to_image(rows[:, :4])
    return rows


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
            rows = image_rows(db_boxes(prob, params), prob.shape, meta)
            rows = rows[np.argsort(-rows[:, 4], kind="stable")]
            found = []
            for (x1, y1, x2, y2), score in zip(rows[:, :4], rows[:, 4], strict=True):
                if x2 > x1 and y2 > y1:
                    found.append(Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1),
                                     label, float(score)))
            results.append(Boxes(found))
        return results


# PP-OCR's detectors take BGR with ImageNet normalisation; the recogniser takes [-1, 1].
DETECTOR_MEAN, DETECTOR_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LINE_HEIGHT = 48
MIN_WIDTH = 320  # PaddleOCR pads every batch to at least this width


def ctc_greedy(probs: np.ndarray, alphabet: tuple[str, ...]) -> list[tuple[str, float]]:
    """Decode ``[N, T, C]`` CTC probabilities: text and mean character confidence per row.

    Class 0 is the blank, class ``i`` is ``alphabet[i - 1]``, and the last class (one past
    the alphabet) is a space, PaddleOCR's convention.
    """
    best, conf = probs.argmax(axis=2), probs.max(axis=2)
    decoded = []
    for classes, scores in zip(best, conf, strict=True):
        keep = classes != 0
        keep[1:] &= classes[1:] != classes[:-1]
        text = "".join(alphabet[c - 1] if c <= len(alphabet) else " " for c in classes[keep])
        decoded.append((text, float(scores[keep].mean()) if keep.any() else 0.0))
    return decoded


def line_image(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Cut the rotated rectangle ``quad`` (4 corners) out of ``image``, straightened; turned
    upright when much taller than wide. Skewed lines stay clear of their neighbours."""
    cv2 = opencv()
    total, diff = quad.sum(axis=1), quad[:, 1] - quad[:, 0]
    corners = quad[[total.argmin(), diff.argmin(), total.argmax(), diff.argmax()]]  # tl tr br bl
    width = max(1, round(np.linalg.norm(corners[1] - corners[0])))
    height = max(1, round(np.linalg.norm(corners[3] - corners[0])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    crop = cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)
    return np.rot90(crop) if height >= 1.5 * width else crop


class Recognizer(ModelKind):
    name = "recognizer"
    outputs = ("characters",)

    @classmethod
    def check_config(cls, config):
        problems = []
        if "detector" not in config.files:
            problems.append("files.detector: kind 'recognizer' needs a text detector graph")
        if config.input.size is not None and config.input.resize != "longest-side":
            problems.append("input.resize: kind 'recognizer' needs 'longest-side'")
        classes = config.outputs["characters"].shape[-1]
        if classes is not None and classes != len(config.labels) + 2:
            problems.append(f"labels: {len(config.labels)} characters, but the recogniser has "
                            f"{classes} classes (blank + characters + space)")
        return problems

    @property
    def stackable(self):
        return False

    def run(self, images):
        return [self.read(check_image(image)) for image in images]

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lines of ``image``: ``[K, 4, 2]`` rotated-rectangle corners in its pixels, scores."""
        height, width = image.shape[:2]
        size = network_size(height, width, int(self.option("detect_size", 960)))
        fitted, meta = fit(image, size, "stretch")
        tensor = to_tensor([fitted], "BGR", DETECTOR_MEAN, DETECTOR_STD, "NCHW", np.float32)
        session = self.graphs["detector"].session
        [prob] = session.run(None, {session.get_inputs()[0].name: tensor})
        prob = prob.reshape(prob.shape[-2:])
        params = DBParams(binarize=float(self.option("binarize", 0.3)),
                          box_thresh=self.threshold("min_line_score", 0.5),
                          unclip_ratio=float(self.option("unclip_ratio", 1.6)),
                          max_candidates=int(self.threshold("top_k", 1000)),
                          dilate=bool(self.option("dilate", True)))
        quads, scores = db_regions(prob, params)
        # map pixels -> network input -> image pixels (a stretch fit has no offset)
        quads[..., 0] *= size[1] / prob.shape[1] / meta.scale_x
        quads[..., 1] *= size[0] / prob.shape[0] / meta.scale_y
        return quads, scores

    def recognise(self, lines: list[np.ndarray]) -> list[tuple[str, float]]:
        """Read line images (RGB); lines of similar width share a session run."""
        cv2 = opencv()
        max_width = int(self.option("max_width", 3200))
        widths = [min(max_width, max(1, math.ceil(LINE_HEIGHT * w / h)))
                  for h, w in (line.shape[:2] for line in lines)]
        order = np.argsort(widths, kind="stable")
        spec, limit = self.config.input, self.config.batch_limit
        results: list[tuple[str, float]] = [("", 0.0)] * len(lines)
        for start in range(0, len(lines), limit):
            chunk = order[start:start + limit]
            batch_width = max(MIN_WIDTH, max(widths[i] for i in chunk))
            batch = np.zeros((len(chunk), 3, LINE_HEIGHT, batch_width), np.float32)
            for row, i in enumerate(chunk):
                resized = cv2.resize(np.ascontiguousarray(lines[i]), (widths[i], LINE_HEIGHT),
                                     interpolation=cv2.INTER_LINEAR)
                batch[row, :, :, :widths[i]] = to_tensor([resized], spec.color, spec.mean,
                                                         spec.std, "NCHW", np.float32)[0]
            [probs] = self.session.run([self.roles["characters"]], {spec.name: batch})
            for i, decoded in zip(chunk, ctc_greedy(probs, self.config.labels), strict=True):
                results[i] = decoded
        return results

    def read(self, image: np.ndarray) -> Boxes:
        """The lines of one image with their text, best first."""
        quads, _ = self.detect(image)
        if not len(quads):
            return Boxes()
        read = self.recognise([line_image(image, quad) for quad in quads])
        height, width = image.shape[:2]
        hulls = np.concatenate([quads.min(axis=1).clip(0, [width, height]),
                                quads.max(axis=1).clip(0, [width, height])], axis=1)
        label, min_score = str(self.option("label", "text line")), self.threshold("min_score", 0.5)
        found = [Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1), label, score,
                     text.strip())
                 for (x1, y1, x2, y2), (text, score) in zip(hulls, read, strict=True)
                 if text.strip() and score >= min_score and x2 > x1 and y2 > y1]
        return Boxes(sorted(found, key=lambda box: -box.score))


@hookimpl
def register_model_kinds():
    return [TextLines, Recognizer]
