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
from .painting import canvas_image, intrinsic_size, painted_region
from .properties import as_list, dicts, label_text, node_id, node_type, positive_int


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
    canvas_id = node_id(raw)
    if canvas_id is None:
        return SkippedCanvas(None, "canvas without an id")
    paintings = painting_annotations(raw)
    width, height = positive_int(raw.get("width")), positive_int(raw.get("height"))
    if not (width and height):
        width, height = intrinsic_size([(a.get("body"), a.get("target")) for a in paintings])
    if not (width and height):
        return SkippedCanvas(canvas_id, f"no positive width and height "
                                        f"({raw.get('width')!r}×{raw.get('height')!r})")
    images = [canvas_image(a.get("body"), painted_region(a.get("target"), width, height),
                           width, height) for a in paintings]
    pages = (node_id(page) for page in as_list(raw.get("annotations")))
    return Canvas(
        id=canvas_id, label=label_text(raw.get("label")), width=width, height=height,
        images=tuple(image for image in images if image is not None),
        annotations=tuple(page for page in pages if page))
