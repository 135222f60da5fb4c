"""The one error hierarchy of annoserver, and its mapping to ``application/problem+json``.

Every error a client can cause or observe is an :class:`AnnoserverError` with a fixed HTTP
status; views raise them and :func:`init_app` turns them (and Werkzeug's own HTTP errors, and
anything unexpected) into RFC 9457 problem documents with a human ``detail``::

    AnnoserverError
    ├── BadRequest                 400
    │   ├── MalformedJSON          400
    │   └── InvalidAnnotation      400  (carries the schema errors)
    ├── Unauthorized               401
    ├── Forbidden                  403
    ├── NotFound                   404
    ├── MethodNotAllowed           405
    ├── NotAcceptable              406
    ├── Gone                       410
    ├── PreconditionFailed         412
    ├── PayloadTooLarge            413
    ├── UnsupportedMediaType       415
    ├── PreconditionRequired       428
    └── ServiceUnavailable         503
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class AnnoserverError(Exception):
    """Base of every client-visible error; ``status`` and ``title`` are fixed per class."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """Return the RFC 9457 problem document for this error."""
        return {"type": "about:blank", "title": self.title, "status": self.status,
                "detail": self.detail, **self.extra}


def _error(name: str, status: int, title: str, base: type = AnnoserverError) -> type:
    return type(name, (base,), {"status": status, "title": title, "__doc__": f"{status} {title}."})


BadRequest = _error("BadRequest", 400, "Bad Request")
MalformedJSON = _error("MalformedJSON", 400, "Malformed JSON", BadRequest)
InvalidAnnotation = _error("InvalidAnnotation", 400, "Invalid Annotation", BadRequest)
Unauthorized = _error("Unauthorized", 401, "Unauthorized")
Forbidden = _error("Forbidden", 403, "Forbidden")
NotFound = _error("NotFound", 404, "Not Found")
MethodNotAllowed = _error("MethodNotAllowed", 405, "Method Not Allowed")
NotAcceptable = _error("NotAcceptable", 406, "Not Acceptable")
Gone = _error("Gone", 410, "Gone")
PreconditionFailed = _error("PreconditionFailed", 412, "Precondition Failed")
PayloadTooLarge = _error("PayloadTooLarge", 413, "Payload Too Large")
UnsupportedMediaType = _error("UnsupportedMediaType", 415, "Unsupported Media Type")
PreconditionRequired = _error("PreconditionRequired", 428, "Precondition Required")
ServiceUnavailable = _error("ServiceUnavailable", 503, "Service Unavailable")


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """Serialise a problem document with its media type and status."""
    response = Response(json.dumps(problem), status=problem["status"], mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def _from_http_exception(error: HTTPException) -> Response:
    """Werkzeug raises these for routing (404, 405) and body limits (413)."""
    problem = {"type": "about:blank", "title": error.name, "status": error.code,
               "detail": error.description}
    headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after")}
    return problem_response(problem, headers)


def init_app(app: Flask) -> None:
    """Register the handlers that make every error a problem document."""

    @app.errorhandler(AnnoserverError)
    def _annoserver_error(error: AnnoserverError) -> Response:
        return problem_response(error.to_problem(), getattr(error, "headers", None))

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return _from_http_exception(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(AnnoserverError("The server failed; the error is logged.")
                                .to_problem())
