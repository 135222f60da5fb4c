"""Bearer-token checks for the HTTP layer: writes need a scope; reads optionally too."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, request

from annoserver.errors import Forbidden, Unauthorized

View = TypeVar("View", bound=Callable[..., Any])
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="annoserver"'}


def token_name() -> str:
    """The name of the request's bearer token (checked already), to credit its holder."""
    secret = request.headers.get("Authorization", "").partition(" ")[2].strip()
    holder = current_app.extensions["annoserver.tokens"].holder(secret)
    return holder.name if holder else ""


def _presented_scopes() -> set[str] | None:
    """Scopes of the request's bearer token; None when no token was sent."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthorized("Send the token as 'Authorization: Bearer <token>'.")
    return current_app.extensions["annoserver.tokens"].scopes_of(secret.strip())


def _unauthorized(detail: str) -> Unauthorized:
    error = Unauthorized(detail)
    error.headers = CHALLENGE
    return error


def check_scope(scope: str) -> None:
    """Raise 401 without a valid token, 403 when the token lacks ``scope``."""
    scopes = _presented_scopes()
    if scopes is None:
        raise _unauthorized(f"This request needs a bearer token with the '{scope}' scope.")
    if not scopes:
        raise _unauthorized("The bearer token is unknown or has been revoked.")
    if scope not in scopes:
        raise Forbidden(f"The bearer token does not grant the '{scope}' scope.")


def requires(scope: str) -> Callable[[View], View]:
    """Decorate a view so it runs only for tokens granting ``scope``."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            check_scope(scope)
            return view(*args, **kwargs)

        checked.required_scope = scope  # read by the route-map meta-test
        return checked  # type: ignore[return-value]

    return decorate


def open_to_readers(reason: str) -> Callable[[View], View]:
    """Mark a POST view that changes nothing unless asked (and then checks a scope itself).

    The route-map meta-test accepts such a view without ``required_scope``; ``reason`` says
    why it is safe to leave open.
    """

    def decorate(view: View) -> View:
        view.open_reason = reason  # type: ignore[attr-defined]
        return view

    return decorate


def init_app(app: Flask) -> None:
    """With ``PRIVATE_READS``, every request but health checks needs the read scope."""
    # The viewer page itself is public; it sends the user's token with its own requests.
    open_endpoints = {"health.health", "health.ready", "static", "viewer.viewer_redirect",
                      "viewer.viewer_page", "viewer.viewer_config", "viewer.viewer_file",
                      "demo.info", "demo.image", "demo.manifest"}

    @app.before_request
    def _private_reads() -> None:
        if (app.config["PRIVATE_READS"] and request.method != "OPTIONS"
                and request.endpoint not in open_endpoints):
            check_scope("read")
