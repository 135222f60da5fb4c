"""``/export``: a registered manifest's annotations as JSON Lines, CSV or COCO, streamed.

The body is produced while it is sent (:mod:`annoserver.store.export`), so an export of any
size holds one batch of annotations in memory; the container's filters (``model``,
``motivation``, ``min_confidence``, ``review``, ``canvas``) narrow it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from flask import Blueprint, Response, current_app, request

from annoserver.errors import BadRequest
from annoserver.presentation import read_manifest
from annoserver.store.export import CocoWriter, annotations, csv_text, jsonl
from annoserver.web.annotations import request_filters
from annoserver.web.jobs import context
from annoserver.web.search import registered_manifest
from annoserver.web.urls import base_url

blueprint = Blueprint("export", __name__)

MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
               "coco": "application/json"}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "coco": "coco.json"}
CHUNK = 64 * 1024  # characters gathered before a write: few, large writes


def _chunked(parts: Iterable[str]) -> Iterator[bytes]:
    buffered, size = [], 0
    for part in parts:
        buffered.append(part)
        size += len(part)
        if size >= CHUNK:
            yield "".join(buffered).encode()
            buffered, size = [], 0
    yield "".join(buffered).encode()


@blueprint.get("/export")
def export() -> Response:
    """Stream the annotations of ``manifest`` (its IRI or key) in ``format``."""
    fmt = request.args.get("format", "jsonl")
    if fmt not in MEDIA_TYPES:
        raise BadRequest(f"'format' is one of {', '.join(MEDIA_TYPES)}, not {fmt!r}.")
    reference = request.args.get("manifest")
    if not reference:
        raise BadRequest("Name the manifest to export: 'manifest' is its IRI or key.")
    record = registered_manifest(reference)
    filters = replace(request_filters(), manifest=record.iiif_id)
    # Read what the generator needs now: it runs after the request context is gone.
    items = annotations(current_app.extensions["annoserver.db"], filters,
                        base_url() + "annotations/")
    if fmt == "jsonl":
        parts = jsonl(items)
    elif fmt == "csv":
        parts = csv_text(items, record.iiif_id)
    else:
        manifest = read_manifest(record.source, limits=context().settings.limits)
        parts = CocoWriter(manifest).write(items)
    headers = {"Content-Disposition": f'attachment; filename="{record.key}.{EXTENSIONS[fmt]}"',
               "Cache-Control": "no-store"}
    return Response(_chunked(parts), mimetype=None, content_type=MEDIA_TYPES[fmt],
                    headers=headers)
