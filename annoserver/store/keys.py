"""Short keys in our URLs: manifest and canvas digests, and annotation page ids.

Free of project imports, so both the job side (which mints them) and the change log (which
reports pages by them) share one definition.
"""

from __future__ import annotations

import hashlib


def digest(text: str) -> str:
    """A short, URL-safe digest (manifest keys, canvas keys)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def page_id(manifest_key: str, canvas_id: str, model_id: str) -> str:
    """The id of the annotation page of one canvas × model of a registered manifest."""
    return f"{manifest_key}-{digest(canvas_id)}-{model_id}"


def parse_page_id(page: str) -> tuple[str, str, str] | None:
    """``(manifest key, canvas key, model id)`` of a page id, or None when malformed."""
    parts = page.split("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    key, canvas, model = parts
    hexadecimal = all(len(p) == 16 and all(c in "0123456789abcdef" for c in p)
                      for p in (key, canvas))
    return (key, canvas, model) if hexadecimal else None
