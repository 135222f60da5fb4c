"""IIIF Image API 2.x and 3.0 service descriptions: reading ``info.json`` and building URLs.

:func:`parse_info` reads either version tolerantly (missing ``profile``, a profile given as a
string, a list, or a list with a description object, v2 services referenced from v3 manifests)
into a frozen :class:`ImageService`. The features each compliance level guarantees are tabled
here from the IIIF level profiles (``http://iiif.io/api/image/{2,3}/level{0,1,2}.json``), so a
service's :attr:`ImageService.features` is its level's set plus whatever it declares on top.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from annoserver.iiif.errors import UpstreamError

_V2_LEVEL1 = frozenset({"sizeByWhListed", "baseUriRedirect", "cors", "jsonldMediaType",
                        "regionByPx", "sizeByH", "sizeByPct", "sizeByW"})
_V3_LEVEL1 = frozenset({"baseUriRedirect", "cors", "jsonldMediaType", "regionByPx",
                        "regionSquare", "sizeByH", "sizeByW", "sizeByWh"})
LEVEL_FEATURES: dict[tuple[int, int], frozenset[str]] = {
    (2, 0): frozenset({"sizeByWhListed"}),
    (2, 1): _V2_LEVEL1,
    (2, 2): _V2_LEVEL1 | {"regionByPct", "rotationBy90s", "sizeByConfinedWh",
                          "sizeByDistortedWh", "sizeByForcedWh", "sizeByWh"},
    (3, 0): frozenset(),
    (3, 1): _V3_LEVEL1,
    (3, 2): _V3_LEVEL1 | {"regionByPct", "rotationBy90s", "sizeByConfinedWh", "sizeByPct"},
}
"""Features each (version, level) guarantees, as the IIIF level profiles list them."""

LEVEL_FORMATS = {0: frozenset({"jpg"}), 1: frozenset({"jpg"}), 2: frozenset({"jpg", "png"})}
_LEVEL = re.compile(r"level\s*([012])\b")


@dataclass(frozen=True)
class TileSpec:
    """One ``tiles`` entry: tile size in output pixels and the scale factors it exists at."""

    width: int
    height: int
    scale_factors: tuple[int, ...]


@dataclass(frozen=True)
class ImageService:
    """What a client needs to know about one IIIF image service.

    Attributes:
        id: Base URI of the service (no trailing ``/`` or ``/info.json``).
        version: Major Image API version, 2 or 3.
        width: Full-resolution width in pixels, as ``info.json`` declares it.
        height: Full-resolution height in pixels.
        level: Compliance level 0, 1 or 2 (0 when the profile is missing or unknown).
        max_width: Largest output width the server serves, if limited.
        max_height: Largest output height (defaults to ``max_width`` as the spec says).
        max_area: Largest output ``width * height``, if limited.
        sizes: ``(width, height)`` of the full image sizes the server lists.
        tiles: The tile sizes and scale factors the server lists.
        extra_features: Features declared beyond the level's own.
        formats: Output formats (the level's plus declared ones).
        qualities: Qualities (the level's plus declared ones).
    """

    id: str
    version: int
    width: int
    height: int
    level: int = 0
    max_width: int | None = None
    max_height: int | None = None
    max_area: int | None = None
    sizes: tuple[tuple[int, int], ...] = ()
    tiles: tuple[TileSpec, ...] = ()
    extra_features: frozenset[str] = frozenset()
    formats: frozenset[str] = frozenset({"jpg"})
    qualities: frozenset[str] = frozenset({"default"})

    @property
    def features(self) -> frozenset[str]:
        """Every feature the service supports: its level's plus the declared extras."""
        return LEVEL_FEATURES[(self.version, self.level)] | self.extra_features

    @property
    def max_size_keyword(self) -> str:
        """The size keyword for "as large as the server gives": ``max`` (v3) or ``full`` (v2)."""
        return "max" if self.version == 3 else "full"

    def supports(self, feature: str) -> bool:
        """Whether ``feature`` (a IIIF feature name such as ``regionByPx``) is supported."""
        return feature in self.features

    def image_url(self, region: str, size: str, fmt: str = "jpg", quality: str = "default",
                  rotation: str = "0") -> str:
        """The image request URL for these parameters (no encoding: IIIF syntax is URL-safe)."""
        return f"{self.id}/{region}/{size}/{rotation}/{quality}.{fmt}"

    @property
    def info_url(self) -> str:
        """The service's ``info.json`` URL."""
        return info_url(self.id)


def thumbnail_url(service: ImageService, region: str = "full", longest: int = 200) -> str | None:
    """One URL this service answers with the region at about ``longest`` px on its long side.

    Level 2 confines the size (``!200,200``); level 1 asks for a width; level 0 has only its
    listed whole-image sizes (the smallest one at least ``longest``). ``None`` when no single
    request can give it: a region of a level-0 image. ``region`` is ``full`` or ``x,y,w,h``.
    """
    if region != "full" and not service.supports("regionByPx"):
        return None
    if service.supports("sizeByConfinedWh"):
        return service.image_url(region, f"!{longest},{longest}")
    if service.supports("sizeByW"):
        width, height = ((service.width, service.height) if region == "full"
                         else tuple(int(v) for v in region.split(",")[2:4]))
        scale = min(1.0, longest / max(width, height, 1))
        return service.image_url(region, f"{max(1, round(width * scale))},")
    if service.sizes:
        fitting = [size for size in service.sizes if max(size) >= longest]
        width, height = min(fitting, key=max) if fitting else max(service.sizes, key=max)
        return service.image_url("full", f"{width},{height}" if service.version == 3
                                 else f"{width},")
    return service.image_url("full", service.max_size_keyword)


def info_url(service_id: str) -> str:
    """The ``info.json`` URL of a service id (or the URL itself when it already is one)."""
    service_id = service_id.strip()
    if service_id.endswith("/info.json"):
        return service_id
    return f"{service_id.rstrip('/')}/info.json"


def parse_info(data: Any, url: str | None = None) -> ImageService:
    """Read an Image API 2.x or 3.0 ``info.json`` document (or a service reference).

    Args:
        data: The parsed JSON.
        url: Where it came from; used for the id when the document has none.

    Returns:
        The service description.

    Raises:
        UpstreamError: The document is not a usable image service description.
    """
    if not isinstance(data, Mapping):
        raise UpstreamError("info.json is not a JSON object")
    version = detect_version(data)
    level, described = _profile(data.get("profile"))
    declared = {**described, **{k: v for k, v in data.items() if k in _DESCRIPTION_KEYS}}
    max_width = _positive(declared.get("maxWidth"))
    features = declared.get("extraFeatures" if version == 3 else "supports")
    formats = declared.get("extraFormats" if version == 3 else "formats")
    qualities = declared.get("extraQualities" if version == 3 else "qualities")
    return ImageService(
        id=_service_id(data, url), version=version,
        width=_required_dimension(data, "width"), height=_required_dimension(data, "height"),
        level=level, max_width=max_width,
        max_height=_positive(declared.get("maxHeight")) or max_width,
        max_area=_positive(declared.get("maxArea")),
        sizes=_sizes(data.get("sizes")), tiles=_tiles(data.get("tiles")),
        extra_features=_strings(features),
        formats=LEVEL_FORMATS[level] | _strings(formats),
        qualities=frozenset({"default"}) | _strings(qualities))


_DESCRIPTION_KEYS = frozenset({"maxWidth", "maxHeight", "maxArea", "extraFeatures", "supports",
                               "extraFormats", "formats", "extraQualities", "qualities"})


def detect_version(data: Mapping[str, Any]) -> int:
    """Tell a v3 from a v2 service by ``@context``, then ``type``, then profile, then id key.

    Raises:
        UpstreamError: The document declares Image API 1.x, which this client does not read.
    """
    contexts = data.get("@context")
    for context in contexts if isinstance(contexts, list) else [contexts]:
        if isinstance(context, str):
            if "/image/3/" in context:
                return 3
            if "/image/2/" in context:
                return 2
            if "image-api/1" in context:
                raise UpstreamError("Image API 1.x services are not supported")
    kind = data.get("type", data.get("@type"))
    if kind == "ImageService3":
        return 3
    if kind in ("ImageService2", "iiif:Image", "iiif:ImageService"):
        return 2
    profile = data.get("profile")
    first = profile[0] if isinstance(profile, list) and profile else profile
    if isinstance(first, str) and "/image/2/" in first:
        return 2
    return 3 if "id" in data and "@id" not in data else 2


def _profile(profile: Any) -> tuple[int, dict[str, Any]]:
    """The compliance level and the merged description objects of a ``profile`` value."""
    items = profile if isinstance(profile, list) else [profile]
    level, described = 0, {}
    for item in items:
        if isinstance(item, str) and (match := _LEVEL.search(item)):
            level = int(match.group(1))
        elif isinstance(item, Mapping):
            described.update(item)
    return level, described


def _service_id(data: Mapping[str, Any], url: str | None) -> str:
    raw = data.get("id", data.get("@id")) or url
    if not isinstance(raw, str) or not raw.strip():
        raise UpstreamError("info.json has no id and its URL is unknown")
    raw = raw.strip()
    return raw.removesuffix("/info.json").rstrip("/")


# Larger sizes are nonsense (and 10**400 would overflow float conversion): treat as absent.
MAX_DIMENSION = 2**31 - 1


def _positive(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= MAX_DIMENSION else None
    return int(value) if 1 <= value <= MAX_DIMENSION and value.is_integer() else None


def _required_dimension(data: Mapping[str, Any], key: str) -> int:
    value = _positive(data.get(key))
    if value is None:
        raise UpstreamError(f"info.json has no usable {key!r} ({data.get(key)!r})")
    return value


def _strings(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def _sizes(value: Any) -> tuple[tuple[int, int], ...]:
    sizes = set()
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, Mapping):
            width, height = _positive(entry.get("width")), _positive(entry.get("height"))
            if width and height:
                sizes.add((width, height))
    return tuple(sorted(sizes))


def _tiles(value: Any) -> tuple[TileSpec, ...]:
    tiles = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, Mapping) or not (width := _positive(entry.get("width"))):
            continue
        factors = entry.get("scaleFactors")
        factors = factors if isinstance(factors, list) else [1]
        scale_factors = sorted({f for f in map(_positive, factors) if f}) or [1]
        tiles.append(TileSpec(width, _positive(entry.get("height")) or width,
                              tuple(scale_factors)))
    return tuple(tiles)
