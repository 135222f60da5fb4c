"""Built-in ``faces`` kind: where the faces of an image are. Detection only, never identification.

The MTCNN cascade (Zhang et al., *Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks*, IEEE SPL 2016) run as facenet-pytorch runs it, on three ONNX graphs
and numpy, without torch:

1. P-Net (``model.onnx``, fully convolutional, any height × width) on an image pyramid: the
   first level makes ``options.min_face`` image pixels 12 px, each next level is
   ``options.scale_factor`` (0.709) smaller. Each output cell scoring ``thresholds.pnet``
   (0.6) or more is a 12 × 12 window, regressed to a candidate box; NMS (IoU 0.5) per level,
   then 0.7 across levels; candidates are made square.
2. R-Net (``files.rnet``, 24 × 24 crops) rescores them (``thresholds.rnet``, 0.7) and refines
   the boxes; NMS 0.7; squared again.
3. O-Net (``files.onet``, 48 × 48 crops) gives the final score (``thresholds.min_score``, 0.7)
   and a last refinement; NMS 0.7 measured over the smaller box, so a box inside another goes.

Crops reaching past the image edge are padded with black, as the original MTCNN code does
(facenet-pytorch clips them instead, which squashes faces cut by the edge). Pixels are RGB,
``(pixel / 255 - input.mean) / input.std`` (MTCNN's ``(x - 127.5) / 128``).

The image is searched at the size it is given, brought down to ``max(input.size)`` on its
longest side when larger: faces smaller than ``min_face`` pixels at that size are not looked
for. Results are :class:`Box` es labelled ``options.label`` ("face") in image pixels, best
first, at most ``thresholds.top_k`` (100). O-Net's five facial landmarks are not returned:
this kind says where a face is, nothing about whose it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from annoserver.inference import Box, Boxes, ModelKind, hookimpl
from annoserver.inference.ops import nms
from annoserver.inference.preprocessing import Transform, check_image, fit, opencv

#: A network of the cascade: an ``[N, 3, H, W]`` float32 batch in, ``(offsets, scores)`` out.
Net = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

CELL, STRIDE = 12, 2  # P-Net's window and output stride, in pyramid-level pixels
RNET_SIZE, ONET_SIZE = 24, 48
CROP_BATCH = 256  # crops per R-/O-Net run: bounds memory on crowded images


@dataclass(frozen=True)
class CascadeParams:
    """The cascade's settings; the defaults are facenet-pytorch's."""

    min_face: float = 20.0
    scale_factor: float = 0.709
    pnet: float = 0.6
    rnet: float = 0.7
    onet: float = 0.7
    top_k: int = 100



def normalise(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """RGB ``uint8`` H × W × 3 to float32 ``(pixel / 255 - mean) / std``, still H × W × 3."""
    scaled = image.astype(np.float32) * np.float32(1 / 255)
    return (scaled - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def pyramid(height: int, width: int, min_face: float, factor: float) -> list[float]:
    """Scales of the P-Net levels: the first maps ``min_face`` px to P-Net's 12 px window."""
    scale = CELL / min_face
    side = min(height, width) * scale
    scales = []
    while side >= CELL:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def _chw(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], np.float32)


def window_boxes(offsets: np.ndarray, scores: np.ndarray, scale: float,
                 threshold: float) -> np.ndarray:
    """P-Net cells scoring ``threshold`` or more, as image boxes.

    Args:
        offsets: ``[4, h, w]`` box regression of one level.
        scores: ``[h, w]`` face probability of one level.

    Returns:
        ``[K, 9]`` rows ``x1, y1, x2, y2, score, dx1, dy1, dx2, dy2`` in image pixels.
    """
    ys, xs = np.nonzero(scores >= threshold)
    cells = np.stack([xs, ys], axis=1).astype(np.float64)
    top_left = np.floor((STRIDE * cells + 1) / scale)
    bottom_right = np.floor((STRIDE * cells + CELL) / scale)
    return np.concatenate([top_left, bottom_right, scores[ys, xs, None],
                           offsets[:, ys, xs].T], axis=1)


