"""The public base URL the server mints IRIs under."""

from __future__ import annotations

from flask import current_app, request


def base_url() -> str:
    """``PUBLIC_URL`` when configured, else the request's own scheme and host; ends in /."""
    return (current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")) + "/"
