"""Turning RGB images into model input tensors, and mapping model coordinates back.

Every resize records a :class:`Transform` (image → model pixels: a scale and an offset per
axis) so plugins can report results in the pixel coordinates of the image they were given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annoserver.inference.errors import InvalidImage


@dataclass(frozen=True)
class Transform:
    """How one image was mapped into the model input: ``model = image * scale + offset``."""

    width: int
    height: int
    scale_x: float = 1.0
    scale_y: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_image(self, xyxy: np.ndarray) -> np.ndarray:
        """Map ``[..., 4]`` model-pixel boxes ``x1, y1, x2, y2`` to image pixels, clipped."""
        boxes = np.asarray(xyxy, dtype=np.float64).copy()
        boxes[..., 0::2] = (boxes[..., 0::2] - self.offset_x) / self.scale_x
        boxes[..., 1::2] = (boxes[..., 1::2] - self.offset_y) / self.scale_y
        boxes[..., 0::2] = boxes[..., 0::2].clip(0, self.width)
        boxes[..., 1::2] = boxes[..., 1::2].clip(0, self.height)
        return boxes


def check_image(image: object) -> np.ndarray:
    """Return ``image`` if it is an ``H × W × 3`` ``uint8`` array; raise :class:`InvalidImage`."""
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3 and image.shape[0] > 0 and image.shape[1] > 0):
        shape = getattr(image, "shape", None)
        raise InvalidImage(f"expected an H×W×3 uint8 RGB image, got {type(image).__name__} "
                           f"{shape} {getattr(image, 'dtype', '')}".rstrip())
    return image


def opencv():  # noqa: ANN201 - the cv2 module
    """``cv2``, imported on first use, never with the runtime or a plugin.

    The IIIF client sets ``OPENCV_IO_MAX_IMAGE_PIXELS`` before cv2 is first imported, and
    OpenCV reads it once; kinds call this rather than importing cv2 at module level.
    """
    import cv2

    return cv2


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    cv2 = opencv()
    if (image.shape[1], image.shape[0]) == (width, height):
        return image
    shrinking = width < image.shape[1] and height < image.shape[0]
    return cv2.resize(image, (width, height),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def fit(image: np.ndarray, size: tuple[int, int] | None, mode: str,
        pad_value: int = 0) -> tuple[np.ndarray, Transform]:
    """Resize ``image`` for a model input of ``size`` = (height, width) using ``mode``.

    Modes: ``stretch`` (ignore aspect), ``letterbox`` (fit inside, pad the rest, centred),
    ``shorter-side-crop`` (cover, crop the centre), ``longest-side`` (longest side becomes
    ``max(size)``, no padding: for variable-size inputs). ``size=None`` keeps the image size.
    """
    height, width = image.shape[:2]
    if size is None:
        return image, Transform(width, height)
    out_h, out_w = size
    if mode == "stretch":
        return _resize(image, out_w, out_h), Transform(width, height, out_w / width, out_h / height)
    if mode == "longest-side":
        scale = max(size) / max(width, height)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        return _resize(image, new_w, new_h), Transform(width, height, new_w / width, new_h / height)
    scale = (min if mode == "letterbox" else max)(out_w / width, out_h / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = _resize(image, new_w, new_h)
    left, top = (out_w - new_w) // 2, (out_h - new_h) // 2
    canvas = np.full((out_h, out_w, 3), pad_value, dtype=np.uint8)
    # Letterbox pastes inside (left, top >= 0); crop pastes a window of a larger image.
    src = resized[max(0, -top):max(0, -top) + out_h, max(0, -left):max(0, -left) + out_w]
    canvas[max(0, top):max(0, top) + src.shape[0], max(0, left):max(0, left) + src.shape[1]] = src
    return canvas, Transform(width, height, new_w / width, new_h / height, left, top)


def to_tensor(images: list[np.ndarray], color: str, mean: tuple[float, ...],
              std: tuple[float, ...], layout: str, dtype: np.dtype) -> np.ndarray:
    """Stack equally sized RGB ``uint8`` images into a batch tensor.

    Float inputs get ``(pixel / 255 - mean) / std``; ``uint8`` inputs get raw pixels.
    """
    batch = np.stack(images)
    if color == "BGR":
        batch = batch[..., ::-1]
    if np.dtype(dtype) != np.uint8:
        batch = batch.astype(np.float32) * np.float32(1 / 255)
        batch = (batch - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        batch = batch.astype(dtype, copy=False)
    if layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch)
