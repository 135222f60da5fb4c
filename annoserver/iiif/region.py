"""Pixel boxes and the parsing of IIIF region strings into them.

A region (``full``, ``square``, ``x,y,w,h`` or ``pct:x,y,w,h``, IIIF Image API syntax) is turned
into an integer :class:`Box` in full-resolution image pixels, clipped to the image. Anything
malformed, empty, or wholly outside the image is a :class:`~annoserver.iiif.errors.BadRegion`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from annoserver.iiif.errors import BadRegion

_NUMBER = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"
_XYWH = re.compile(rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$")
_MAX_REGION_TEXT = 200


@dataclass(frozen=True, order=True)
class Box:
    """An integer rectangle ``x, y, w, h`` in pixels; ``w`` and ``h`` are positive."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        """The first column to the right of the box."""
        return self.x + self.w

    @property
    def bottom(self) -> int:
        """The first row below the box."""
        return self.y + self.h

    @property
    def area(self) -> int:
        """The number of pixels in the box."""
        return self.w * self.h

    def as_iiif(self) -> str:
        """The box as a IIIF ``x,y,w,h`` region parameter."""
        return f"{self.x},{self.y},{self.w},{self.h}"

    def contains(self, other: Box) -> bool:
        """Whether ``other`` lies entirely inside this box."""
        return (self.x <= other.x and self.y <= other.y
                and other.right <= self.right and other.bottom <= self.bottom)


def parse_region(region: str | Box, width: int, height: int) -> Box:
    """Turn a IIIF region into a box of image pixels, clipped to a ``width`` × ``height`` image.

    Args:
        region: ``"full"``, ``"square"``, ``"x,y,w,h"`` or ``"pct:x,y,w,h"``, or a :class:`Box`.
        width: The full image's width in pixels.
        height: The full image's height in pixels.

    Returns:
        The clipped box, never empty.

    Raises:
        BadRegion: The region is malformed, has no area, or lies outside the image.
    """
    if isinstance(region, Box):
        return clip_box(region, width, height, str(region))
    text = region.strip() if isinstance(region, str) else ""
    if not text or len(text) > _MAX_REGION_TEXT:
        raise BadRegion(f"region {region!r} is not a IIIF region")
    if text == "full":
        return Box(0, 0, width, height)
    if text == "square":
        side = min(width, height)
        return Box((width - side) // 2, (height - side) // 2, side, side)
    if text.startswith("pct:"):
        return _percent_box(text, width, height)
    x, y, w, h = _numbers(text)
    if not all(v.is_integer() for v in (x, y, w, h)):
        raise BadRegion(f"region {text!r}: pixel regions take integers (use pct: for fractions)")
    return clip_box(Box(int(x), int(y), int(w), int(h)), width, height, text)


def clip_box(box: Box, width: int, height: int, text: str = "") -> Box:
    """Clip ``box`` to the image, refusing one that is empty or starts outside it.

    Raises:
        BadRegion: ``box`` has no area, negative coordinates, or no pixel inside the image.
    """
    label = text or box.as_iiif()
    if box.w <= 0 or box.h <= 0 or box.x < 0 or box.y < 0:
        raise BadRegion(f"region {label!r} is empty or negative")
    if box.x >= width or box.y >= height:
        raise BadRegion(f"region {label!r} lies outside the {width}x{height} image")
    return Box(box.x, box.y, min(box.w, width - box.x), min(box.h, height - box.y))


def _numbers(text: str) -> tuple[float, float, float, float]:
    match = _XYWH.match(text)
    if match is None:
        raise BadRegion(f"region {text!r} is not 'full', 'square', 'x,y,w,h' or 'pct:x,y,w,h'")
    x, y, w, h = (float(g) for g in match.groups())
    return x, y, w, h


def _percent_box(text: str, width: int, height: int) -> Box:
    px, py, pw, ph = _numbers(text[4:])
    if pw <= 0 or ph <= 0:
        raise BadRegion(f"region {text!r} is empty")
    if px >= 100 or py >= 100:
        raise BadRegion(f"region {text!r} lies outside the image")
    # Round outwards so the box holds every pixel the fractional region touches.
    x0, y0 = math.floor(px * width / 100), math.floor(py * height / 100)
    x1 = min(width, math.ceil(min(px + pw, 100) * width / 100))
    y1 = min(height, math.ceil(min(py + ph, 100) * height / 100))
    return clip_box(Box(x0, y0, max(x1 - x0, 1), max(y1 - y0, 1)), width, height, text)
