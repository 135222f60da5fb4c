"""The high-level IIIF client: load a service, fetch a region at a model's size.

:func:`load_service` reads a service's ``info.json``; :func:`fetch_region` plans the cheapest
requests for a region (see :mod:`annoserver.iiif.planner`), fetches them through the guarded
session (tiles in parallel, within the per-host limit), decodes them with OpenCV, assembles
and crops, and returns a :class:`RegionImage` that says which full-resolution box its pixels
cover, so callers can map results back to image coordinates. When the server's pixels differ in
size from what ``info.json`` promised, the actual size wins: scales are measured, not assumed.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from annoserver.iiif.decode import cv2, decode_image  # cv2 via decode: its pixel cap first
from annoserver.iiif.errors import ImageTooLarge, UpstreamError
from annoserver.iiif.http import fetch_bytes, fetch_json
from annoserver.iiif.image_api import ImageService, info_url, parse_info
from annoserver.iiif.planner import ImageRequest, Plan, Target, plan_fetch
from annoserver.iiif.region import Box, parse_region
from annoserver.iiif.session import IIIFSession, Limits, default_session

_MAX_PARALLEL = 4


@dataclass(frozen=True, eq=False)
class RegionImage:
    """Pixels of a region, and where they sit in the full-resolution image.

    Attributes:
        pixels: ``H × W × 3`` RGB ``uint8`` array.
        region: The box asked for, in full-resolution pixels.
        covered: The full-resolution box ``pixels`` cover (⊇ ``region`` up to rounding:
            tiles and listed sizes need not fall on the region's edges).
        service: The image service the pixels came from.
        bytes_fetched: Encoded bytes downloaded for them.
        urls: The image URLs planned (an alternate spelling may have answered instead).
        strategy: How they were fetched: ``region``, ``tiles``, ``sizes`` or ``full``.
    """

    pixels: np.ndarray
    region: Box
    covered: Box
    service: ImageService
    bytes_fetched: int
    urls: tuple[str, ...]
    strategy: str

    @property
    def scale(self) -> tuple[float, float]:
        """Full-resolution pixels per fetched pixel, across and down."""
        return self.covered.w / self.pixels.shape[1], self.covered.h / self.pixels.shape[0]

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """Map a point in ``pixels`` to full-resolution image coordinates."""
        sx, sy = self.scale
        return self.covered.x + x * sx, self.covered.y + y * sy


def load_service(service: str, *, session: IIIFSession | None = None,
                 limits: Limits | None = None, authorization: str | None = None) -> ImageService:
    """Fetch and read the ``info.json`` of a service id or ``info.json`` URL.

    Raises:
        IIIFError: Any fetch error, or :class:`UpstreamError` for an unusable document.
    """
    url = info_url(service)
    data = fetch_json(url, session=session or default_session(), limits=limits,
                      authorization=authorization)
    return parse_info(data, url=url)


def fetch_region(service: ImageService | str, region: str | Box = "full",
                 target: Target | int | None = None, *, session: IIIFSession | None = None,
                 limits: Limits | None = None, authorization: str | None = None,
                 auth_origin: str | None = None, fmt: str = "jpg") -> RegionImage:
    """Fetch a region of a IIIF image at (at least) the size a model needs, and no more.

    Args:
        service: An :class:`ImageService`, a service id, or an ``info.json`` URL.
        region: ``"full"``, ``"square"``, ``"x,y,w,h"``, ``"pct:x,y,w,h"`` or a :class:`Box`.
        target: The size wanted: a :class:`Target`, an int for the longest side, or ``None``
            for full resolution (within the server's limits).
        session: The session; the process-wide strict one when omitted.
        limits: Per-call limits; the session's when omitted.
        authorization: ``Authorization`` header for a restricted image, sent only to the
            origin of ``auth_origin`` (default: the URL given, or the service id).
        auth_origin: The URL the caller named, when ``service`` was loaded from it: the
            service id comes from the server's own info.json and may name another host.
        fmt: Preferred format (``jpg``; ``png`` where offered, for lossless pixels).

    Returns:
        The pixels and the full-resolution box they cover.

    Raises:
        BadRegion: The region is malformed, empty or outside the image.
        ImageTooLarge: The plan or an answer exceeds the limits.
        IIIFError: Any other fetch or decode error.
    """
    session = session or default_session()
    limits = limits or session.limits
    auth_origin = auth_origin or (service if isinstance(service, str) else service.id)
    if isinstance(service, str):
        service = load_service(service, session=session, limits=limits,
                               authorization=authorization)
    box = parse_region(region, service.width, service.height)
    plan = plan_fetch(service, box, Target(longest=target) if isinstance(target, int) else target,
                      fmt)
    if plan.pixels > limits.max_pixels or len(plan.requests) > limits.max_requests:
        raise ImageTooLarge(f"region {box.as_iiif()} needs {len(plan.requests)} requests and "
                            f"{plan.pixels} pixels; the limits are {limits.max_requests} and "
                            f"{limits.max_pixels}")
    pixels, nbytes = execute_plan(plan, session=session, limits=limits,
                                  authorization=authorization, auth_origin=auth_origin)
    return RegionImage(pixels, box, plan.covered, service, nbytes,
                       tuple(r.url for r in plan.requests), plan.strategy)


def execute_plan(plan: Plan, *, session: IIIFSession, limits: Limits,
                 authorization: str | None = None,
                 auth_origin: str | None = None) -> tuple[np.ndarray, int]:
    """Fetch a plan's requests, assemble the mosaic and crop it.

    Returns:
        The cropped RGB pixels and the number of encoded bytes downloaded.
    """
    def fetch(request: ImageRequest) -> tuple[np.ndarray, int]:
        return _fetch_image(request, session, limits, authorization, auth_origin)

    if len(plan.requests) == 1:
        results = [fetch(plan.requests[0])]
    else:
        with ThreadPoolExecutor(min(_MAX_PARALLEL, len(plan.requests))) as pool:
            futures = [pool.submit(fetch, request) for request in plan.requests]
            try:
                results = [future.result() for future in futures]
            finally:
                for future in futures:
                    future.cancel()
    mosaic = results[0][0] if len(results) == 1 else _paste(plan, [r[0] for r in results])
    return _crop(mosaic, plan), sum(r[1] for r in results)


def _fetch_image(request: ImageRequest, session: IIIFSession, limits: Limits,
                 authorization: str | None, auth_origin: str | None) -> tuple[np.ndarray, int]:
    """Fetch one request, trying its alternate spellings when the server answers 404."""
    urls = (request.url, *request.alternates)
    for index, url in enumerate(urls):
        try:
            fetched = fetch_bytes(url, session=session, limits=limits,
                                  authorization=authorization, auth_origin=auth_origin)
        except UpstreamError as error:
            if error.extra.get("upstream_status") == 404 and index + 1 < len(urls):
                continue
            raise
        return decode_image(fetched.content, limits.max_pixels), len(fetched.content)
    raise AssertionError("unreachable: the last URL either returns or raises")


def _paste(plan: Plan, images: list[np.ndarray]) -> np.ndarray:
    mosaic = np.zeros((plan.mosaic_size[1], plan.mosaic_size[0], 3), np.uint8)
    for request, image in zip(plan.requests, images, strict=True):
        w, h = request.size
        if image.shape[:2] != (h, w):  # a server rounding tile edges its own way
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        x, y = request.offset
        mosaic[y:y + h, x:x + w] = image
    return mosaic


def _crop(mosaic: np.ndarray, plan: Plan) -> np.ndarray:
    """Crop to the plan's crop box, rescaled if the server's pixels differ from the plan."""
    fx, fy = mosaic.shape[1] / plan.mosaic_size[0], mosaic.shape[0] / plan.mosaic_size[1]
    crop = plan.crop
    x0, y0 = math.floor(crop.x * fx), math.floor(crop.y * fy)
    x1 = max(x0 + 1, min(mosaic.shape[1], math.ceil(crop.right * fx)))
    y1 = max(y0 + 1, min(mosaic.shape[0], math.ceil(crop.bottom * fy)))
    return np.ascontiguousarray(mosaic[y0:y1, x0:x1])
