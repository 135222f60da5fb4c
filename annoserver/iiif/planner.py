"""Planning which image requests fetch a region at the size a model needs, and no more.

:func:`plan_fetch` turns (service, region box, :class:`Target`) into a :class:`Plan`: the image
request URLs, where each answer goes in a mosaic, which part of the mosaic to keep, and which
full-resolution box those kept pixels cover. Services that take arbitrary regions and sizes get
one ``region/size`` request that honours ``maxWidth``/``maxHeight``/``maxArea``; level-0
services get the cheapest adequate choice among tiles (at the coarsest scale factor that still
gives the needed size), a listed ``sizes`` entry, or the full image, cropped afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from annoserver.iiif.image_api import ImageService, TileSpec
from annoserver.iiif.region import Box

_EPSILON = 1e-9


@dataclass(frozen=True)
class Target:
    """The pixel size a model wants from a region; every field given must be met.

    With no field set the region is wanted at full resolution ("as large as allowed").

    Attributes:
        longest: Pixels along the region's longest side.
        shortest: Pixels along its shortest side (e.g. resize-then-centre-crop models).
        width: At least this many pixels across.
        height: At least this many pixels down.
        upscale: Allow more pixels than the region has; off by default, since upscaling on
            the client is as good and costs no bytes.
    """

    longest: int | None = None
    shortest: int | None = None
    width: int | None = None
    height: int | None = None
    upscale: bool = False

    def scale_for(self, box: Box) -> float:
        """Output pixels per full-resolution pixel that meet every field for ``box``."""
        ratios = [want / have for want, have in (
            (self.longest, max(box.w, box.h)), (self.shortest, min(box.w, box.h)),
            (self.width, box.w), (self.height, box.h)) if want]
        scale = max(ratios, default=1.0)
        return scale if self.upscale else min(scale, 1.0)


@dataclass(frozen=True)
class ImageRequest:
    """One image request of a plan.

    Attributes:
        url: The image request URL.
        box: The full-resolution pixels the answer covers.
        size: The ``(width, height)`` the answer is expected to have.
        offset: Where the answer goes in the plan's mosaic, in mosaic pixels.
        alternates: Other spellings of the same request to try if the server answers 404
            (static level-0 tile sets differ in whether they wrote ``w,`` or ``w,h``).
    """

    url: str
    box: Box
    size: tuple[int, int]
    offset: tuple[int, int] = (0, 0)
    alternates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """How to fetch a region: requests, their mosaic, and the crop to keep.

    Attributes:
        region: The box asked for, in full-resolution pixels.
        covered: The full-resolution box the kept pixels cover (a little larger than
            ``region`` when tiles or listed sizes do not fall on its edges).
        requests: The image requests to make.
        mosaic_size: ``(width, height)`` of the mosaic the answers are pasted into.
        crop: The part of the mosaic to keep, in mosaic pixels.
        strategy: ``"region"``, ``"tiles"``, ``"sizes"`` or ``"full"``.
    """

    region: Box
    covered: Box
    requests: tuple[ImageRequest, ...]
    mosaic_size: tuple[int, int]
    crop: Box
    strategy: str

    @property
    def pixels(self) -> int:
        """Pixels the requests fetch in all."""
        return sum(r.size[0] * r.size[1] for r in self.requests)

    @property
    def scale(self) -> tuple[float, float]:
        """Full-resolution pixels per kept pixel, across and down."""
        return self.covered.w / self.crop.w, self.covered.h / self.crop.h


def plan_fetch(service: ImageService, region: Box, target: Target | None = None,
               fmt: str = "jpg") -> Plan:
    """Plan the cheapest requests that give ``region`` at ``target`` size from ``service``.

    Args:
        service: The image service.
        region: The region in full-resolution pixels, already clipped to the image.
        target: The size wanted; ``None`` asks for full resolution.
        fmt: Preferred output format, used when the service offers it (``jpg`` otherwise).

    Returns:
        The plan.
    """
    need = (target or Target()).scale_for(region)
    fmt = fmt if fmt in service.formats else "jpg"
    whole = region == Box(0, 0, service.width, service.height)
    if whole or service.supports("regionByPx"):
        plan = _region_plan(service, region, need, fmt, whole)
        if plan is not None:
            return plan
    return _level0_plan(service, region, need, fmt)


def limit_scale(service: ImageService, width: int, height: int) -> float:
    """The largest scale at which a ``width`` × ``height`` region fits the server's limits."""
    limits = [math.inf]
    if service.max_width:
        limits.append(service.max_width / width)
    if service.max_height:
        limits.append(service.max_height / height)
    if service.max_area:
        limits.append(math.sqrt(service.max_area / (width * height)))
    return min(limits)


