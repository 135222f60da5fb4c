"""A IIIF Presentation 2 ``sc:AnnotationList`` view of a canvas, for SAS-era clients.

Mirador 2 and the Universal Viewer read Open Annotation (``oa:``) lists referenced from
``otherContent``; this converts stored W3C annotations to that shape on the way out.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Response

from annoserver.errors import BadRequest
from annoserver.store.listing import Filters, ViewReader
from annoserver.web.negotiation import json_response

PRESENTATION_2 = "http://iiif.io/api/presentation/2/context.json"
MAX_ITEMS = 10_000


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _resource(body: Any) -> dict[str, Any]:
    if isinstance(body, str):
        return {"@id": body}
    if body.get("type") == "TextualBody" or "value" in body:
        resource = {"@type": "dctypes:Text", "format": body.get("format", "text/plain"),
                    "chars": body.get("value", "")}
        return resource | ({"language": body["language"]} if "language" in body else {})
    return {"@id": body.get("id"), "@type": body.get("type")}


def _on(target: Any) -> Any:
    """A v2 ``on``: ``canvas#xywh=…`` when a fragment selector says where, else the IRI."""
    if isinstance(target, str):
        return target
    source = target.get("source", target)
    source_id = source.get("id") if isinstance(source, dict) else source
    fragments = [s.get("value") for s in _as_list(target.get("selector"))
                 if isinstance(s, dict) and s.get("type") == "FragmentSelector"]
    return f"{source_id}#{fragments[0]}" if fragments else source_id


def to_open_annotation(annotation: dict[str, Any]) -> dict[str, Any]:
    """Convert one W3C annotation (with its ``id``) to a IIIF v2 ``oa:Annotation``."""
    motivations = [m if ":" in m else f"oa:{m}"
                   for m in _as_list(annotation.get("motivation"))] or ["oa:commenting"]
    bodies = _as_list(annotation.get("body")) or _as_list(
        {"value": annotation["bodyValue"]} if "bodyValue" in annotation else None)
    targets = [_on(target) for target in _as_list(annotation.get("target"))]
    return {"@id": annotation["id"], "@type": "oa:Annotation", "motivation": motivations,
            "resource": [_resource(body) for body in bodies],
            "on": targets[0] if len(targets) == 1 else targets}


def annotation_list(reader: ViewReader, filters: Filters, container_url: str) -> Response:
    """The AnnotationList of one canvas (the ``target``/``canvas`` filter is required)."""
    if filters.target is None:
        raise BadRequest("format=v2 lists the annotations of one canvas: give 'canvas'.")
    # SAS-era clients do not page AnnotationLists; cap what one list may hold.
    rows = reader.page_texts(filters, 0, MAX_ITEMS)
    params = {"canvas": filters.target, "format": "v2"}
    document = {
        "@context": PRESENTATION_2,
        "@id": container_url + "?" + urlencode(params),
        "@type": "sc:AnnotationList",
        "resources": [to_open_annotation({"id": container_url + row.slug, **json.loads(row.text)})
                      for row in rows],
    }
    return json_response(document, media_type="application/json", headers={"Vary": "Accept"})
