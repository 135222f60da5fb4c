"""Strict v3 annotation bodies, selectors and geographic values, for :mod:`.strict`.

Bodies are a content resource (``id`` and ``type``), a ``TextualBody`` (``value``), a ``Choice``
of bodies, a ``SpecificResource`` (a valid ``source`` and the selectors the IIIF v3 schema
knows), or a GeoJSON ``Feature``; anything else is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import linking
from .properties import as_list, node_id, node_type, positive_int

_TEXT_KEYS = ("value", "format", "language", "processingLanguage", "created", "modified")
_SELECTOR_NEEDS = {"FragmentSelector": ("value",), "SvgSelector": ("value",),
                   "XPathSelector": ("value",), "CssSelector": ("value",),
                   "TextQuoteSelector": ("exact",), "ImageApiSelector": (),
                   "PointSelector": ()}
_PLAIN_KEYS = ("scope", "styleClass", "purpose", "accessibility")
_MAX_DEPTH = 6


def nav_place(value: Any) -> dict[str, Any] | None:
    """A ``navPlace`` FeatureCollection with only valid features, or ``None``."""
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        return None
    features = [f for f in as_list(value.get("features")) if isinstance(f, Mapping)
                and f.get("type") == "Feature" and is_feature(f)]
    out = {**value, "features": features} if "features" in value else dict(value)
    return out if "id" not in out or linking.is_http(out["id"]) else None


def fix_body(annotation: dict[str, Any]) -> None:
    """Make ``annotation["body"]`` valid in place, dropping it when nothing valid is left."""
    if "body" not in annotation:
        return
    bodies = [b for b in (body(v) for v in as_list(annotation["body"])) if b]
    if not bodies:
        del annotation["body"]
    else:
        annotation["body"] = bodies if isinstance(annotation["body"], list) else bodies[0]


def body(value: Any, depth: int = 0) -> dict[str, Any] | None:
    """One strict annotation body, or ``None``."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, Mapping) and node_type(value) == "Choice":
        items = [b for b in (body(v, depth + 1) for v in as_list(value.get("items"))) if b]
        return {**{k: v for k, v in value.items() if k not in ("@id", "@type", "id")},
                "type": "Choice", "items": items} if items else None
    if isinstance(value, Mapping) and node_type(value) == "SpecificResource":
        return specific_resource(value, depth)
    if isinstance(value, Mapping) and node_type(value) == "Feature":
        return dict(value) if is_feature(value) else None
    if isinstance(value, Mapping) and isinstance(value.get("value"), str) and (
            node_type(value) == "TextualBody" or not node_id(value)):
        return _textual_body(value)
    return linking.resource(value, "Image", keep_pages=True)


def specific_resource(value: Any, depth: int = 0) -> dict[str, Any] | None:
    """A SpecificResource with a valid source and only selectors the schema knows."""
    if not isinstance(value, Mapping):
        return None
    source = value.get("source")
    fixed = body(source, depth + 1) if isinstance(source, Mapping) else source
    if not (isinstance(fixed, Mapping) or linking.is_http(fixed)):
        return None
    out = {k: v for k, v in value.items() if k not in ("@id", "@type", "@context")}
    out.update(type="SpecificResource", source=fixed)
    if "id" in out and not linking.is_http(out["id"]):
        del out["id"]
    linking.fix_format(out)
    selectors = [s for s in (selector(v) for v in as_list(value.get("selector"))) if s]
    out.pop("selector", None)
    if selectors:
        out["selector"] = selectors if isinstance(value.get("selector"), list) else selectors[0]
    for key in ("state", "renderedVia"):
        out.pop(key, None)
    for key in _PLAIN_KEYS:
        if key in out and not _plain(out[key]):
            del out[key]
    return out


def _plain(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(
        isinstance(v, str) for v in value))


def selector(value: Any) -> Any:
    """A selector the schema accepts (a known type with its string fields), else ``None``."""
    if linking.is_http(value):
        return value
    kind = node_type(value)
    if kind not in _SELECTOR_NEEDS:
        return None
    if any(not isinstance(value.get(key), str) for key in _SELECTOR_NEEDS[kind]):
        return None
    out = {k: v for k, v in value.items() if k not in ("@type", "@context")}
    out["type"] = kind
    if kind == "PointSelector":
        out = {k: v for k, v in out.items() if k not in ("x", "y", "t")}
        out.update({k: value[k] for k in ("x", "y") if positive_int(value.get(k)) == value.get(k)})
        out.update({"t": value["t"]} if linking.duration(value.get("t")) else {})
    if kind == "ImageApiSelector":
        out = {"type": kind, **{k: str(v) for k, v in value.items()
                                if k in ("region", "size", "rotation", "quality", "format")}}
    if kind == "FragmentSelector" and not linking.is_http(out.get("conformsTo")):
        out.pop("conformsTo", None)
    return out


def is_feature(value: Mapping[str, Any]) -> bool:
    """Whether ``value`` is a GeoJSON Feature the schema accepts (it needs a ``geometry``)."""
    geometry = value.get("geometry")
    return isinstance(geometry, Mapping) and isinstance(geometry.get("type"), str) and \
        isinstance(geometry.get("coordinates"), list) and \
        isinstance(value.get("properties", {}), Mapping) and \
        ("id" not in value or linking.is_http(value["id"]))


def _textual_body(value: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in value.items() if k not in ("@id", "@type", "@context", "id")}
    out["type"] = "TextualBody"
    for key in _TEXT_KEYS:
        if key in out and not isinstance(out[key], str):
            del out[key]
    if "purpose" in out and not _plain(out["purpose"]):
        del out["purpose"]
    if out.get("textDirection", "ltr") not in ("ltr", "rtl", "auto"):
        del out["textDirection"]
    if "creator" in out and not (isinstance(out["creator"], str) or _is_agent(out["creator"])):
        del out["creator"]
    if linking.is_http(node_id(value)):
        out["id"] = node_id(value)
    linking.fix_format(out)
    return out


def _is_agent(value: Any) -> bool:
    if not isinstance(value, Mapping) or not _plain(value.get("type", "")):
        return False
    uris_ok = all(linking.is_http(value[k]) for k in ("id", "homepage") if k in value)
    texts_ok = all(isinstance(value[k], str) for k in ("name", "nickname", "email_sha1")
                   if k in value)
    return uris_ok and texts_ok and str(value.get("email", "mailto:")).startswith("mailto:")


def resources_in(value: Any, depth: int = 0) -> list[dict[str, Any]]:
    """Every content resource in a strict body: itself, Choice items, SpecificResource sources."""
    found = []
    for item in as_list(value):
        if isinstance(item, dict) and depth <= _MAX_DEPTH:
            found.append(item)
            found += resources_in(item.get("items") if item.get("type") == "Choice" else None,
                                  depth + 1)
            found += resources_in(item.get("source"), depth + 1)
    return found
