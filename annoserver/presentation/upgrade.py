"""Upgrading a IIIF Presentation 2.x manifest to 3.0 (as plain dicts), keeping what it says.

Follows the IIIF 2→3 upgrade rules: ``description``→``summary``, ``attribution``→
``requiredStatement``, ``license``→``rights`` (or a "License" metadata pair when it is not a
Creative Commons/RightsStatements URI), ``logo``→``provider``, ``related``→``homepage``,
``within``→``partOf``, ``viewingHint``→``behavior``; the first sequence's canvases become
``items`` (``images`` → a painting AnnotationPage, ``otherContent`` → ``annotations``), further
sequences and ``structures`` become Ranges. Values are made strict afterwards by :mod:`.strict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import linking
from .language import language_map
from .properties import as_list, dicts, node_id, node_type
from .strict import V3_CONTEXT

_TYPES = {"Image": "Image", "Sound": "Sound", "Audio": "Sound", "Text": "Text",
          "MovingImage": "Video", "Dataset": "Dataset", "Choice": "Choice",
          "SpecificResource": "SpecificResource", "ContentAsText": "TextualBody",
          "FragmentSelector": "FragmentSelector", "SvgSelector": "SvgSelector",
          "ImageApiSelector": "ImageApiSelector"}
_SAME = ("label", "metadata", "thumbnail", "seeAlso", "rendering", "service", "navDate",
         "viewingDirection", "width", "height")


def _descriptive(node: Mapping[str, Any], node_identifier: str) -> dict[str, Any]:
    """The v3 descriptive and linking properties of a v2 manifest, canvas or range."""
    out = {key: node[key] for key in _SAME if key in node}
    out.update({v3: node[v2] for v2, v3 in (("description", "summary"), ("related", "homepage"),
                                            ("viewingHint", "behavior")) if v2 in node})
    if "attribution" in node:
        out["requiredStatement"] = {"label": {"en": ["Attribution"]}, "value": node["attribution"]}
    if "within" in node:
        out["partOf"] = [{"id": node_id(w), "type": node_type(w) or "Collection"}
                         for w in as_list(node["within"]) if linking.is_http(node_id(w))]
    _license(node, out)
    if "logo" in node:
        out["provider"] = [{"id": f"{node_identifier}#provider", "type": "Agent",
                            "label": {"none": ["Provider"]}, "logo": node["logo"]}]
    return out


def _license(node: Mapping[str, Any], out: dict[str, Any]) -> None:
    licences = [node_id(item) for item in as_list(node.get("license")) if node_id(item)]
    if not licences:
        return
    valid = linking.rights(licences)
    if valid:
        out["rights"] = valid
    others = [uri for uri in licences if linking.rights(uri) is None]
    if others:
        pairs = [{"label": {"en": ["License"]}, "value": {"none": others}}]
        out["metadata"] = list(dicts(out.get("metadata"))) + pairs


def upgrade_manifest(doc: Mapping[str, Any], manifest_id: str) -> dict[str, Any]:
    """A v3 manifest (dicts, not yet strict) with the content of the v2 manifest ``doc``."""
    sequences = dicts(doc.get("sequences"))
    first = sequences[0] if sequences else {}
    out: dict[str, Any] = {"@context": V3_CONTEXT, "id": manifest_id, "type": "Manifest"}
    out.update(_descriptive(doc, manifest_id))
    for key, v3 in (("viewingDirection", "viewingDirection"), ("viewingHint", "behavior")):
        if key in first and v3 not in out:
            out[v3] = first[key]
    out["items"] = [upgrade_canvas(c) for c in dicts(first.get("canvases"))]
    ranges = _ranges(dicts(doc.get("structures")))
    ranges += [_sequence_range(s, manifest_id, i) for i, s in enumerate(sequences[1:], start=1)]
    if ranges:
        out["structures"] = ranges
    return out


def upgrade_canvas(canvas: Mapping[str, Any]) -> dict[str, Any]:
    """A v3 canvas from a v2 one: images → one painting page, otherContent → annotations."""
    canvas_id = node_id(canvas) or ""
    out: dict[str, Any] = {"id": canvas_id, "type": "Canvas"}
    out.update(_descriptive(canvas, canvas_id))
    paintings = [_painting(a, canvas_id, f"{canvas_id}/annotation/{i}")
                 for i, a in enumerate(dicts(canvas.get("images")))]
    out["items"] = ([{"id": f"{canvas_id}/page/painting", "type": "AnnotationPage",
                      "items": paintings}] if paintings else [])
    pages = [{**({"label": o["label"]} if isinstance(o, Mapping) and "label" in o else {}),
              "id": node_id(o), "type": "AnnotationPage"}
             for o in as_list(canvas.get("otherContent")) if node_id(o)]
    if pages:
        out["annotations"] = pages
    return out


def _painting(annotation: Mapping[str, Any], canvas_id: str, fallback_id: str) -> dict[str, Any]:
    return {"id": node_id(annotation) or fallback_id, "type": "Annotation",
            "motivation": "painting", "body": _body(annotation.get("resource")),
            "target": _target(annotation.get("on"), canvas_id)}


def _body(resource: Any, depth: int = 0) -> Any:
    if not isinstance(resource, Mapping) or depth > 4:
        return resource
    kind = _TYPES.get(node_type(resource), node_type(resource))
    if kind == "Choice":
        options = [resource.get("default"), *as_list(resource.get("item"))]
        return {"type": "Choice", "items": [_body(o, depth + 1) for o in options
                                            if isinstance(o, Mapping)]}
    if kind == "SpecificResource" or "full" in resource:
        return {"type": "SpecificResource", "source": _body(resource.get("full"), depth + 1),
                "selector": [_selector(s) for s in dicts(resource.get("selector"))]}
    if kind == "TextualBody" or "chars" in resource:
        return {"type": "TextualBody", "value": str(resource.get("chars", "")),
                **({"format": resource["format"]} if "format" in resource else {})}
    out = {k: v for k, v in resource.items() if k not in ("@id", "@type", "@context")}
    return {**out, **({"id": node_id(resource)} if node_id(resource) else {}),
            "type": kind or "Image"}


def _selector(selector: Mapping[str, Any]) -> dict[str, Any]:
    kind = _TYPES.get(node_type(selector), node_type(selector) or "FragmentSelector")
    out = {k: str(v) for k, v in selector.items()
           if k in ("region", "size", "rotation", "quality", "format", "value")}
    return {"type": kind, **out}


def _target(on: Any, canvas_id: str) -> Any:
    for item in as_list(on):
        if isinstance(item, str):
            return item
        if isinstance(item, Mapping):
            source = node_id(item.get("full")) or canvas_id
            values = [s.get("value") for s in dicts(item.get("selector"))]
            fragment = next((v for v in values if isinstance(v, str) and "xywh=" in v), None)
            return f"{source}#{fragment}" if fragment else source
    return canvas_id


def _range_items(node: Mapping[str, Any], by_id: dict[str, Mapping[str, Any]],
                 seen: set[str]) -> list[Any]:
    if "members" in node:
        members = [(node_id(m), node_type(m)) for m in as_list(node["members"])]
    else:
        members = [(node_id(r), "Range") for r in as_list(node.get("ranges"))]
        members += [(node_id(c), "Canvas") for c in as_list(node.get("canvases"))]
    items: list[Any] = []
    for member_id, kind in members:
        if member_id and kind == "Range" and member_id in by_id and member_id not in seen:
            items.append(_range(by_id[member_id], by_id, seen))
        elif member_id:
            items.append({"id": member_id, "type": "Range" if kind == "Range" else "Canvas"})
    return items


def _range(node: Mapping[str, Any], by_id: dict[str, Mapping[str, Any]],
           seen: set[str]) -> dict[str, Any]:
    range_id = node_id(node) or ""
    seen.add(range_id)
    out: dict[str, Any] = {"id": range_id, "type": "Range", **_descriptive(node, range_id)}
    out["items"] = _range_items(node, by_id, seen)
    return out


def _ranges(structures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {node_id(r): r for r in structures if node_id(r)}
    children = {node_id(r) for s in structures for r in as_list(s.get("ranges"))}
    children |= {node_id(m) for s in structures for m in as_list(s.get("members"))
                 if node_type(m) == "Range"}
    seen: set[str] = set()
    return [_range(r, by_id, seen) for r in structures
            if node_id(r) not in children and node_id(r) not in seen]


def _sequence_range(sequence: Mapping[str, Any], manifest_id: str, index: int) -> dict[str, Any]:
    """A further v2 sequence, as v3 says to keep it: a Range with behavior ``sequence``."""
    label = language_map(sequence.get("label")) or {"en": [f"Sequence {index + 1}"]}
    return {"id": node_id(sequence) or f"{manifest_id}/sequence/{index}", "type": "Range",
            "label": label,
            "behavior": ["sequence"],
            "items": [{"id": node_id(c), "type": "Canvas"}
                      for c in as_list(sequence.get("canvases")) if node_id(c)]}
