"""Media types, content negotiation, ``Prefer`` and request bodies for JSON-LD resources."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Request, Response, request

from annoserver.errors import (
    BadRequest,
    MalformedJSON,
    NotAcceptable,
    NotFound,
    UnsupportedMediaType,
)

ANNO_PROFILE = "http://www.w3.org/ns/anno.jsonld"
LD_JSON = f'application/ld+json; profile="{ANNO_PROFILE}"'
OFFERED = ("application/ld+json", "application/json")
MAX_JSON_DEPTH = 64

PREFER_IRIS = "http://www.w3.org/ns/oa#PreferContainedIRIs"
PREFER_DESCRIPTIONS = "http://www.w3.org/ns/oa#PreferContainedDescriptions"
PREFER_MINIMAL = "http://www.w3.org/ns/ldp#PreferMinimalContainer"


def negotiate(req: Request | None = None) -> str:
    """The Content-Type to answer with, from ``Accept``; 406 when nothing offered fits."""
    accept = (req or request).accept_mimetypes
    if not accept:
        return LD_JSON
    # Werkzeug's best_match compares media-type parameters too, so the profile clients send
    # ("application/ld+json; profile=...anno.jsonld") would match nothing; compare bare types.
    ranked = sorted(((quality, value.split(";")[0].strip().lower()) for value, quality in accept),
                    key=lambda pair: -pair[0])
    for quality, media_type in ranked:
        if quality > 0 and media_type in ("application/ld+json", "application/*", "*/*"):
            return LD_JSON
        if quality > 0 and media_type == "application/json":
            return "application/json"
    raise NotAcceptable(f"This resource is available as {' or '.join(OFFERED)}.")


def json_response(document: Any, status: int = 200, media_type: str | None = None,
                  headers: dict[str, str] | None = None) -> Response:
    """Serialise ``document`` (or send JSON text as it is) with the negotiated media type."""
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    response = Response(text, status=status,
                        content_type=media_type or negotiate())
    response.headers.update(headers or {})
    return response


@dataclass(frozen=True)
class Preference:
    """What a client asked for with ``Prefer: return=representation; include="..."``."""

    iris: bool = False
    minimal: bool = False
    applied: bool = False


def container_preference(header: str | None) -> Preference:
    """Parse the Prefer header of a container request (W3C Annotation Protocol 4.2)."""
    if not header or "return=representation" not in header:
        return Preference()
    include = ""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == "include":
            include = value.strip().strip('"')
    uris = include.split()
    return Preference(iris=PREFER_IRIS in uris and PREFER_DESCRIPTIONS not in uris,
                      minimal=PREFER_MINIMAL in uris, applied=True)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, stopping once ``limit`` is passed."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return isinstance(value, list) and any(_has_nul(item) for item in value)


def json_body() -> Any:
    """The request body as JSON, after checking its media type, encoding and nesting."""
    if request.mimetype not in OFFERED:
        raise UnsupportedMediaType(
            f"Send annotations as {LD_JSON} (or application/json), not "
            f"{request.mimetype or 'a body without Content-Type'}.")
    raw = request.get_data(cache=False)
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise MalformedJSON(f"The body is not valid UTF-8: {error.reason}.") from error
    except RecursionError as error:
        raise MalformedJSON("The JSON body is nested too deeply.") from error
    except json.JSONDecodeError as error:
        raise MalformedJSON(f"The body is not valid JSON: {error}.") from error
    if _depth(document, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise MalformedJSON(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
    # PostgreSQL text and JSONB cannot hold NUL; JSON can only carry it escaped.
    if b"\\u0000" in raw and _has_nul(document):
        raise MalformedJSON("The body contains a NUL character (\\u0000), which cannot be stored.")
    return document


def refuse_nul() -> None:
    """Refuse NUL in the path (404: nothing is named so) or the query (400) of any request.

    No stored text holds NUL (PostgreSQL cannot), so such a request is a mistake; letting it
    reach a query made PostgreSQL fail with a 500 where SQLite simply matched nothing.
    """
    if "\x00" in request.path:
        raise NotFound("No resource has a NUL character in its name.")
    if any("\x00" in key + value for key, value in request.args.items(multi=True)):
        raise BadRequest("Query parameters cannot contain NUL characters.")
