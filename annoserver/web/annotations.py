"""The W3C Web Annotation Protocol: the ``/annotations/`` container and its annotations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from annoserver.errors import (
    BadRequest,
    Gone,
    InvalidAnnotation,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from annoserver.store.annotations import (
    SAFE_SLUG,
    AnnotationStore,
    Deleted,
    Missing,
    SlugTaken,
    StaleETag,
    StoredAnnotation,
)
from annoserver.store.listing import Filters
from annoserver.validation import annotation_errors
from annoserver.web.auth import requires
from annoserver.web.iiif2 import annotation_list
from annoserver.web.negotiation import (
    LD_JSON,
    container_preference,
    json_body,
    json_response,
    negotiate,
)
from annoserver.web.paging import ContainerView, ViewBuilder, render
from annoserver.web.urls import base_url

blueprint = Blueprint("annotations", __name__)

CONSTRAINED_BY = "http://www.w3.org/TR/annotation-protocol/"
CONTAINER_ALLOW = "GET, HEAD, OPTIONS, POST"
ITEM_ALLOW = "GET, HEAD, OPTIONS, PUT, DELETE"
CONTAINER_LINKS = (f'<http://www.w3.org/ns/ldp#BasicContainer>; rel="type", '
                   f'<{CONSTRAINED_BY}>; rel="http://www.w3.org/ns/ldp#constrainedBy"')
# Row ids are 32-bit INTEGER columns (PostgreSQL refuses larger values in a comparison with
# them): anything larger cannot name a page.
MAX_QUERY_NUMBER = 2**31 - 1
ITEM_LINK = '<http://www.w3.org/ns/ldp#Resource>; rel="type"'


def _store() -> AnnotationStore:
    return current_app.extensions["annoserver.annotations"]


def _container_url() -> str:
    return base_url() + "annotations/"


def _container_headers() -> dict[str, str]:
    return {"Link": CONTAINER_LINKS, "Allow": CONTAINER_ALLOW, "Accept-Post": LD_JSON,
            "Vary": "Accept, Prefer"}


def _item_headers(stored: StoredAnnotation | None = None) -> dict[str, str]:
    headers = {"Link": ITEM_LINK, "Allow": ITEM_ALLOW, "Vary": "Accept"}
    if stored:
        headers["ETag"] = f'"{stored.etag}"'
    return headers


@blueprint.after_request
def _describe_options(response: Response) -> Response:
    """Flask answers OPTIONS itself (with ``Allow``); add what the W3C protocol asks for."""
    if request.method == "OPTIONS" and response.status_code == 200:
        is_container = request.endpoint == "annotations.container"
        response.headers.update(_container_headers() if is_container else _item_headers())
        response.status_code = 204
        response.headers.pop("Content-Type", None)
    return response


# -- the container ------------------------------------------------------------------------


def query_number(name: str, kind: type, minimum: float = 0) -> Any:
    """Query parameter ``name`` as ``kind`` within bounds, ``None`` if absent; 400 otherwise."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= MAX_QUERY_NUMBER:  # also refuses NaN
        raise BadRequest(f"Query parameter '{name}' must be a number from {minimum} to "
                         f"{MAX_QUERY_NUMBER}, not {raw!r}.")
    return value


def request_filters() -> Filters:
    """The annotation filters of this request's query (shared by listings, search, export)."""
    args = request.args
    target, canvas = args.get("target"), args.get("canvas")
    if target and canvas and target != canvas:
        raise BadRequest("Give either 'target' or 'canvas' (they are the same filter).")
    creator, model = args.get("creator"), args.get("model")
    if creator and model and creator != model:
        raise BadRequest("Give either 'creator' or 'model' (they are the same filter).")
    return Filters(target=target or canvas, manifest=args.get("manifest"),
                   motivation=args.get("motivation"), creator=creator or model,
                   min_confidence=query_number("min_confidence", float), review=args.get("review"))


def _view(iris: bool) -> ContainerView:
    return ContainerView(_container_url(), request_filters(), iris, current_app.config["PAGE_SIZE"])


def _conditional(document_factory: Any, etag: str, headers: dict[str, str],
                 media_type: str) -> Response:
    """Answer 304 when the client's copy is current, else the document."""
    headers = {**headers, "ETag": etag}
    if etag in _etags(request.headers.get("If-None-Match")):
        return Response(status=304, headers=headers)
    return json_response(document_factory(), headers=headers, media_type=media_type)


