"""Human review of annotations: ``POST /annotations/{id}/review`` and the review history.

A review is its own W3C annotation (``motivation: assessing``) targeting the reviewed one,
its bodies saying the verdict, the correction (``corrected``) and the reviewer's note, its
``creator`` the token holder. The reviewed annotation keeps what the model said and shows the
latest verdict in a ``review`` member (``annoserver:review`` in our context).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app

from annoserver.errors import BadRequest, Gone, InvalidAnnotation, NotFound
from annoserver.store.annotations import Deleted, Missing
from annoserver.store.listing import VERDICTS
from annoserver.store.reviews import Review, ReviewStore, review_iri, timestamp
from annoserver.validation import annotation_errors
from annoserver.web.auth import requires, token_name
from annoserver.web.negotiation import json_body, json_response, negotiate
from annoserver.web.paging import ANNO_CONTEXT
from annoserver.web.urls import base_url

blueprint = Blueprint("review", __name__)
MAX_NOTE = 10_000
# Review ids are INTEGER columns (32-bit on PostgreSQL): anything larger names no review.
MAX_ID = 2**31 - 1
REQUEST_KEYS = {"verdict", "body", "note"}


def _store() -> ReviewStore:
    return ReviewStore(current_app.extensions["annoserver.db"])


def _container_url() -> str:
    return base_url() + "annotations/"


def _context() -> list[str]:
    return [ANNO_CONTEXT, base_url() + "ns/annoserver.jsonld"]


def _document(review: Review) -> dict[str, Any]:
    """The review as a W3C annotation on the reviewed one (without ``@context``)."""
    bodies: list[Any] = [{"type": "TextualBody", "value": review.verdict,
                          "purpose": "assessing"}]
    if review.body is not None:
        bodies.append(review.body)
    if review.note:
        bodies.append({"type": "TextualBody", "value": review.note, "purpose": "commenting"})
    return {"id": review_iri(_container_url(), review.slug, review.id), "type": "Annotation",
            "motivation": "assessing", "creator": {"type": "Person", "name": review.reviewer},
            "created": timestamp(review.created), "body": bodies,
            "target": _container_url() + review.slug}


def _correction(verdict: str, body: Any) -> Any:
    """The corrected body (``editing`` unless it names its own purpose); 400 when misplaced."""
    if verdict != "corrected":
        if body is not None:
            raise BadRequest("Only a 'corrected' review carries a 'body'.")
        return None
    if isinstance(body, str) and body:
        return body
    if not isinstance(body, dict) or not body:
        raise BadRequest("A 'corrected' review needs 'body': the corrected W3C annotation "
                         "body (an object, or the IRI of an external resource).")
    return body if "purpose" in body else {**body, "purpose": "editing"}


def _request() -> tuple[str, Any, str | None]:
    """The verdict, correction and note of the request body, checked."""
    document = json_body()
    if not isinstance(document, dict):
        raise BadRequest('Send a JSON object: {"verdict": "accepted"|"rejected"|"corrected", '
                         '"body": ..., "note": ...}.')
    unknown = sorted(set(document) - REQUEST_KEYS)
    if unknown:
        raise BadRequest(f"Unknown member(s) {', '.join(unknown)}; a review has "
                         f"{', '.join(sorted(REQUEST_KEYS))}.")
    verdict, note = document.get("verdict"), document.get("note")
    if verdict not in VERDICTS:
        raise BadRequest(f"'verdict' is one of {', '.join(VERDICTS)}, not {verdict!r}.")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise BadRequest(f"'note' is a string of at most {MAX_NOTE} characters.")
    return verdict, _correction(verdict, document.get("body")), note or None


def _check(verdict: str, body: Any, note: str | None, slug: str) -> None:
    """Validate the review annotation it will be, as any annotation is validated."""
    draft = Review(0, slug, verdict, body, note, "reviewer", datetime.now(UTC))
    errors = annotation_errors({"@context": ANNO_CONTEXT, **_document(draft)})
    if errors:
        raise InvalidAnnotation("The corrected body does not satisfy the W3C Web Annotation "
                                "model; nothing was stored.", errors=errors)


def _missing(error: Exception, slug: str) -> Exception:
    if isinstance(error, Deleted):
        return Gone(f"The annotation {_container_url()}{slug} was deleted.")
    return NotFound(f"There is no annotation {_container_url()}{slug}.")


@blueprint.post("/annotations/<slug>/review")
@requires("write")
def review(slug: str) -> Response:
    """Record the token holder's verdict on an annotation; 201 with the review."""
    media_type = negotiate()
    verdict, body, note = _request()
    _check(verdict, body, note, slug)
    try:
        record = _store().add(slug, verdict, body, note, token_name(), _container_url(),
                              base_url() + "ns/annoserver.jsonld")
    except (Missing, Deleted) as error:
        raise _missing(error, slug) from error
    document = {"@context": _context(), **_document(record)}
    return json_response(document, 201, media_type, {"Location": document["id"]})


@blueprint.get("/annotations/<slug>/reviews")
def reviews(slug: str) -> Response:
    """Every review of an annotation, newest first, as an AnnotationPage."""
    media_type = negotiate()
    try:
        history = _store().history(slug)
    except Missing as error:
        raise _missing(error, slug) from error
    url = f"{_container_url()}{slug}/reviews"
    return json_response({"@context": _context(), "id": url, "type": "AnnotationPage",
                          "startIndex": 0, "items": [_document(r) for r in history]},
                         media_type=media_type, headers={"Vary": "Accept"})


@blueprint.get("/annotations/<slug>/reviews/<int:review_id>")
def one_review(slug: str, review_id: int) -> Response:
    """One review; reviews never change, so caches may keep it."""
    media_type = negotiate()
    try:
        if review_id > MAX_ID:
            raise Missing(slug)
        record = _store().get(slug, review_id)
    except Missing as error:
        raise NotFound(f"There is no review {_container_url()}{slug}/reviews/{review_id}.") \
            from error
    return json_response({"@context": _context(), **_document(record)}, media_type=media_type,
                         headers={"Vary": "Accept", "Cache-Control": "public, max-age=86400"})
