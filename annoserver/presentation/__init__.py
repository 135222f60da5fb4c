"""IIIF Presentation 2.x/3.0: reading manifests and collections, writing enriched manifests.

Flask-free. Reading is tolerant (real institutions' manifests) and bounded (:class:`Limits`);
writing is strict (valid against the IIIF v3 JSON schema). Errors carry an HTTP ``status`` and
a human ``detail`` (:mod:`.errors`).
"""

from .enrich import annotation_list_reference, enrich_v2, enrich_v3, page_reference
from .errors import NotIIIF, OutsideImage, PresentationError, TooDeep, TooLarge
from .geometry import canvas_to_image, image_to_canvas, parse_xywh
from .model import (
    DEFAULT_LIMITS,
    Box,
    Canvas,
    CanvasImage,
    Collection,
    Limits,
    Manifest,
    Reference,
    SkippedCanvas,
)
from .reader import detect, iter_manifests, read_collection, read_document, read_manifest

__all__ = [
    "DEFAULT_LIMITS", "Box", "Canvas", "CanvasImage", "Collection", "Limits", "Manifest",
    "NotIIIF", "OutsideImage", "PresentationError", "Reference", "SkippedCanvas", "TooDeep",
    "TooLarge", "annotation_list_reference", "canvas_to_image", "detect", "enrich_v2",
    "enrich_v3", "image_to_canvas", "iter_manifests", "page_reference", "parse_xywh",
    "read_collection", "read_document", "read_manifest"]
