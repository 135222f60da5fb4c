"""Image API 3 request parameters of the super-resolution service, parsed and canonicalised.

A request ``{region}/{size}/{rotation}/{quality}.{format}`` is read in the service's own
(super-resolved) pixel space and turned into an :class:`ImageParams`: the region box, the exact
output size, rotation, quality and format. Spellings that mean the same image give equal
params (``default`` is ``color``; ``pct:50`` and ``w,h`` of the same size agree), so the
cache and the single-flight key on what is drawn, not on how it was asked. Bad syntax is a
400; valid syntax for a feature not offered (arbitrary rotation, upscaling) is a 501.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass

from annoserver.errors import BadRequest, NotFound, UnsupportedMediaType
from annoserver.iiif import Box, parse_region
from annoserver.superres.errors import NotImplementedFeature

FORMATS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
QUALITIES = ("default", "color", "gray", "bitonal")
_SIZE = re.compile(r"^(?P<confined>!)?(?P<w>\d+)?,(?P<h>\d+)?$")
_PERCENT = re.compile(r"^pct:(?P<n>\d+(?:\.\d+)?|\.\d+)$")
_ROTATION = re.compile(r"^(?P<mirror>!)?(?P<deg>\d+(?:\.\d+)?|\.\d+)$")
_KNOWN_FORMATS = {"tif", "gif", "jp2", "pdf"}


@dataclass(frozen=True)
class Limits:
    """The output limits a service declares (``maxWidth``/``maxHeight``/``maxArea``)."""

    max_width: int
    max_height: int
    max_area: int


@dataclass(frozen=True)
class ImageParams:
    """One canonical image request, in the service's pixels.

    Attributes:
        region: The region asked for, clipped to the image.
        width: Output width before rotation.
        height: Output height before rotation.
        rotation: Clockwise degrees, one of 0, 90, 180, 270.
        mirror: Mirror horizontally before rotating.
        quality: ``color``, ``gray`` or ``bitonal``.
        format: ``jpg``, ``png`` or ``webp``.
    """

    region: Box
    width: int
    height: int
    rotation: int
    mirror: bool
    quality: str
    format: str

    @property
    def media_type(self) -> str:
        """The Content-Type of the encoded image."""
        return FORMATS[self.format]

    def path(self) -> str:
        """The canonical ``region/size/rotation/quality.format`` of this image."""
        return (f"{self.region.as_iiif()}/{self.width},{self.height}/"
                f"{'!' if self.mirror else ''}{self.rotation}/"
                f"{'default' if self.quality == 'color' else self.quality}.{self.format}")


def encode_upstream(service_id: str) -> str:
    """The ``{upstream}`` path segment: the upstream service id as unpadded base64url."""
    return base64.urlsafe_b64encode(service_id.encode()).decode().rstrip("=")


def decode_upstream(segment: str) -> str:
    """The upstream service id in an ``{upstream}`` segment.

    Raises:
        NotFound: The segment is not base64url of an http(s) URL (an unknown identifier).
    """
    try:
        text = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", segment) or not re.match(r"^https?://[^\s/]+", text):
        raise NotFound(f"{segment!r} is not an upstream image service id in unpadded base64url.")
    return text


def parse_params(region: str, size: str, rotation: str, filename: str, width: int,
                 height: int, limits: Limits) -> ImageParams:
    """Read an image request against a ``width`` × ``height`` service.

    Raises:
        BadRequest: Malformed parameters, an empty region or a size outside the limits.
        NotImplementedFeature: Upscaling (``^``) or rotation by other than multiples of 90.
        UnsupportedMediaType: A format other than jpg, png or webp.
    """
    quality, dot, fmt = filename.rpartition(".")
    if not dot or quality not in QUALITIES:
        raise BadRequest(f"quality {quality or filename!r} is not one of {', '.join(QUALITIES)}")
    if fmt not in FORMATS:
        known = fmt in _KNOWN_FORMATS
        raise (UnsupportedMediaType if known else BadRequest)(
            f"format {fmt!r} is not offered; formats: {', '.join(FORMATS)}")
    degrees, mirror = _rotation(rotation)
    box = parse_region(region, width, height)
    out_w, out_h = _size(size, box, limits)
    return ImageParams(box, out_w, out_h, degrees, mirror,
                       "color" if quality == "default" else quality, fmt)


def _rotation(text: str) -> tuple[int, bool]:
    match = _ROTATION.match(text)
    if match is None or float(match["deg"]) > 360:
        raise BadRequest(f"rotation {text!r} is not [!]n with n in [0, 360]")
    degrees = float(match["deg"]) % 360
    if degrees not in (0, 90, 180, 270):
        raise NotImplementedFeature(f"rotation {text!r}: only multiples of 90 are offered")
    return int(degrees), bool(match["mirror"])


def _size(text: str, box: Box, limits: Limits) -> tuple[int, int]:
    if text.startswith("^"):
        if text != "^max":
            _requested_size(text[1:], box)  # a 400 for bad syntax first
        raise NotImplementedFeature(f"size {text!r}: upscaling (^) is not offered")
    if text == "max":
        scale = min(1.0, limits.max_width / box.w, limits.max_height / box.h,
                    math.sqrt(limits.max_area / box.area))
        return max(1, math.floor(box.w * scale)), max(1, math.floor(box.h * scale))
    width, height = _requested_size(text, box)
    if width > box.w or height > box.h:
        raise BadRequest(f"size {text!r} is larger than the {box.w}x{box.h} region; "
                         "upscaling needs '^' (not offered)")
    if width > limits.max_width or height > limits.max_height or width * height > limits.max_area:
        raise BadRequest(f"size {width}x{height} exceeds this service's limits (maxWidth "
                         f"{limits.max_width}, maxHeight {limits.max_height}, maxArea "
                         f"{limits.max_area}); ask for a smaller size or region")
    return width, height


def _requested_size(text: str, box: Box) -> tuple[int, int]:
    percent = _PERCENT.match(text)
    if percent is not None:
        n = float(percent["n"])
        if n <= 0:
            raise BadRequest(f"size {text!r} is empty")
        return max(1, round(box.w * n / 100)), max(1, round(box.h * n / 100))
    match = _SIZE.match(text)
    if match is None or (match["w"] is None and match["h"] is None):
        raise BadRequest(f"size {text!r} is not max, w,, ,h, pct:n, w,h or !w,h")
    w = int(match["w"]) if match["w"] else None
    h = int(match["h"]) if match["h"] else None
    if (w is not None and w <= 0) or (h is not None and h <= 0):
        raise BadRequest(f"size {text!r} is empty")
    if match["confined"]:
        if w is None or h is None:
            raise BadRequest(f"size {text!r}: !w,h needs both")
        scale = min(w / box.w, h / box.h)
        return max(1, round(box.w * scale)), max(1, round(box.h * scale))
    if w is None:
        return max(1, round(box.w * h / box.h)), h
    if h is None:
        return w, max(1, round(box.h * w / box.w))
    return w, h
