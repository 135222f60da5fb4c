"""Strict v3 values for descriptive and linking properties: rights, services, linked resources.

Each fixer takes whatever a source had and returns a value the IIIF v3 JSON schema accepts, or
``None`` when nothing valid is left (the caller then drops the property). ``rights`` must be an
``http://`` Creative Commons or RightsStatements.org URI; ``service`` is always a list whose
entries are either v3 (``id``/``type``) or v2 (``@id``/``@type``) shaped, never both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import FormatChecker

from .language import language_map
from .properties import as_list, context_strings, node_id, node_type, positive_int
from .services import image_service_version

_RIGHTS = re.compile(r"^http://(creativecommons\.org/(licenses|publicdomain)|rightsstatements\.org"
                     r"/vocab)/\S*$")
_FORMAT = re.compile(r"^[a-z][a-z]*/.*$")
_BCP47 = re.compile(r"^[a-zA-Z-]+$")
BEHAVIORS = frozenset({
    "auto-advance", "no-auto-advance", "repeat", "no-repeat", "unordered", "individuals",
    "continuous", "paged", "facing-pages", "non-paged", "multi-part", "together", "sequence",
    "thumbnail-nav", "no-nav", "hidden"})
VIEWING_DIRECTIONS = frozenset({"left-to-right", "right-to-left", "top-to-bottom",
                                "bottom-to-top"})
_SERVICE_CONTEXTS = (("api/search/0", "SearchService1"), ("api/search/1", "SearchService1"),
                     ("api/search/2", "SearchService2"), ("api/auth/1", "AuthCookieService1"),
                     ("api/auth/2", "AuthAccessService2"))
_NOT_BODY_TYPES = ("TextualBody", "SpecificResource", "Feature")
_MAX_NESTING = 6
_URI = FormatChecker(["uri"])  # the check jsonschema applies to ``format: uri``


def is_http(value: Any) -> bool:
    """Whether ``value`` is a string the v3 schema accepts as an id: ``^http`` and a URI.

    The schema's ``format: uri`` refuses a bare ``"http"``, which the pattern alone lets by.
    """
    return (isinstance(value, str) and value.startswith("http")
            and _URI.conforms(value, "uri"))


def rights(value: Any) -> str | None:
    """A valid ``rights`` URI (``https``→``http``, RightsStatements ``/page/``→``/vocab/``)."""
    for item in as_list(value):
        uri = node_id(item)
        if not uri:
            continue
        uri = re.sub(r"^https://", "http://", uri)
        uri = uri.replace("rightsstatements.org/page/", "rightsstatements.org/vocab/")
        if _RIGHTS.match(uri):
            return uri
    return None


def behavior(value: Any) -> list[str] | None:
    """The known behaviors among ``value`` (v2 ``viewingHint`` values map one to one)."""
    kept = [b for b in as_list(value) if isinstance(b, str) and b in BEHAVIORS]
    return kept or None


def viewing_direction(value: Any) -> str | None:
    """A valid ``viewingDirection`` or ``None``."""
    return value if isinstance(value, str) and value in VIEWING_DIRECTIONS else None


def duration(value: Any) -> float | None:
    """A positive finite duration or ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e12:
        return value
    return None


def fix_format(node: dict[str, Any]) -> None:
    """Drop a ``format`` that is no media type."""
    if "format" in node and not (isinstance(node["format"], str) and _FORMAT.match(node["format"])):
        del node["format"]


def _guess_type(node: Mapping[str, Any], default: str) -> str:
    fmt = node.get("format")
    if isinstance(fmt, str):
        for prefix, kind in (("image/", "Image"), ("video/", "Video"), ("audio/", "Sound"),
                             ("text/", "Text"), ("application/pdf", "Text")):
            if fmt.startswith(prefix):
                return kind
    return default


def _v3_node(node: Mapping[str, Any], default_type: str) -> dict[str, Any] | None:
    """``node`` keyed ``id``/``type`` (from ``@id``/``@type`` too); ``None`` without an http id."""
    node_identifier = node_id(node)
    if not is_http(node_identifier):
        return None
    out = {k: v for k, v in node.items() if k not in ("@id", "@type", "@context", "id", "type")}
    kind = node.get("type") if isinstance(node.get("type"), str) else node_type(node)
    return {"id": node_identifier, "type": kind or _guess_type(node, default_type), **out}


def _fix_label(node: dict[str, Any]) -> None:
    replace_or_drop(node, "label", language_map)


def page_references(value: Any, keep_embedded: bool = False) -> list[Any] | None:
    """``annotations`` of a content resource as AnnotationPage references.

    With ``keep_embedded``, embedded pages stay as they are, for the caller to make strict.
    """
    kept: list[Any] = []
    for item in as_list(value):
        if not is_http(node_id(item)):
            continue
        embedded = keep_embedded and isinstance(item, Mapping) and "items" in item
        kept.append(item if embedded else {"id": node_id(item), "type": "AnnotationPage"})
    return kept or None


