"""Canvas ↔ image coordinates: media-fragment and Image API region parsing, and box scaling.

A :class:`~.model.CanvasImage` says which image pixels (``source_box``) are painted, turned by
a multiple of 90° (after an optional flip), into which canvas box (``region_on_canvas``). The
two scaling helpers map boxes through that placement and round *outwards* (floor the near
edges, ceil the far ones), so a result always covers what it maps; they then clamp to the canvas
(or image), so they never return a box outside it, and never an empty one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from .errors import OutsideImage
from .model import Box, CanvasImage

# Float noise below this is not a pixel: 2.9999999997 floors to 3, not 2.
EPSILON = 1e-6
Point = tuple[float, float]


def parse_xywh(fragment: str, width: float, height: float) -> Box | None:
    """Parse a media-fragment ``xywh=`` (``pixel:`` or ``percent:``) from a fragment or URI.

    Args:
        fragment: ``xywh=1,2,3,4``, ``xywh=percent:10,10,50,50`` or a URI ending in ``#xywh=...``.
        width: the canvas width, for percentages.
        height: the canvas height, for percentages.

    Returns:
        The box in canvas units, or ``None`` when there is no valid positive-size ``xywh``.
    """
    for part in fragment.rsplit("#", 1)[-1].split("&"):
        key, _, value = part.partition("=")
        if key.strip() == "xywh":
            return _xywh_value(value.strip(), width, height)
    return None


def _xywh_value(value: str, width: float, height: float) -> Box | None:
    unit, _, numbers = value.rpartition(":")
    box = _four_numbers(numbers)
    if box is None or unit not in ("", "pixel", "percent"):
        return None
    if unit == "percent":
        box = _percent(box, width, height)  # may overflow to infinity: refused below
    sides = (box.x, box.y, box.w, box.h)
    return box if box.w > 0 and box.h > 0 and all(map(math.isfinite, sides)) else None


def _percent(box: Box, width: float, height: float) -> Box:
    return Box(box.x * width / 100, box.y * height / 100, box.w * width / 100,
               box.h * height / 100)


def _four_numbers(text: str) -> Box | None:
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        return None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        return None
    return Box(*numbers)


def parse_image_region(region: str, width: int | None, height: int | None) -> Box | None:
    """Parse an Image API region (``x,y,w,h`` or ``pct:x,y,w,h``; ``full`` → ``None``).

    Percentages need the image size; without it (or for ``square`` and junk) this returns
    ``None``, meaning the whole image.
    """
    region = region.strip()
    if region.startswith("pct:"):
        box = _four_numbers(region[4:])
        if box is None or not (width and height):
            return None
        box = _percent(box, width, height)
    else:
        box = _four_numbers(region)
    return box if box is not None and box.w > 0 and box.h > 0 else None


def parse_rotation(value: object) -> tuple[int, bool]:
    """Parse an Image API rotation (``"90"``, ``"!180"``) into (degrees clockwise, mirrored).

    Only multiples of 90 can be mapped to boxes; any other angle reads as 0.
    """
    text = str(value).strip() if value is not None else "0"
    mirrored = text.startswith("!")
    try:
        degrees = float(text.lstrip("!")) % 360
    except ValueError:
        return 0, mirrored
    return (int(degrees) if degrees in (0, 90, 180, 270) else 0), mirrored


def _rotated_size(image: CanvasImage) -> tuple[float, float]:
    src = image.source_box
    return (src.h, src.w) if image.rotation in (90, 270) else (src.w, src.h)


def _turn(image: CanvasImage, u: float, v: float) -> Point:
    """Source-local pixel → rotated (painted, unscaled) pixel."""
    w, h = image.source_box.w, image.source_box.h
    if image.mirrored:
        u = w - u
    return {0: (u, v), 90: (h - v, u), 180: (w - u, h - v), 270: (v, w - u)}[image.rotation]


def _unturn(image: CanvasImage, a: float, b: float) -> Point:
    """Rotated (painted, unscaled) pixel → source-local pixel; the inverse of :func:`_turn`."""
    w, h = image.source_box.w, image.source_box.h
    u, v = {0: (a, b), 90: (b, h - a), 180: (w - a, h - b), 270: (w - b, a)}[image.rotation]
    return (w - u, v) if image.mirrored else (u, v)


def _image_point_to_canvas(image: CanvasImage, u: float, v: float) -> Point:
    src, dst = image.source_box, image.region_on_canvas
    rw, rh = _rotated_size(image)
    a, b = _turn(image, u - src.x, v - src.y)
    return dst.x + a * dst.w / rw, dst.y + b * dst.h / rh


def _canvas_point_to_image(image: CanvasImage, x: float, y: float) -> Point:
    src, dst = image.source_box, image.region_on_canvas
    rw, rh = _rotated_size(image)
    u, v = _unturn(image, (x - dst.x) * rw / dst.w, (y - dst.y) * rh / dst.h)
    return src.x + u, src.y + v


def _intersect(box: Sequence[float], bounds: Box) -> Box | None:
    x0, y0 = max(box[0], bounds.x), max(box[1], bounds.y)
    x1 = min(box[0] + box[2], bounds.x + bounds.w)
    y1 = min(box[1] + box[3], bounds.y + bounds.h)
    return Box(x0, y0, x1 - x0, y1 - y0) if x1 >= x0 and y1 >= y0 else None


def _map_box(box: Box, point: Callable[[float, float], Point]) -> tuple[float, ...]:
    corners = [point(box.x, box.y), point(box.x + box.w, box.y + box.h)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _round_out(lo: float, hi: float, limit: int) -> tuple[int, int]:
    """Outward-rounded integer span inside ``[0, limit]``, at least 1 long (limit ≥ 1)."""
    start = max(0, min(limit, math.floor(lo + EPSILON)))
    end = max(0, min(limit, math.ceil(hi - EPSILON)))
    if end <= start:
        start, end = (start, start + 1) if start < limit else (limit - 1, limit)
    return start, end - start


def _to_int_box(corners: tuple[float, ...], width: int, height: int) -> Box:
    x, w = _round_out(corners[0], corners[2], width)
    y, h = _round_out(corners[1], corners[3], height)
    return Box(x, y, w, h)


def image_to_canvas(box: Sequence[float], image: CanvasImage) -> Box:
    """Map a box in image pixels to an integer box on the canvas.

    Args:
        box: ``(x, y, w, h)`` in the full image's pixels (as a model reports them).
        image: where and how the image is painted.

    Returns:
        The smallest integer canvas box covering the mapped box, clipped to the canvas.

    Raises:
        OutsideImage: the box does not overlap the painted part of the image.
    """
    clipped = _intersect(box, image.source_box)
    if clipped is None:
        raise OutsideImage(f"box {tuple(box)} lies outside the painted image region "
                           f"{tuple(image.source_box)}")
    corners = _map_box(clipped, lambda u, v: _image_point_to_canvas(image, u, v))
    return _to_int_box(corners, image.canvas_width, image.canvas_height)


def canvas_to_image(box: Sequence[float], image: CanvasImage) -> Box:
    """Map a box in canvas units to an integer box in the image's pixels.

    Args:
        box: ``(x, y, w, h)`` on the canvas (e.g. a requested region).
        image: where and how the image is painted.

    Returns:
        The smallest integer pixel box covering the mapped box, clipped to the image.

    Raises:
        OutsideImage: the box does not overlap the part of the canvas the image covers.
    """
    clipped = _intersect(box, image.region_on_canvas)
    if clipped is None:
        raise OutsideImage(f"canvas box {tuple(box)} does not overlap the image painted at "
                           f"{tuple(image.region_on_canvas)}")
    corners = _map_box(clipped, lambda x, y: _canvas_point_to_image(image, x, y))
    width, height = image.pixel_size
    return _to_int_box(corners, max(1, math.ceil(width - EPSILON)),
                       max(1, math.ceil(height - EPSILON)))
