"""IIIF Content Search 2.0 and 1.0, with autocompletion, over a registered manifest's annotations.

``/search/{key}`` answers Search 2.0 (an ``AnnotationPage`` of the matching annotations
themselves, keyset-paged) and ``/search/{key}/v1`` Search 1.0 (an ``sc:AnnotationList`` with
``hits``, the shape Mirador 3 draws); ``…/autocomplete`` completes a word for each. ``q`` holds
words (all must occur, case-insensitively, in a label, tag or recognised text); ``motivation``,
``model``, ``min_confidence`` and ``review`` filter. Parameters the server does not support are
listed in ``ignored``. ``/search?manifest=<IRI or key>`` is the 2.0 service by another name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from annoserver.errors import BadRequest
from annoserver.jobs.enriched import PRESENTATION_2, SEARCH_1, SEARCH_2, search_url
from annoserver.jobs.errors import UnknownManifest
from annoserver.store.listing import PageRow
from annoserver.store.manifests import ManifestRecord
from annoserver.store.search import (
    MAX_TERM,
    WORD,
    SearchQuery,
    SearchReader,
    manifest_key,
    normalise,
    searchable_texts,
    words,
)
from annoserver.web.annotations import query_number, request_filters
from annoserver.web.iiif2 import to_open_annotation
from annoserver.web.jobs import context
from annoserver.web.negotiation import json_response
from annoserver.web.urls import base_url

blueprint = Blueprint("search", __name__)

FILTER_PARAMS = {"motivation", "model", "creator", "min_confidence", "review"}
SEARCH_PARAMS = FILTER_PARAMS | {"q", "page", "start"}
AUTOCOMPLETE_PARAMS = FILTER_PARAMS | {"q", "min"}
MAX_TERMS = 20  # completions per answer
CONTEXT_CHARS = 40  # of recognised text around a match, each side
SEARCH_2_MEDIA = f'application/ld+json;profile="{SEARCH_2}"'


def registered_manifest(reference: str) -> ManifestRecord:
    """The registered manifest named by its key, IIIF id or URL; 404 otherwise."""
    with current_app.extensions["annoserver.db"].connect() as connection:
        key = manifest_key(connection, reference)
    record = context().manifests.get(key) if key else None
    if record is None or record.kind != "Manifest":
        raise UnknownManifest(f"No manifest is registered as {reference!r}.")
    return record


def _query(record: ManifestRecord) -> SearchQuery:
    """The search the request asks for (``oa:``/``sc:`` prefixes of motivations dropped)."""
    filters = request_filters()
    if filters.motivation:
        filters = replace(filters, motivation=filters.motivation.rpartition(":")[2])
    return SearchQuery(record.iiif_id, tuple(words(request.args.get("q", ""))), filters)


def _ignored(supported: set[str]) -> list[str]:
    return sorted(set(request.args) - supported)


def _link(service: str, cursor: int | None = None, start: int | None = None) -> str:
    """The URL of this search (one of its pages with ``cursor``/``start``)."""
    params = [(k, v) for k, v in request.args.items(multi=True)
              if k not in ("page", "start", "manifest")]
    if cursor is not None:
        params += [("page", cursor), ("start", start)]
    return service + ("?" + urlencode(params) if params else "")


@dataclass(frozen=True)
class Results:
    """One page of results and where the pages around it start (cursor, start index)."""

    rows: list[PageRow]
    total: int
    start: int
    cursor: int
    next: tuple[int, int] | None
    prev: tuple[int, int] | None
    last: tuple[int, int]


def _results(query: SearchQuery) -> Results:
    size = current_app.config["PAGE_SIZE"]
    cursor, start = query_number("page", int) or 0, query_number("start", int)
    with current_app.extensions["annoserver.db"].connect() as connection:
        reader = SearchReader(connection)
        rows = reader.page(query, cursor, size + 1)
        total = reader.count(query)
        if start is None:
            start = reader.count(query, up_to=cursor) if cursor else 0
        prev = (reader.cursor_before(query, cursor, size), max(0, start - size)) \
            if cursor else None
        tail = total % size or size
        last = (reader.cursor_before(query, None, tail), total - tail) if total > size \
            else (0, 0)
    following = (rows[size - 1].seq, start + size) if len(rows) > size else None
    return Results(rows[:size], total, start, cursor, following, prev, last)


def _annotations(rows: list[PageRow]) -> list[dict[str, Any]]:
    """The stored annotations with their ids (their contexts are the page's)."""
    items = []
    for row in rows:
        document = json.loads(row.text)
        document.pop("@context", None)
        items.append({"id": f"{base_url()}annotations/{row.slug}", **document})
    return items


def _around(text: str, start: int, end: int) -> tuple[str, str]:
    """Up to CONTEXT_CHARS of text each side of a match, cut at word boundaries."""
    before, after = text[max(0, start - CONTEXT_CHARS):start], text[end:end + CONTEXT_CHARS]
    if start > CONTEXT_CHARS and " " in before:
        before = before[before.index(" "):]
    if end + CONTEXT_CHARS < len(text) and " " in after:
        after = after[:after.rindex(" ") + 1]
    return before, after


def _hit(annotation: dict[str, Any], wanted: set[str]) -> dict[str, str] | None:
    """The first matched word of an annotation's texts, with the text around it."""
    for text in searchable_texts(annotation):
        for found in WORD.finditer(text):
            if normalise(found.group())[:MAX_TERM] in wanted:
                before, after = _around(text, *found.span())
                return {"match": found.group(), "before": before, "after": after}
    return None


def _hits(items: list[dict[str, Any]], query: SearchQuery) -> list[tuple[str, dict[str, str]]]:
    wanted = set(query.words)
    found = [(item["id"], _hit(item, wanted)) for item in items] if wanted else []
    return [(annotation_id, hit) for annotation_id, hit in found if hit]


def _reference(url: str) -> dict[str, str]:
    return {"id": url, "type": "AnnotationPage"}


def _search_2(record: ManifestRecord, supported: set[str] = SEARCH_PARAMS) -> dict[str, Any]:
    service, query = search_url(base_url(), record.key), _query(record)
    results = _results(query)
    page_id = _link(service, results.cursor, results.start)
    items = _annotations(results.rows)
    document: dict[str, Any] = {
        "@context": [f"{base_url()}ns/annoserver.jsonld", SEARCH_2], "id": page_id,
        "type": "AnnotationPage",
        "partOf": {"id": _link(service), "type": "AnnotationCollection", "total": results.total,
                   "first": _reference(_link(service, 0, 0)),
                   "last": _reference(_link(service, *results.last))},
        "startIndex": results.start}
    if results.next:
        document["next"] = _reference(_link(service, *results.next))
    if results.prev:
        document["prev"] = _reference(_link(service, *results.prev))
    if _ignored(supported):
        document["ignored"] = _ignored(supported)
    document["items"] = items
    matches = [{"id": f"{page_id}#match-{n}", "type": "Annotation",
                "motivation": "contextualizing",
                "target": {"type": "SpecificResource", "source": annotation_id,
                           "selector": [{"type": "TextQuoteSelector", "prefix": hit["before"],
                                         "exact": hit["match"], "suffix": hit["after"]}]}}
               for n, (annotation_id, hit) in enumerate(_hits(items, query))]
    if matches:
        document["annotations"] = [{"type": "AnnotationPage", "items": matches}]
    return document


def _search_1(record: ManifestRecord) -> dict[str, Any]:
    service, query = search_url(base_url(), record.key, 1), _query(record)
    results = _results(query)
    items = _annotations(results.rows)
    within: dict[str, Any] = {"@type": "sc:Layer", "total": results.total,
                              "first": _link(service, 0, 0),
                              "last": _link(service, *results.last)}
    if _ignored(SEARCH_PARAMS):
        within["ignored"] = _ignored(SEARCH_PARAMS)
    document: dict[str, Any] = {
        "@context": [PRESENTATION_2, SEARCH_1],
        "@id": _link(service, results.cursor, results.start), "@type": "sc:AnnotationList",
        "within": within, "startIndex": results.start}
    if results.next:
        document["next"] = _link(service, *results.next)
    if results.prev:
        document["prev"] = _link(service, *results.prev)
    document["resources"] = [to_open_annotation(item) for item in items]
    document["hits"] = [{"@type": "search:Hit", "annotations": [annotation_id],
                         **{k: v for k, v in hit.items() if v}}
                        for annotation_id, hit in _hits(items, query)]
    return document


def _completions(record: ManifestRecord) -> list[tuple[str, int]]:
    """``(words to search for, annotations)``: the last word of ``q`` completed."""
    typed = words(request.args.get("q", ""))
    if not typed:
        raise BadRequest("Give the beginning of a word to complete in 'q'.")
    minimum = query_number("min", int, 1) or 1
    query = _query(record)
    with current_app.extensions["annoserver.db"].connect() as connection:
        terms = SearchReader(connection).terms(record.iiif_id, typed[-1], query.filters,
                                               minimum, MAX_TERMS)
    return [(" ".join([*typed[:-1], term]), total) for term, total in terms]


@blueprint.get("/search")
def search_by_manifest() -> Response:
    """Search 2.0 within the manifest named by ``manifest`` (its IRI or key)."""
    reference = request.args.get("manifest")
    if not reference:
        raise BadRequest("Name the manifest to search: 'manifest' is its IRI or key.")
    document = _search_2(registered_manifest(reference), SEARCH_PARAMS | {"manifest"})
    return json_response(document, media_type=SEARCH_2_MEDIA)


@blueprint.get("/search/<key>")
def search(key: str) -> Response:
    """IIIF Content Search 2.0 within manifest ``key``."""
    return json_response(_search_2(registered_manifest(key)), media_type=SEARCH_2_MEDIA)


@blueprint.get("/search/<key>/autocomplete")
def autocomplete(key: str) -> Response:
    """IIIF Content Search 2.0 autocompletion: a TermPage of words and their counts."""
    record = registered_manifest(key)
    service = search_url(base_url(), key) + "/autocomplete"
    document: dict[str, Any] = {"@context": SEARCH_2, "id": _link(service), "type": "TermPage"}
    if _ignored(AUTOCOMPLETE_PARAMS):
        document["ignored"] = _ignored(AUTOCOMPLETE_PARAMS)
    document["items"] = [{"value": value, "total": total}
                         for value, total in _completions(record)]
    return json_response(document, media_type=SEARCH_2_MEDIA)


@blueprint.get("/search/<key>/v1")
def search_v1(key: str) -> Response:
    """IIIF Content Search 1.0 within manifest ``key`` (what Mirador 3 reads)."""
    return json_response(_search_1(registered_manifest(key)), media_type="application/json")


@blueprint.get("/search/<key>/v1/autocomplete")
def autocomplete_v1(key: str) -> Response:
    """IIIF Content Search 1.0 autocompletion: a ``search:TermList``."""
    record = registered_manifest(key)
    service = search_url(base_url(), key, 1)
    document: dict[str, Any] = {"@context": SEARCH_1, "@id": _link(service + "/autocomplete"),
                                "@type": "search:TermList"}
    if _ignored(AUTOCOMPLETE_PARAMS):
        document["ignored"] = _ignored(AUTOCOMPLETE_PARAMS)
    filters = [(k, v) for k, v in request.args.items(multi=True) if k in FILTER_PARAMS]
    document["terms"] = [{"match": value, "url": f"{service}?" + urlencode([("q", value),
                                                                           *filters]),
                          "count": total} for value, total in _completions(record)]
    return json_response(document, media_type="application/json")
