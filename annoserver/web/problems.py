"""Every error response is ``application/problem+json`` (RFC 9457) with a human ``detail``."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from annoserver.errors import AnnoserverError
from annoserver.web.negotiation import refuse_nul

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


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
    app.before_request(refuse_nul)

    @app.errorhandler(AnnoserverError)
    def _annoserver_error(error: AnnoserverError) -> Response:
        if error.status >= 500:
            log.error("%s: %s", type(error).__name__, error.detail)
        return problem_response(error.to_problem(), getattr(error, "headers", None))

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return _from_http_exception(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(AnnoserverError("The server failed; the error is logged.")
                                .to_problem())