def suppress(rows: np.ndarray, threshold: float, overlap: str = "iou",
             limit: int | None = None) -> list[int]:
    """Indices of the rows (``x1, y1, x2, y2, score, …``) non-maximum suppression keeps."""
    if not len(rows):
        return []
    return nms(rows[:, :4], rows[:, 4], np.zeros(len(rows), np.int64), threshold,
               limit or len(rows), overlap)


def regress(boxes: np.ndarray, offsets: np.ndarray, inclusive: bool) -> np.ndarray:
    """Move box corners by offsets in units of the box's side.

    ``inclusive`` counts sides as ``x2 - x1 + 1``, as MTCNN's R- and O-Net stages do (its
    P-Net stage does not).
    """
    sides = boxes[:, 2:4] - boxes[:, 0:2] + (1.0 if inclusive else 0.0)
    moved = boxes.copy()
    moved[:, 0:2] += offsets[:, 0:2] * sides
    moved[:, 2:4] += offsets[:, 2:4] * sides
    return moved


def square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square about its centre (the next network's input is square)."""
    squared = boxes.copy()
    sides = boxes[:, 2:4] - boxes[:, 0:2]
    longest = sides.max(axis=1)
    squared[:, 0:2] += (sides - longest[:, None]) / 2
    squared[:, 2:4] = squared[:, 0:2] + longest[:, None]
    return squared


def crops(image: np.ndarray, boxes: np.ndarray, size: int, pad: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Cut each box out of ``image`` (normalised H × W × 3), padded with ``pad`` past the edge.

    Corners are truncated to whole pixels and the crop spans ``trunc(x1) - 1`` to
    ``trunc(x2)``, facenet-pytorch's 1-based convention. Returns ``[K, 3, size, size]`` and
    which boxes had any area.
    """
    cv2 = opencv()
    height, width = image.shape[:2]
    corners = np.trunc(boxes[:, :4]).astype(np.int64)
    corners[:, 0:2] -= 1
    valid = (corners[:, 2] > corners[:, 0]) & (corners[:, 3] > corners[:, 1])
    out = np.empty((int(valid.sum()), 3, size, size), np.float32)
    for row, (x0, y0, x1, y1) in enumerate(corners[valid]):
        patch = np.empty((y1 - y0, x1 - x0, 3), np.float32)
        patch[...] = pad
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
        resized = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
        out[row] = resized.transpose(2, 0, 1)
    return out, valid


def _run_crops(net: Net, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    offsets, scores = [], []
    for start in range(0, len(batch), CROP_BATCH):
        chunk_offsets, chunk_scores = net(batch[start:start + CROP_BATCH])
        offsets.append(chunk_offsets.reshape(-1, 4))
        scores.append(chunk_scores.reshape(-1, 2)[:, 1])
    return np.concatenate(offsets).astype(np.float64), np.concatenate(scores).astype(np.float64)


def propose(image: np.ndarray, pnet: Net, params: CascadeParams) -> np.ndarray:
    """Stage 1: P-Net over the pyramid; ``[K, 5]`` squared candidates with their scores."""
    cv2 = opencv()
    height, width = image.shape[:2]
    found = []
    for scale in pyramid(height, width, params.min_face, params.scale_factor):
        size = (int(width * scale + 1), int(height * scale + 1))
        level = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        offsets, scores = pnet(_chw(level))
        rows = window_boxes(offsets[0].astype(np.float64), scores[0, 1].astype(np.float64),
                            scale, params.pnet)
        found.append(rows[suppress(rows, 0.5)])
    rows = np.concatenate(found) if found else np.empty((0, 9))
    rows = rows[suppress(rows, 0.7)]
    if not len(rows):
        return np.empty((0, 5))
    boxes = regress(rows[:, :4], rows[:, 5:9], inclusive=False)
    return square(np.concatenate([boxes, rows[:, 4:5]], axis=1))


def refine(image: np.ndarray, boxes: np.ndarray, net: Net, size: int, threshold: float,
           pad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stage 2 or 3: rescore ``boxes`` on ``size`` crops; kept rows (old boxes, new scores)
    and their offsets."""
    batch, valid = crops(image, boxes, size, pad)
    boxes = boxes[valid]
    if not len(boxes):
        return np.empty((0, 5)), np.empty((0, 4))
    offsets, scores = _run_crops(net, batch)
    passed = scores > threshold
    return (np.concatenate([boxes[passed, :4], scores[passed, None]], axis=1),
            offsets[passed])


def detect_faces(image: np.ndarray, pnet: Net, rnet: Net, onet: Net, params: CascadeParams,
                 pad: np.ndarray) -> np.ndarray:
    """The whole cascade on one normalised H × W × 3 image.

    ``pad`` is the normalised value of a black pixel. Returns ``[K, 5]`` rows ``x1, y1, x2,
    y2, score`` in the image's pixels (not clipped), best first.
    """
    boxes = propose(image, pnet, params)
    if len(boxes):
        boxes, offsets = refine(image, boxes, rnet, RNET_SIZE, params.rnet, pad)
        kept = suppress(boxes, 0.7)
        boxes = square(regress(boxes[kept], offsets[kept], inclusive=True))
    if len(boxes):
        boxes, offsets = refine(image, boxes, onet, ONET_SIZE, params.onet, pad)
        boxes = regress(boxes, offsets, inclusive=True)
        boxes = boxes[suppress(boxes, 0.7, "iom", params.top_k)]
    return boxes.reshape(-1, 5)


class Faces(ModelKind):
    name = "faces"
    outputs = ("offsets", "scores")  # P-Net's, in model.onnx

    @classmethod
    def check_config(cls, config):
        problems = []
        for role, side in (("rnet", RNET_SIZE), ("onet", ONET_SIZE)):
            file = config.files.get(role)
            if file is None:
                problems.append(f"files.{role}: kind 'faces' needs the MTCNN {role} graph")
            elif len(file.graph.inputs) != 1 or file.graph.inputs[0].shape[1:] != (3, side,
                                                                                     side):
                problems.append(f"files.{role}: expected one [N, 3, {side}, {side}] input")
            elif {"offsets", "scores"} - {o.name for o in file.graph.outputs}:
                problems.append(f"files.{role}: needs 'offsets' and 'scores' outputs")
        if config.input.size is not None and config.input.resize != "longest-side":
            problems.append("input.resize: kind 'faces' needs 'longest-side' (or no size)")
        return problems

    @classmethod
    def serves(cls, config):
        # Another model's "offsets"/"scores" outputs do not make it an MTCNN cascade.
        return super().serves(config) and {"rnet", "onet"} <= set(config.files)

    @property
    def stackable(self):
        return False

    def params(self) -> CascadeParams:
        default = CascadeParams()
        return CascadeParams(min_face=float(self.option("min_face", default.min_face)),
                             scale_factor=float(self.option("scale_factor",
                                                            default.scale_factor)),
                             pnet=self.threshold("pnet", default.pnet),
                             rnet=self.threshold("rnet", default.rnet),
                             onet=self.threshold("min_score", default.onet),
                             top_k=int(self.threshold("top_k", default.top_k)))

    def _net(self, role: str | None) -> Net:
        if role is None:
            session, name = self.session, self.config.input.name
            wanted = [self.roles["offsets"], self.roles["scores"]]
        else:
            session = self.graphs[role]
            name, wanted = self.config.files[role].graph.inputs[0].name, ["offsets", "scores"]

        def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            offsets, scores = session.run(wanted, {name: batch})
            return offsets, scores

        return run

    def run(self, images):
        return [self.detect(check_image(image)) for image in images]

    def detect(self, image: np.ndarray) -> Boxes:
        """The faces of one RGB image, in its pixels, best first."""
        spec = self.config.input
        height, width = image.shape[:2]
        meta = Transform(width, height)
        if spec.size is not None and max(height, width) > max(spec.size):
            image, meta = fit(image, spec.size, "longest-side")
        rows = detect_faces(normalise(image, spec.mean, spec.std), self._net(None),
                            self._net("rnet"), self._net("onet"), self.params(),
                            normalise(np.zeros((1, 1, 3), np.uint8), spec.mean, spec.std)[0, 0])
        label = str(self.option("label", "face"))
        found = []
        for (x1, y1, x2, y2), score in zip(meta.to_image(rows[:, :4]), rows[:, 4], strict=True):
            if x2 > x1 and y2 > y1:
                found.append(Box(float(x1), float(y1), float(x2 - x1), float(y2 - y1), label,
                                 float(score)))
        return Boxes(sorted(found, key=lambda box: -box.score))


@hookimpl
def register_model_kinds():
    return [Faces]
