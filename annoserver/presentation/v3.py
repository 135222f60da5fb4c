"""Reading IIIF Presentation 3.0 manifests into :mod:`~.model` objects, tolerantly.

Canvases come from ``items``, their images from the painting annotations of their embedded
AnnotationPages (a v2 image service inside a v3 manifest reads like any other), their existing
annotation pages from ``annotations``. Canvases without an id or a positive size (audio, a
broken export) are skipped and recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Canvas, Limits, Manifest, SkippedCanvas
from .painting import build_canvas
from .properties import as_list, dicts, label_text, node_id, node_type


def read_manifest(doc: Mapping[str, Any], manifest_id: str, limits: Limits) -> Manifest:
    """Read a v3 manifest whose version and id the caller has already checked."""
    raw = [item for item in dicts(doc.get("items")) if node_type(item) in ("Canvas", "")]
    limits.check(len(raw), limits.max_canvases, "canvases")
    results = [read_canvas(item) for item in raw]
    notes = [note for item in raw for note in _unembedded_pages(item)]
    rights = doc.get("rights")
    return Manifest(
        id=manifest_id, version=3, label=label_text(doc.get("label")),
        canvases=tuple(c for c in results if isinstance(c, Canvas)),
        rights=rights if isinstance(rights, str) else None,
        summary=label_text(doc.get("summary")) or None,
        skipped=tuple(c for c in results if isinstance(c, SkippedCanvas)), notes=tuple(notes))


def _unembedded_pages(canvas: Mapping[str, Any]) -> list[str]:
    return [f"painting page {node_id(page)} of canvas {node_id(canvas)} is not embedded"
            for page in as_list(canvas.get("items"))
            if node_id(page) and not (isinstance(page, Mapping) and "items" in page)]


def _is_painting(annotation: Mapping[str, Any]) -> bool:
    motivations = [m for m in as_list(annotation.get("motivation")) if isinstance(m, str)]
    return not motivations or any(m.endswith("painting") for m in motivations)


def painting_annotations(canvas: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The painting annotations of a v3 canvas's embedded pages, in order."""
    return [annotation for page in dicts(canvas.get("items"))
            for annotation in dicts(page.get("items")) if _is_painting(annotation)]


def read_canvas(raw: Mapping[str, Any]) -> Canvas | SkippedCanvas:
    """Read one v3 canvas, or say why it was skipped."""
    paintings = [(a.get("body"), a.get("target")) for a in painting_annotations(raw)]
    return build_canvas(raw, paintings, as_list(raw.get("annotations")))
