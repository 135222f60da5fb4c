"""Finding the IIIF Image API service of an image resource, and its Image API version.

Services come as an object or a list, keyed ``id``/``type`` (v3) or ``@id``/``@type`` (v2 and
v2 services inside v3 manifests), with a version said by ``type`` (``ImageService2``), by
``@context`` (``.../image/2/context.json``) or only by ``profile`` (``.../image/2/level1.json``,
Image API 1.1's ``library.stanford.edu`` URIs, or a bare ``level1``). Authentication, physical
dimension and search services sit in the same lists and are not image services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .properties import as_list, context_strings, node_id, node_type

_TYPE_VERSION = {"ImageService1": 1, "ImageService2": 2, "ImageService3": 3}
_IMAGE_API = re.compile(r"iiif\.io/api/image/(\d)")
_STANFORD_V1 = "library.stanford.edu/iiif/image-api"
_BARE_LEVEL = re.compile(r"^level[012]$")


def _profile_strings(service: Mapping[str, Any]) -> list[str]:
    return [p for p in as_list(service.get("profile")) if isinstance(p, str)]


def _context_version(service: Mapping[str, Any]) -> int | None:
    for context in context_strings(service):
        match = _IMAGE_API.search(context)
        if match:
            return int(match.group(1))
    return None


def _profile_version(service: Mapping[str, Any]) -> int | None:
    for profile in _profile_strings(service):
        match = _IMAGE_API.search(profile)
        if match:
            return int(match.group(1))
        if _STANFORD_V1 in profile:
            return 1
        if _BARE_LEVEL.match(profile):
            return 3 if "id" in service else 2
    return None


def image_service_version(service: Any) -> int | None:
    """The Image API version (1, 2 or 3) of ``service``, or ``None`` if it is no image service.

    ``type``/``@type`` decides first, then ``@context``, then ``profile``.
    """
    if not isinstance(service, Mapping) or node_id(service) is None:
        return None
    kind = node_type(service)
    if kind in _TYPE_VERSION:
        return _TYPE_VERSION[kind]
    by_context = _context_version(service)
    if by_context is not None or kind not in ("", "ImageService"):
        return by_context
    return _profile_version(service)


def normalise_service_id(service_id: str) -> str:
    """A service id without a trailing ``/`` or ``/info.json`` (both occur in the wild)."""
    service_id = service_id.strip()
    if service_id.endswith("/info.json"):
        service_id = service_id[: -len("/info.json")]
    return service_id.rstrip("/")


def find_image_service(resource: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The best image service of an image resource: ``(service id, version)``.

    The highest Image API version wins when several are offered; ``(None, None)`` when the
    resource has no image service at all.
    """
    best: tuple[str | None, int | None] = (None, None)
    for service in as_list(resource.get("service")) + as_list(resource.get("services")):
        version = image_service_version(service)
        if version is not None and (best[1] is None or version > best[1]):
            best = (normalise_service_id(node_id(service) or ""), version)
    return best
