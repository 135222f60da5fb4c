"""``GET /ns/annoserver.jsonld``: the JSON-LD context of annoserver's own terms.

Machine annotations add it to their ``@context`` so ``confidence``, ``modelVersion`` and the
other provenance terms are defined Linked Data, not stray keys.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from flask import Blueprint, Response

blueprint = Blueprint("contexts", __name__)


@cache
def _context_text() -> str:
    return (resources.files("annoserver") / "schemas" / "annoserver.jsonld").read_text()


@blueprint.get("/ns/annoserver.jsonld")
def context() -> Response:
    """Serve the context; it changes only with a release, so caches may keep it a day."""
    return Response(_context_text(), content_type="application/ld+json",
                    headers={"Cache-Control": "public, max-age=86400"})