def scaled_size(service: ImageService, width: int, height: int, scale: float) -> tuple[int, int]:
    """``width`` × ``height`` scaled and rounded, then trimmed to the server's limits."""
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    w, h = min(w, service.max_width or w), min(h, service.max_height or h)
    if service.max_area and w * h > service.max_area:
        shrink = math.sqrt(service.max_area / (w * h))
        w, h = max(1, math.floor(w * shrink)), max(1, math.floor(h * shrink))
        # A 1-px side cannot shrink: take what the area leaves from the other side.
        if w * h > service.max_area:
            if w >= h:
                w = max(1, service.max_area // h)
            else:
                h = max(1, service.max_area // w)
    return w, h


def _region_plan(service: ImageService, region: Box, need: float, fmt: str,
                 whole: bool) -> Plan | None:
    scale = min(need, limit_scale(service, region.w, region.h))
    if scale > 1 and not (service.version == 3 and service.supports("sizeUpscaling")):
        scale = 1.0  # v2 servers may refuse upscaling; the caller can resize for free
    w, h = scaled_size(service, region.w, region.h, scale)
    size = _size_parameter(service, (w, h), (region.w, region.h))
    if size is None:
        return None
    url = service.image_url("full" if whole else region.as_iiif(), size, fmt)
    request = ImageRequest(url, region, (w, h))
    return Plan(region, region, (request,), (w, h), Box(0, 0, w, h), "region")


def _size_parameter(service: ImageService, size: tuple[int, int],
                    native: tuple[int, int]) -> str | None:
    """The size parameter for ``size``; ``None`` when the server cannot scale arbitrarily."""
    if size == native:
        return service.max_size_keyword
    (w, h), features = size, service.features
    caret = "^" if w > native[0] or h > native[1] else ""
    if service.version == 3 and "sizeByWh" in features:
        return f"{caret}{w},{h}"
    if "sizeByW" in features:
        return f"{caret}{w},"
    if "sizeByH" in features:
        return f"{caret},{h}"
    return f"{w},{h}" if "sizeByWh" in features else None


def _level0_plan(service: ImageService, region: Box, need: float, fmt: str) -> Plan:
    # Listed sizes first: on a tie they win, as static tile sets often omit whole-image tiles.
    candidates = [_resized_plan(service, region, size, fmt) for size in service.sizes]
    candidates += [_tile_plan(service, region, spec, need, fmt) for spec in service.tiles]
    full = scaled_size(service, service.width, service.height,
                       min(1.0, limit_scale(service, service.width, service.height)))
    candidates.append(_resized_plan(service, region, full, fmt, strategy="full"))

    def resolution(plan: Plan) -> float:
        return 1 / max(plan.scale)

    adequate = [p for p in candidates if resolution(p) >= need - _EPSILON]
    if adequate:
        return min(adequate, key=lambda p: (p.pixels, len(p.requests)))
    return min(candidates, key=lambda p: (-resolution(p), p.pixels))


def _tile_plan(service: ImageService, region: Box, spec: TileSpec, need: float,
               fmt: str) -> Plan:
    """Tiles at the coarsest scale factor whose output still meets ``need``."""
    adequate = [f for f in spec.scale_factors if 1 / f >= need - _EPSILON]
    factor = max(adequate) if adequate else min(spec.scale_factors)
    step_x, step_y = spec.width * factor, spec.height * factor
    cols = range(region.x // step_x, (region.right - 1) // step_x + 1)
    rows = range(region.y // step_y, (region.bottom - 1) // step_y + 1)
    origin_x, origin_y = cols[0] * step_x, rows[0] * step_y
    requests = []
    for row in rows:
        for col in cols:
            box = Box(col * step_x, row * step_y, min(step_x, service.width - col * step_x),
                      min(step_y, service.height - row * step_y))
            size = (math.ceil(box.w / factor), math.ceil(box.h / factor))
            offset = ((col - cols[0]) * spec.width, (row - rows[0]) * spec.height)
            requests.append(_static_request(service, box, size, offset, fmt))
    mosaic = (max(r.offset[0] + r.size[0] for r in requests),
              max(r.offset[1] + r.size[1] for r in requests))
    crop_x0, crop_y0 = (region.x - origin_x) // factor, (region.y - origin_y) // factor
    crop_x1 = min(mosaic[0], math.ceil((region.right - origin_x) / factor))
    crop_y1 = min(mosaic[1], math.ceil((region.bottom - origin_y) / factor))
    x0, y0 = origin_x + crop_x0 * factor, origin_y + crop_y0 * factor
    covered = Box(x0, y0, min(service.width, origin_x + crop_x1 * factor) - x0,
                  min(service.height, origin_y + crop_y1 * factor) - y0)
    crop = Box(crop_x0, crop_y0, crop_x1 - crop_x0, crop_y1 - crop_y0)
    return Plan(region, covered, tuple(requests), mosaic, crop, "tiles")


def _resized_plan(service: ImageService, region: Box, size: tuple[int, int], fmt: str,
                  strategy: str = "sizes") -> Plan:
    """The whole image at a listed (or the maximum) size, cropped to ``region``."""
    full = Box(0, 0, service.width, service.height)
    sx, sy = service.width / size[0], service.height / size[1]
    crop_x0, crop_y0 = math.floor(region.x / sx), math.floor(region.y / sy)
    crop_x1 = min(size[0], math.ceil(region.right / sx))
    crop_y1 = min(size[1], math.ceil(region.bottom / sy))
    x0, y0 = round(crop_x0 * sx), round(crop_y0 * sy)
    covered = Box(x0, y0, min(service.width, round(crop_x1 * sx)) - x0,
                  min(service.height, round(crop_y1 * sy)) - y0)
    if strategy == "full":
        url = service.image_url("full", service.max_size_keyword, fmt)
        request = ImageRequest(url, full, size)
    else:
        urls = [service.image_url("full", s, fmt) for s in _size_spellings(service, size)]
        request = ImageRequest(urls[0], full, size, alternates=tuple(urls[1:]))
    crop = Box(crop_x0, crop_y0, crop_x1 - crop_x0, crop_y1 - crop_y0)
    return Plan(region, covered, (request,), size, crop, strategy)


def _static_request(service: ImageService, box: Box, size: tuple[int, int],
                    offset: tuple[int, int], fmt: str) -> ImageRequest:
    """A level-0 tile request with its alternate spellings."""
    whole = box == Box(0, 0, service.width, service.height)
    regions = ["full", box.as_iiif()] if whole else [box.as_iiif()]
    urls = [service.image_url(r, s, fmt) for r in regions for s in _size_spellings(service, size)]
    return ImageRequest(urls[0], box, size, offset, tuple(urls[1:]))


def _size_spellings(service: ImageService, size: tuple[int, int]) -> list[str]:
    """``w,h`` and ``w,``, the version's canonical form first (v3: ``w,h``; v2: ``w,``)."""
    spellings = [f"{size[0]},{size[1]}", f"{size[0]},"]
    return spellings[::-1] if service.version == 2 else spellings
