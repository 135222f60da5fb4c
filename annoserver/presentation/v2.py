"""Reading IIIF Presentation 2.x manifests into :mod:`~.model` objects, tolerantly.

Takes the first sequence (later ones are noted), canvases from ``sequences[0].canvases`` and
their images from ``images[].resource``/``on``; ``otherContent`` may be a list of objects, a
list of strings or one bare string. Canvases without an id or a positive size are skipped and
recorded, so nothing downstream divides by zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Canvas, Limits, Manifest, SkippedCanvas
from .painting import build_canvas
from .properties import as_list, dicts, label_text, node_id


def read_manifest(doc: Mapping[str, Any], manifest_id: str, limits: Limits) -> Manifest:
    """Read a v2 manifest whose version and id the caller has already checked."""
    sequences = dicts(doc.get("sequences"))
    notes = []
    if len(sequences) > 1:
        ignored = ", ".join(node_id(s) or "(no @id)" for s in sequences[1:])
        notes.append(f"{len(sequences) - 1} further sequence(s) ignored: {ignored}")
    if not sequences:
        notes.append("the manifest has no embedded sequence, so no canvases")
    raw = dicts(sequences[0].get("canvases")) if sequences else []
    limits.check(len(raw), limits.max_canvases, "canvases")
    canvases = [read_canvas(item) for item in raw]
    return Manifest(
        id=manifest_id, version=2, label=label_text(doc.get("label")),
        canvases=tuple(c for c in canvases if isinstance(c, Canvas)),
        rights=_license(doc.get("license")),
        summary=label_text(doc.get("description")) or None,
        skipped=tuple(c for c in canvases if isinstance(c, SkippedCanvas)), notes=tuple(notes))


def _license(value: Any) -> str | None:
    for item in as_list(value):
        found = node_id(item)
        if found:
            return found
    return None


def read_canvas(raw: Mapping[str, Any]) -> Canvas | SkippedCanvas:
    """Read one v2 canvas, or say why it was skipped."""
    paintings = [(a.get("resource"), a.get("on")) for a in dicts(raw.get("images"))]
    return build_canvas(raw, paintings, as_list(raw.get("otherContent")))
