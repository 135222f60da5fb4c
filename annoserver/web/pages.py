"""``/pages/{id}``: the annotations of one canvas × model that an enriched manifest lists.

Read live from the store (the container filtered by canvas, manifest and model), as a IIIF
Presentation 3 AnnotationPage that Mirador 3 reads, or (``?version=2``) as a Presentation 2
``sc:AnnotationList`` for Mirador 2 / UV-era viewers. ``min_confidence`` and ``review``
filter; ETag and Last-Modified make polling cheap.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.http import http_date

from annoserver.errors import BadRequest
from annoserver.inference.errors import UnknownModel
from annoserver.jobs import parse_page_id
from annoserver.jobs.enriched import (
    PRESENTATION_2,
    PRESENTATION_3,
    layer_collection_url,
    page_url,
)
from annoserver.jobs.errors import UnknownPage
from annoserver.store.listing import Filters, PageRow
from annoserver.web.iiif2 import to_open_annotation
from annoserver.web.jobs import context
from annoserver.web.negotiation import json_response
from annoserver.web.urls import base_url

blueprint = Blueprint("pages", __name__)
# Pages are not paged (viewers fetch one per canvas and layer); cap what one may hold.
MAX_ITEMS = 10_000


def presentation_version() -> int:
    """The ``version`` query parameter: 3 (default) or 2; 400 otherwise."""
    raw = request.args.get("version", "3")
    if raw not in ("2", "3"):
        raise BadRequest(f"'version' is 2 or 3, not {raw!r}.")
    return int(raw)


def _min_confidence() -> float | None:
    raw = request.args.get("min_confidence")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise BadRequest(f"'min_confidence' is a number between 0 and 1, not {raw!r}.")
    return value


def _filters(page: str) -> tuple[Filters, str]:
    """The store filter of page ``page`` and the model it shows; 404 when unknown."""
    parsed = parse_page_id(page)
    manifests = context().manifests
    record = manifests.get(parsed[0]) if parsed else None
    canvas_id = manifests.canvas(parsed[0], parsed[1]) if record else None
    if canvas_id is None:
        raise UnknownPage(f"No enriched manifest lists an annotation page {page!r}.")
    return Filters(target=canvas_id, manifest=record.iiif_id, creator=parsed[2],
                   min_confidence=_min_confidence(), review=request.args.get("review")), parsed[2]


def _label(model_id: str) -> str:
    try:
        version = current_app.extensions["annoserver.runtime"].get(model_id).config.version
    except UnknownModel:
        return f"{model_id} annotations"
    return f"{model_id} {version} annotations"


def _items(rows: list[PageRow], base: str) -> list[dict[str, Any]]:
    items = []
    for row in rows:
        document = json.loads(row.text)
        document.pop("@context", None)  # the page's context covers it
        items.append({"id": f"{base}annotations/{row.slug}", **document})
    return items


def _document(page: str, filters: Filters, model_id: str, rows: list[PageRow],
              version: int) -> dict[str, Any]:
    base = base_url()
    label, items = _label(model_id), _items(rows, base)
    layer = layer_collection_url(base, filters.manifest or "", model_id)
    if version == 2:
        return {"@context": PRESENTATION_2, "@id": page_url(base, page, 2),
                "@type": "sc:AnnotationList", "label": label,
                "within": {"@id": layer, "@type": "sc:Layer", "label": label},
                "resources": [to_open_annotation(item) for item in items]}
    return {"@context": [f"{base}ns/annoserver.jsonld", PRESENTATION_3],
            "id": page_url(base, page), "type": "AnnotationPage", "label": {"en": [label]},
            "partOf": [{"id": layer, "type": "AnnotationCollection", "label": {"en": [label]}}],
            "items": items}


@blueprint.get("/pages/<page>")
def annotation_page(page: str) -> Response:
    """One canvas × model's annotations (``?version=2``: an sc:AnnotationList)."""
    version = presentation_version()
    filters, model_id = _filters(page)
    with current_app.extensions["annoserver.annotations"].reading() as reader:
        summary = reader.summary(filters)
        tag = (f"{summary.version}|{version}|{filters.min_confidence}|{filters.review}|"
               f"{base_url()}")
        etag = '"' + hashlib.sha256(tag.encode()).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Vary": "Accept"}
        if summary.modified:
            headers["Last-Modified"] = http_date(summary.modified)
        if etag in request.headers.get("If-None-Match", ""):
            return Response(status=304, headers=headers)
        rows = reader.page_texts(filters, 0, MAX_ITEMS)
    document = _document(page, filters, model_id, rows, version)
    media_type = ("application/json" if version == 2 else
                  'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"')
    return json_response(document, media_type=media_type, headers=headers)
