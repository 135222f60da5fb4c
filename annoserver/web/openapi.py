"""``GET /openapi.json``: the OpenAPI 3.1 document describing every route."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint

from annoserver import __version__

blueprint = Blueprint("openapi", __name__)
# Request bodies are described by the very schemas that validate them (one schema language).
REQUEST_SCHEMAS = {"AnalyzeRequest": "analyze-request.schema.json",
                   "JobRequest": "job-request.schema.json"}


def _schema(name: str) -> dict[str, Any]:
    return json.loads((resources.files("annoserver") / "schemas" / name).read_text())


@cache
def document() -> dict[str, Any]:
    """The packaged OpenAPI document, with the running version and request schemas filled in."""
    spec = _schema("openapi.json")
    spec["info"]["version"] = __version__
    for component, name in REQUEST_SCHEMAS.items():
        schema = {key: value for key, value in _schema(name).items()
                  if key not in ("$schema", "$id")}
        spec["components"]["schemas"][component] = schema
    return spec


@blueprint.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """Serve the OpenAPI document."""
    return document()
