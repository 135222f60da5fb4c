"""The super-resolution image service: upstream region → model → Image API 3 image.

:class:`SuperResolutionService` (no Flask) answers ``info.json`` and image requests for any
super-resolution model of the runtime over any upstream IIIF image service (v2 or v3). An
image request for a region at some size, in the service's ×``scale`` pixel space, fetches the
matching upstream region at ``1/scale`` of that size — through the guarded IIIF client, so
the upstream host must be allowed like any fetch — with a few pixels of context around it
(so neighbouring IIIF tiles join without seams), runs the model over it in overlapping tiles,
crops, rotates, applies the quality and encodes. Answers are cached on disk (keyed by the
upstream, the canonical request and the model's checksum) and identical concurrent requests
are computed once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from annoserver.errors import NotFound
from annoserver.iiif import (
    Box,
    IIIFSession,
    ImageService,
    Target,
    UpstreamError,
    fetch_region,
    load_service,
)
from annoserver.iiif.decode import cv2
from annoserver.inference import Runtime
from annoserver.inference.errors import UnknownModel
from annoserver.superres.cache import DiskCache, SingleFlight, cache_key
from annoserver.superres.info import describe
from annoserver.superres.params import ImageParams, Limits, decode_upstream, parse_params
from annoserver.superres.tiling import DEFAULT_TILES, TileSettings, enhance_tiled

_ENCODE = {"jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]), "png": (".png", []),
           "webp": (".webp", [cv2.IMWRITE_WEBP_QUALITY, 90])}


@dataclass(frozen=True)
class Rendered:
    """An encoded image and the canonical request that made it."""

    content: bytes
    params: ImageParams


@dataclass(frozen=True)
class SuperResolver:
    """One super-resolution model, as the service uses it."""

    model_id: str
    version: str
    sha256: str
    scale: int
    enhance: Callable[[np.ndarray], np.ndarray]


class SuperResolutionService:
    """Image API 3 over super-resolution models; one per process.

    Args:
        runtime: Where the models are.
        session: The guarded IIIF session upstream images are fetched through.
        cache: The disk cache of encoded answers.
        limits: ``maxWidth``/``maxHeight``/``maxArea`` of every service (memory is bounded
            by ``maxArea``: about 10 bytes per output pixel at most).
        tiles: How the model is run over large regions.
    """

    def __init__(self, runtime: Runtime, session: IIIFSession, cache: DiskCache,
                 limits: Limits, tiles: TileSettings = DEFAULT_TILES) -> None:
        self.runtime = runtime
        self.session = session
        self.cache = cache
        self.limits = limits
        self.tiles = tiles
        self._flights = SingleFlight()

    def resolver(self, model_id: str) -> SuperResolver:
        """The super-resolution model ``model_id``.

        Raises:
            NotFound: No such model, or not one that enhances images of any size.
        """
        try:
            model = self.runtime.get(model_id)
        except UnknownModel:
            raise NotFound(f"No super-resolution model {model_id!r} is installed.") from None
        kind = model.kinds.get("superres")
        if kind is None or not getattr(kind, "variable_size", False):
            raise NotFound(f"Model {model_id!r} is not a super-resolution model of variable "
                           "input size.")
        config = model.config
        return SuperResolver(model_id, config.version, config.sha256, kind.scale, kind.enhance)

    def upstream(self, segment: str) -> ImageService:
        """The upstream service named by an ``{upstream}`` segment (404 when there is none)."""
        try:
            return load_service(decode_upstream(segment), session=self.session)
        except UpstreamError as error:
            if error.extra.get("upstream_status") in (404, 410):
                raise NotFound(f"The upstream image service {decode_upstream(segment)!r} "
                               "does not exist.") from None
            raise

    def info(self, model_id: str, segment: str, service_id: str) -> dict[str, Any]:
        """The ``info.json`` of the service ``service_id`` (model × upstream)."""
        resolver = self.resolver(model_id)
        upstream = self.upstream(segment)
        return describe(service_id, upstream.width * resolver.scale,
                        upstream.height * resolver.scale, self.limits)

    def render(self, model_id: str, segment: str, region: str, size: str, rotation: str,
               filename: str) -> Rendered:
        """Answer one image request, from the cache when it can.

        Raises:
            NotFound, BadRequest, NotImplementedFeature, UnsupportedMediaType, or the IIIF
            client's errors (403 refused host, 502/504 upstream failures, 413 too large).
        """
        resolver = self.resolver(model_id)
        upstream = self.upstream(segment)
        params = parse_params(region, size, rotation, filename, upstream.width * resolver.scale,
                              upstream.height * resolver.scale, self.limits)
        key = cache_key(upstream.id, resolver.model_id, resolver.version, resolver.sha256,
                        params.path())

        def compute() -> bytes:
            return self.cache.computed(key, lambda: self._encode(
                self.pixels(resolver, upstream, params), params))

        return Rendered(self._flights.run(key, compute), params)

    def pixels(self, resolver: SuperResolver, upstream: ImageService,
               params: ImageParams) -> np.ndarray:
        """The super-resolved RGB pixels of ``params``' region at its size (before rotation)."""
        s, region = resolver.scale, params.region
        qx, qy = params.width / region.w, params.height / region.h  # output px per SR px
        box = _context_box(region, s, qx, qy, self.tiles.pad, upstream)
        fetched = fetch_region(upstream, box, Target(width=math.ceil(box.w * qx),
                                                     height=math.ceil(box.h * qy)),
                               session=self.session, fmt="png")
        covered = fetched.covered
        size = (max(1, round(covered.w * qx)), max(1, round(covered.h * qy)))
        low = _resize(fetched.pixels, size)
        enhanced = enhance_tiled(low, resolver.enhance, s, self.tiles)
        # Output pixel u lies at SR-space x = region.x + u / qx; the enhanced pixels start at
        # covered.x * s and have size[0] * s / covered.w enhanced pixels per upstream pixel.
        ax, ay = size[0] / covered.w, size[1] / covered.h
        return _sample(enhanced, (params.width, params.height),
                       (ax / qx, ay / qy),
                       ((region.x - covered.x * s) * ax, (region.y - covered.y * s) * ay))

    def _encode(self, pixels: np.ndarray, params: ImageParams) -> bytes:
        if params.mirror:
            pixels = pixels[:, ::-1]
        if params.rotation:
            pixels = np.rot90(pixels, k=-params.rotation // 90)
        pixels = np.ascontiguousarray(pixels)
        if params.quality == "color":
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
        else:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
            if params.quality == "bitonal":
                pixels = np.where(pixels >= 128, 255, 0).astype(np.uint8)
        extension, options = _ENCODE[params.format]
        ok, encoded = cv2.imencode(extension, pixels, options)
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 image it was built for
            raise RuntimeError(f"OpenCV could not encode {extension}")
        return encoded.tobytes()


def _context_box(region: Box, scale: int, qx: float, qy: float, pad: int,
                 upstream: ImageService) -> Box:
    """The upstream box under ``region`` (SR pixels), with ``pad`` output pixels of context."""
    mx, my = math.ceil(pad / qx), math.ceil(pad / qy)
    x0 = max(0, region.x // scale - mx)
    y0 = max(0, region.y // scale - my)
    x1 = min(upstream.width, -(-region.right // scale) + mx)
    y1 = min(upstream.height, -(-region.bottom // scale) + my)
    return Box(x0, y0, x1 - x0, y1 - y0)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (image.shape[1], image.shape[0]) == size:
        return image
    shrinking = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def _sample(image: np.ndarray, size: tuple[int, int], step: tuple[float, float],
            offset: tuple[float, float]) -> np.ndarray:
    """Pixels ``offset + u * step`` of ``image`` for an output of ``size``.

    A plain crop when the steps are 1 and the offsets whole (the common case: IIIF tiles at
    power-of-two factors), else an affine resampling mapping pixel centres to pixel centres.
    """
    (kx, ky), (ox, oy) = step, offset
    if (abs(kx - 1) < 1e-9 and abs(ky - 1) < 1e-9
            and abs(ox - round(ox)) < 1e-6 and abs(oy - round(oy)) < 1e-6):
        x, y = round(ox), round(oy)
        crop = image[y:y + size[1], x:x + size[0]]
        if crop.shape[:2] == (size[1], size[0]):
            return crop
    matrix = np.array([[kx, 0, ox + 0.5 * kx - 0.5], [0, ky, oy + 0.5 * ky - 0.5]], np.float64)
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
