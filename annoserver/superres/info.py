"""The Image API 3 description (``info.json``) of a super-resolution service, and its URLs.

A service ``{base}iiif/sr/{model}/{upstream}`` is the upstream image ``scale`` × larger. It
claims level 2 (regions by pixels and percent, every size form but upscaling, rotation by 90s,
``color``/``default`` qualities, jpg and png) and declares ``gray`` and ``bitonal`` qualities,
``webp``, and mirroring on top. ``sizes`` lists the halvings of the full image within
``maxArea``; ``tiles`` are 512 px (a 256-px upstream tile at ×2), at power-of-two factors.
"""

from __future__ import annotations

from typing import Any

from annoserver.iiif import Box
from annoserver.superres.params import Limits, encode_upstream

IMAGE3_CONTEXT = "http://iiif.io/api/image/3/context.json"
PROFILE = "level2"
PROFILE_URL = "http://iiif.io/api/image/3/level2.json"
EXTRA_QUALITIES = ["gray", "bitonal"]
EXTRA_FORMATS = ["webp"]
EXTRA_FEATURES = ["mirroring"]
TILE = 512
_SMALLEST = 64


def service_url(base: str, model_id: str, upstream_id: str) -> str:
    """The id of the super-resolution service of ``upstream_id`` by ``model_id``."""
    return f"{base.rstrip('/')}/iiif/sr/{model_id}/{encode_upstream(upstream_id)}"


def describe(service_id: str, width: int, height: int, limits: Limits) -> dict[str, Any]:
    """The ``info.json`` of a ``width`` × ``height`` super-resolution service."""
    return {
        "@context": IMAGE3_CONTEXT, "id": service_id, "type": "ImageService3",
        "protocol": "http://iiif.io/api/image", "profile": PROFILE,
        "width": width, "height": height,
        "maxWidth": limits.max_width, "maxHeight": limits.max_height,
        "maxArea": limits.max_area,
        "sizes": _sizes(width, height, limits),
        "tiles": [{"width": TILE, "height": TILE, "scaleFactors": _factors(width, height)}],
        "extraQualities": EXTRA_QUALITIES, "extraFormats": EXTRA_FORMATS,
        "extraFeatures": EXTRA_FEATURES,
    }


def _sizes(width: int, height: int, limits: Limits) -> list[dict[str, int]]:
    """Whole-image sizes (halvings) a viewer can ask for as ``w,h``, smallest first."""
    sizes = []
    factor = 1
    while True:
        w, h = -(-width // factor), -(-height // factor)
        if w <= limits.max_width and h <= limits.max_height and w * h <= limits.max_area:
            sizes.append({"width": w, "height": h})
        if max(w, h) <= _SMALLEST:
            return sizes[::-1]
        factor *= 2


def _factors(width: int, height: int) -> list[int]:
    factors = [1]
    while TILE * factors[-1] < max(width, height):
        factors.append(factors[-1] * 2)
    return factors


def region_image(base: str, model_id: str, upstream_id: str, region: Box,
                 scale: int) -> dict[str, Any]:
    """A W3C ``Image`` body: ``region`` (upstream pixels) of the upstream, super-resolved.

    Its id is the service's image URL for that region at ``max`` size (the largest the
    service gives, within its limits), with the service itself for deep zoom.
    """
    service = service_url(base, model_id, upstream_id)
    box = Box(region.x * scale, region.y * scale, region.w * scale, region.h * scale)
    return {"id": f"{service}/{box.as_iiif()}/max/0/default.jpg", "type": "Image",
            "format": "image/jpeg",
            "service": [{"id": service, "type": "ImageService3", "profile": PROFILE}]}
