"""IIIF Change Discovery 1.0 at ``/activity``: the change log as an OrderedCollection.

Pages hold ``PAGE_SIZE`` activities each, oldest first (page *n* is the log's positions
``n·size+1`` to ``(n+1)·size``), so any page costs one range read on the primary key, and a
harvester reads ``last`` and walks ``prev`` until it meets an activity it has seen. A page
followed by another never changes again and is served as immutable; the last page and the
collection are revalidated with their ETags. Each activity has its own IRI,
``/activity/{position}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, request

from annoserver.errors import NotFound
from annoserver.jobs.enriched import page_url
from annoserver.store.changes import PAGE, Change, ChangeLog
from annoserver.web.negotiation import json_response
from annoserver.web.paging import iso
from annoserver.web.urls import base_url

blueprint = Blueprint("activity", __name__)
DISCOVERY_CONTEXT = "http://iiif.io/api/discovery/1/context.json"
MEDIA_TYPE = f'application/ld+json;profile="{DISCOVERY_CONTEXT}"'
IMMUTABLE = "public, max-age=31536000, immutable"


def _log() -> ChangeLog:
    return ChangeLog(current_app.extensions["annoserver.db"])


def _size() -> int:
    return current_app.config["PAGE_SIZE"]


def _collection_url() -> str:
    return base_url() + "activity"


def _page_ref(number: int) -> dict[str, str]:
    return {"id": f"{_collection_url()}/page/{number}", "type": "OrderedCollectionPage"}


def _last_page(total: int) -> int:
    return max(0, (total - 1) // _size())


def _activity(change: Change) -> dict[str, Any]:
    base = base_url()
    if change.kind == PAGE:
        target = {"id": page_url(base, change.ref), "type": "AnnotationPage"}
    else:
        target = {"id": f"{base}annotations/{change.ref}", "type": "Annotation"}
    return {"id": f"{_collection_url()}/{change.position}", "type": change.activity,
            "object": target, "endTime": iso(change.end_time)}


def _answer(document: dict[str, Any], cache_control: str, version: str) -> Response:
    """The document with an ETag over ``version`` and the base URL (304 when current)."""
    digest = hashlib.sha256(f"{version}|{base_url()}|{_size()}".encode()).hexdigest()[:32]
    headers = {"ETag": f'"{digest}"', "Cache-Control": cache_control, "Vary": "Accept"}
    if headers["ETag"] in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    return json_response(document, media_type=MEDIA_TYPE, headers=headers)


@blueprint.get("/activity")
def collection() -> Response:
    """The OrderedCollection of every change, with its first and last pages."""
    total = _log().total()
    document = {"@context": DISCOVERY_CONTEXT, "id": _collection_url(),
                "type": "OrderedCollection", "totalItems": total, "first": _page_ref(0),
                "last": _page_ref(_last_page(total))}
    return _answer(document, "no-cache", f"c{total}")


@blueprint.get("/activity/page/<int:number>")
def page(number: int) -> Response:
    """Page ``number`` of the collection, oldest activity first."""
    total, size = _log().total(), _size()
    last = _last_page(total)
    if number > last:
        raise NotFound(f"The activity collection has pages 0 to {last}; see "
                       f"{_collection_url()}.")
    changes = _log().span(number * size + 1, (number + 1) * size)
    document: dict[str, Any] = {
        "@context": DISCOVERY_CONTEXT, **_page_ref(number),
        "partOf": {"id": _collection_url(), "type": "OrderedCollection"},
        "startIndex": number * size}
    if number > 0:
        document["prev"] = _page_ref(number - 1)
    if number < last:
        document["next"] = _page_ref(number + 1)
    document["orderedItems"] = [_activity(change) for change in changes]
    cache_control = IMMUTABLE if number < last else "no-cache"
    return _answer(document, cache_control, f"p{number}-{len(changes)}-{number < last}")


@blueprint.get("/activity/<int:position>")
def activity(position: int) -> Response:
    """One activity; it never changes."""
    changes = _log().span(position, position) if position <= _log().total() else []
    if not changes:
        raise NotFound(f"There is no activity {_collection_url()}/{position}.")
    return _answer({"@context": DISCOVERY_CONTEXT, **_activity(changes[0])}, IMMUTABLE,
                   f"a{position}")