@blueprint.get("/annotations/")
def container() -> Response:
    """The container, one of its pages, or (``format=v2``) a IIIF v2 AnnotationList."""
    media_type = negotiate()
    if request.args.get("format") == "v2":
        with _store().reading() as reader:
            return annotation_list(reader, request_filters(), _container_url())
    if request.args.get("format") not in (None, "w3c"):
        raise BadRequest("Query parameter 'format' is 'w3c' (the default) or 'v2'.")
    preference = container_preference(request.headers.get("Prefer"))
    iris_arg = query_number("iris", int)
    iris = bool(iris_arg) if iris_arg is not None else preference.iris
    headers = _container_headers()
    cursor, start = query_number("page", int), query_number("start", int)
    view = _view(iris)
    with _store().reading() as reader:
        builder = ViewBuilder(reader, view, cursor or 0)
        if cursor is not None:
            return _conditional(lambda: builder.page(start), builder.etag(f"p{cursor}"),
                                headers, media_type)
        headers["Content-Location"] = view.url()
        if preference.applied:
            headers["Preference-Applied"] = "return=representation"
        return _conditional(lambda: builder.collection(preference.minimal),
                            builder.etag(f"c{preference.minimal}"), headers, media_type)


def _validated(document: dict[str, Any], annotation_id: str) -> dict[str, Any]:
    """The document as it will be stored (no ``id``), after W3C schema validation."""
    errors = annotation_errors({**document, "id": annotation_id})
    if errors:
        raise InvalidAnnotation("The annotation does not satisfy the W3C Web Annotation "
                                "model; nothing was stored.", errors=errors)
    return {key: value for key, value in document.items() if key != "id"}


def _keep_client_id(document: dict[str, Any]) -> dict[str, Any]:
    """A client-chosen id is not ours to serve; keep it in ``via`` (Protocol 5.1)."""
    client_id = document.get("id")
    if not isinstance(client_id, str):
        return document
    via = document.get("via")
    vias = via if isinstance(via, list) else [via] if via else []
    return {**document, "via": vias + [client_id] if vias else client_id}


@blueprint.post("/annotations/")
@requires("write")
def create() -> Response:
    """Create an annotation; the server mints its IRI (``Slug`` honoured when safe)."""
    media_type = negotiate()
    document = _keep_client_id(_require_object(json_body()))
    slug = request.headers.get("Slug", "").strip()
    slug = slug if SAFE_SLUG.match(slug) else None
    container_url = _container_url()
    placeholder = container_url + (slug or "new")
    stored_document = _validated(document, placeholder)
    try:
        stored = _store().create(stored_document, slug)
    except SlugTaken:
        stored = _store().create(stored_document)
    body = render(stored, container_url)
    headers = {**_item_headers(stored), "Location": body["id"]}
    return json_response(body, 201, media_type, headers)


def _require_object(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidAnnotation("An annotation must be a JSON object.", errors=[])
    return document


# -- one annotation -----------------------------------------------------------------------


def _etags(header: str | None) -> set[str]:
    """The entity tags of an If-Match / If-None-Match header (weakness ignored)."""
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _if_match() -> str:
    """The single ETag the client must send to change an annotation (428 without)."""
    tags = _etags(request.headers.get("If-Match"))
    if not tags:
        raise PreconditionRequired("Send If-Match with the annotation's current ETag, so "
                                   "that you cannot overwrite a change you have not seen.")
    if len(tags) != 1:
        raise BadRequest("Send exactly one ETag in If-Match.")
    return tags.pop().strip('"')


def _lookup(operation: Any, slug: str) -> Any:
    """Run a store operation, turning its outcomes into HTTP errors."""
    try:
        return operation()
    except Missing as error:
        raise NotFound(f"There is no annotation {_container_url()}{slug}.") from error
    except Deleted as error:
        raise Gone(f"The annotation {_container_url()}{slug} was deleted.") from error
    except StaleETag as error:
        raise PreconditionFailed("The annotation has changed since the ETag you sent; "
                                 "GET it again and reapply your change.") from error


@blueprint.get("/annotations/<slug>")
def read(slug: str) -> Response:
    """One annotation, with its ETag (304 when ``If-None-Match`` matches)."""
    media_type = negotiate()
    stored = _lookup(lambda: _store().get(slug), slug)
    return _conditional(lambda: render(stored, _container_url()), f'"{stored.etag}"',
                        _item_headers(), media_type)


@blueprint.put("/annotations/<slug>")
@requires("write")
def replace(slug: str) -> Response:
    """Replace an annotation; ``If-Match`` must carry its current ETag."""
    media_type = negotiate()
    if_match = _if_match()
    document = _require_object(json_body())
    annotation_id = _container_url() + slug
    if document.get("id", annotation_id) != annotation_id:
        raise BadRequest(f"The body's id must be {annotation_id} (or absent).")
    stored_document = _validated(document, annotation_id)
    stored = _lookup(lambda: _store().replace(slug, stored_document, if_match), slug)
    return json_response(render(stored, _container_url()), 200, media_type,
                         _item_headers(stored))


@blueprint.delete("/annotations/<slug>")
@requires("write")
def delete(slug: str) -> Response:
    """Delete an annotation; ``If-Match`` must carry its current ETag."""
    if_match = _if_match()
    _lookup(lambda: _store().delete(slug, if_match), slug)
    return Response(status=204, headers={"Vary": "Accept"})