def resource(value: Any, default_type: str = "Image", depth: int = 0,
             keep_pages: bool = False) -> dict[str, Any] | None:
    """A content resource (thumbnail, logo, simple body) with ``id``, ``type`` and valid fields.

    Its ``annotations`` become page references; embedded pages are kept with ``keep_pages``.
    """
    node = _v3_node({"id": value} if isinstance(value, str) else value, default_type) \
        if isinstance(value, str | Mapping) else None
    if node is None or depth > _MAX_NESTING:
        return None
    if node["type"] in _NOT_BODY_TYPES:
        node["type"] = default_type
    for key in ("width", "height"):
        if key in node and positive_int(node[key]) is None:
            del node[key]
        elif key in node:
            node[key] = positive_int(node[key])
    if "duration" in node and duration(node["duration"]) is None:
        del node["duration"]
    fix_format(node)
    _fix_label(node)
    replace_or_drop(node, "service", lambda v: services(v, depth + 1))
    replace_or_drop(node, "thumbnail", lambda v: resources(v, "Image", depth + 1))
    replace_or_drop(node, "rendering", lambda v: linked(v, "Text"))
    replace_or_drop(node, "annotations", lambda v: page_references(v, keep_pages))
    if not isinstance(node.get("language", ""), str):
        del node["language"]
    return node


def resources(value: Any, default_type: str = "Image", depth: int = 0) -> list[dict] | None:
    """A list of :func:`resource` values, or ``None`` when none is valid."""
    kept = [r for r in (resource(v, default_type, depth) for v in as_list(value)) if r]
    return kept or None


def replace_or_drop(node: dict[str, Any], key: str, fixer: Callable[[Any], Any]) -> None:
    """Replace ``node[key]`` by ``fixer(node[key])``, or delete it when that is ``None``."""
    if key in node:
        fixed = fixer(node[key])
        if fixed is None:
            del node[key]
        else:
            node[key] = fixed


def linked(value: Any, default_type: str) -> list[dict[str, Any]] | None:
    """``seeAlso``/``rendering``/``homepage``/``partOf``: objects with ``id``, ``type``."""
    kept = []
    for item in as_list(value):
        node = _v3_node({"id": item} if isinstance(item, str) else item, default_type) \
            if isinstance(item, str | Mapping) else None
        if node is None:
            continue
        fix_format(node)
        _fix_label(node)
        if not isinstance(node.get("profile", ""), str):
            del node["profile"]
        replace_or_drop(node, "language", _languages)
        kept.append(node)
    return kept or None


def _languages(value: Any) -> list[str] | None:
    kept = [v for v in as_list(value) if isinstance(v, str) and _BCP47.match(v)]
    return kept or None


def provider(value: Any) -> list[dict[str, Any]] | None:
    """``provider``: ``Agent`` objects with their homepage, logo and seeAlso made valid."""
    kept = []
    for item in as_list(value):
        node = _v3_node(item, "Agent") if isinstance(item, Mapping) else None
        if node is None:
            continue
        node["type"] = "Agent"
        _fix_label(node)
        replace_or_drop(node, "homepage", lambda v: linked(v, "Text"))
        replace_or_drop(node, "logo", lambda v: resources(v, "Image"))
        replace_or_drop(node, "seeAlso", lambda v: linked(v, "Dataset"))
        kept.append(node)
    return kept or None


def _service_type(service: Mapping[str, Any]) -> str:
    version = image_service_version(service)
    if version is not None:
        return f"ImageService{version}"
    for context in context_strings(service) + [p for p in as_list(service.get("profile"))
                                               if isinstance(p, str)]:
        for marker, kind in _SERVICE_CONTEXTS:
            if marker in context:
                return kind
    return "Service"


def service(value: Any, depth: int = 0) -> dict[str, Any] | None:
    """One service entry in v3 (``id``/``type``) or v2 (``@id``/``@type``) shape, not both."""
    if isinstance(value, str) and is_http(value):
        return {"id": value, "type": "Service"}
    if not isinstance(value, Mapping) or not is_http(node_id(value)) or depth > _MAX_NESTING:
        return None
    v2_shaped = "id" not in value or not is_http(value.get("id"))
    id_key, type_key = ("@id", "@type") if v2_shaped else ("id", "type")
    kind = value.get(type_key) if isinstance(value.get(type_key), str) else _service_type(value)
    rest = {k: v for k, v in value.items() if k not in ("@id", "@type", "id", "type")}
    out = {id_key: node_id(value), type_key: kind, **rest}
    profiles = [p for p in as_list(out.get("profile")) if isinstance(p, str)]
    if "profile" in out:
        out.pop("profile")
        out.update({"profile": profiles[0]} if profiles else {})
    if not v2_shaped:
        _fix_label(out)
    replace_or_drop(out, "service", lambda v: services(v, depth + 1))
    return out


def services(value: Any, depth: int = 0) -> list[dict[str, Any]] | None:
    """``service``/``services``: always a list; entries without an http id are dropped."""
    kept = [s for s in (service(v, depth) for v in as_list(value)) if s]
    return kept or None
