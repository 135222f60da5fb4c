"""Writing a IIIF Presentation 2.1 manifest from a 3.0 one, for Mirador 2 and UV-era viewers.

Keeps what a v2 viewer can use: label, summary (``description``), metadata, required
statement (``attribution``), rights (``license``), thumbnail, viewing direction and hint, and
the image canvases (one sequence) with their painted images — plain, a choice, or a region of
an image (``oa:SpecificResource`` with an ``iiif:ImageApiSelector``) — and image services.
Canvases without a width and height (audio, video) and existing v3 annotation pages, which v2
viewers cannot read, are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .language import v2_value
from .properties import as_list, dicts, node_id, node_type, positive_int
from .services import image_service_version
from .v3 import painting_annotations

V2_CONTEXT = "http://iiif.io/api/presentation/2/context.json"
_SELECTOR_CONTEXT = "http://iiif.io/api/annex/openannotation/context.json"
_V2_HINTS = ("individuals", "paged", "continuous", "multi-part", "non-paged", "facing-pages")


def _first_id(value: Any) -> str | None:
    return next((node_id(v) for v in as_list(value) if node_id(v)), None)


def _descriptive(node: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v3, v2 in (("summary", "description"),):
        if v2_value(node.get(v3)) is not None:
            out[v2] = v2_value(node.get(v3))
    pairs = [{"label": v2_value(m.get("label")), "value": v2_value(m.get("value"))}
             for m in dicts(node.get("metadata"))]
    if pairs:
        out["metadata"] = [p for p in pairs if p["label"] is not None and p["value"] is not None]
    statement = node.get("requiredStatement")
    if isinstance(statement, Mapping) and v2_value(statement.get("value")) is not None:
        out["attribution"] = v2_value(statement.get("value"))
    links = (("rights", "license"), ("thumbnail", "thumbnail"), ("homepage", "related"))
    out.update({v2: {"@id": _first_id(node.get(v3))} if v2 == "thumbnail" else _first_id(
        node.get(v3)) for v3, v2 in links if _first_id(node.get(v3))})
    hints = [b for b in as_list(node.get("behavior")) if b in _V2_HINTS]
    if hints:
        out["viewingHint"] = hints[0]
    return out


def downgrade_manifest(doc: Mapping[str, Any], manifest_id: str) -> dict[str, Any]:
    """A v2.1 manifest with the image content of the v3 manifest ``doc``."""
    out: dict[str, Any] = {"@context": V2_CONTEXT, "@id": manifest_id, "@type": "sc:Manifest",
                           "label": v2_value(doc.get("label")) or manifest_id}
    out.update(_descriptive(doc))
    for key in ("viewingDirection", "navDate"):
        if isinstance(doc.get(key), str):
            out[key] = doc[key]
    logo = _first_id([logo for p in dicts(doc.get("provider")) for logo in as_list(p.get("logo"))])
    if logo:
        out["logo"] = logo
    canvases = [downgrade_canvas(c) for c in dicts(doc.get("items"))]
    out["sequences"] = [{"@id": f"{manifest_id}/sequence/normal", "@type": "sc:Sequence",
                         "canvases": [c for c in canvases if c is not None]}]
    return out


def downgrade_canvas(canvas: Mapping[str, Any]) -> dict[str, Any] | None:
    """A v2 canvas, or ``None`` for one without an id or a positive width and height."""
    canvas_id = node_id(canvas)
    width, height = positive_int(canvas.get("width")), positive_int(canvas.get("height"))
    if not (canvas_id and width and height):
        return None
    images = [_image_annotation(a, canvas_id, f"{canvas_id}/annotation/{i}")
              for i, a in enumerate(painting_annotations(canvas))]
    return {"@id": canvas_id, "@type": "sc:Canvas", "label": v2_value(canvas.get("label")) or "",
            "width": width, "height": height, **_descriptive(canvas),
            "images": [image for image in images if image is not None]}


def _image_annotation(annotation: Mapping[str, Any], canvas_id: str,
                      fallback_id: str) -> dict[str, Any] | None:
    resource = _resource(annotation.get("body"))
    if resource is None:
        return None
    return {"@id": node_id(annotation) or fallback_id, "@type": "oa:Annotation",
            "motivation": "sc:painting", "resource": resource,
            "on": _on(annotation.get("target"), canvas_id)}


def _on(target: Any, canvas_id: str) -> str:
    for item in as_list(target):
        if isinstance(item, str):
            return item
        if isinstance(item, Mapping):
            source = node_id(item.get("source")) or node_id(item) or canvas_id
            values = [s.get("value") for s in dicts(item.get("selector"))]
            fragment = next((v for v in values if isinstance(v, str) and "xywh=" in v), None)
            return f"{source}#{fragment}" if fragment else source
    return canvas_id


def _resource(body: Any, depth: int = 0) -> dict[str, Any] | None:
    body = next((b for b in dicts(body)), None) if isinstance(body, list) else body
    if not isinstance(body, Mapping) or depth > 4:
        return None
    kind = node_type(body)
    if kind == "Choice":
        options = [r for r in (_resource(i, depth + 1) for i in dicts(body.get("items"))) if r]
        return {"@type": "oa:Choice", "default": options[0], "item": options[1:]} if options \
            else None
    if kind == "SpecificResource":
        full = _resource(body.get("source"), depth + 1)
        selectors = [_selector(s) for s in dicts(body.get("selector"))
                     if node_type(s) == "ImageApiSelector"]
        if full is None:
            return None
        return {"@type": "oa:SpecificResource", "full": full, **(
            {"selector": selectors[0]} if selectors else {})}
    return _image(body) if kind == "Image" else None


def _selector(selector: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: str(v) for k, v in selector.items() if k in ("region", "rotation")}
    return {"@context": _SELECTOR_CONTEXT, "@type": "iiif:ImageApiSelector", **kept}


def _image(body: Mapping[str, Any]) -> dict[str, Any] | None:
    image_id = node_id(body)
    if image_id is None:
        return None
    out: dict[str, Any] = {"@id": image_id, "@type": "dctypes:Image"}
    out.update({k: body[k] for k in ("format",) if isinstance(body.get(k), str)})
    out.update({k: positive_int(body[k]) for k in ("width", "height")
                if positive_int(body.get(k))})
    services = [s for s in (_service(s) for s in as_list(body.get("service"))) if s]
    if services:
        out["service"] = services[0] if len(services) == 1 else services
    return out


def _service(service: Any) -> dict[str, Any] | None:
    version = image_service_version(service)
    if version is None or not isinstance(service, Mapping):
        return None
    profile = next((p for p in as_list(service.get("profile")) if isinstance(p, str)), None)
    if profile and profile.startswith("level") and version < 3:
        profile = f"http://iiif.io/api/image/{version}/{profile}.json"
    out = {"@context": f"http://iiif.io/api/image/{version}/context.json",
           "@id": node_id(service)}
    return {**out, **({"profile": profile} if profile else {})}
