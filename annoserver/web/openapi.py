"""``GET /openapi.json``: the OpenAPI 3.1 document describing every route."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint

from annoserver import __version__

blueprint = Blueprint("openapi", __name__)


@cache
def document() -> dict[str, Any]:
    """The packaged OpenAPI document, with the running version filled in."""
    text = (resources.files("annoserver") / "schemas" / "openapi.json").read_text()
    spec = json.loads(text)
    spec["info"]["version"] = __version__
    return spec


@blueprint.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """Serve the OpenAPI document."""
    return document()
