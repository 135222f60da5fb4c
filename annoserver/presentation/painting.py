"""Painting annotations (v2 ``images``, v3 painting ``items``) to :class:`~.model.CanvasImage`.

Shared by both readers: v2 and v3 wrap the painted image the same ways under other names —
a choice of images (``oa:Choice`` ``default``/``item``, v3 ``Choice`` ``items``: the first is
taken), a part of an image (``oa:SpecificResource`` ``full``, v3 ``SpecificResource`` ``source``,
with an ``ImageApiSelector`` region and rotation), and a target that is the canvas, a
``#xywh=`` fragment of it, or a ``SpecificResource`` with a ``FragmentSelector``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .geometry import parse_image_region, parse_rotation, parse_xywh
from .model import Box, Canvas, CanvasImage, SkippedCanvas
from .properties import as_list, dicts, label_text, node_id, node_type, positive_int
from .services import find_image_service

_CHOICE_KEYS = ("default", "items", "item")
_SOURCE_KEYS = ("source", "full")
_MAX_WRAPPING = 4  # Choice in SpecificResource in Choice...: deeper is junk


def painted_region(target: Any, width: int, height: int) -> Box:
    """Where on the canvas a painting annotation's target puts its body (whole canvas default)."""
    whole = Box(0, 0, width, height)
    for candidate in as_list(target):
        if isinstance(candidate, str):
            return parse_xywh(candidate, width, height) or whole
        if isinstance(candidate, Mapping):
            return _selector_region(candidate, width, height) or whole
    return whole


def _selector_region(target: Mapping[str, Any], width: int, height: int) -> Box | None:
    for selector in as_list(target.get("selector")):
        value = selector.get("value") if isinstance(selector, Mapping) else None
        if isinstance(value, str):
            box = parse_xywh(value, width, height)
            if box is not None:
                return box
    for key in _SOURCE_KEYS + ("id", "@id"):
        source = node_id(target.get(key))
        if source and "#" in source:
            return parse_xywh(source, width, height)
    return None


def _unwrap_choice(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key in _CHOICE_KEYS:
        found = dicts(body.get(key))
        if found:
            return found[0]
    return None


def _is_image(resource: Mapping[str, Any]) -> bool:
    kind = node_type(resource)
    if kind == "Image":
        return True
    fmt = resource.get("format")
    looks_like_image = isinstance(fmt, str) and fmt.startswith("image/")
    return kind == "" and (looks_like_image or find_image_service(resource)[0] is not None)


def _select(body: Any, budget: int = _MAX_WRAPPING) -> tuple[Mapping[str, Any] | None, list]:
    """The image resource inside ``body`` and the selectors of the wrappers on the way."""
    if budget <= 0:
        return None, []
    if isinstance(body, list):
        for item in dicts(body):
            found = _select(item, budget - 1)
            if found[0] is not None:
                return found
        return None, []
    if not isinstance(body, Mapping):
        return None, []
    kind = node_type(body)
    if kind == "Choice":
        return _select(_unwrap_choice(body), budget - 1)
    if kind == "SpecificResource" or (kind == "" and "full" in body):
        source = next((body[key] for key in _SOURCE_KEYS if key in body), None)
        resource, selectors = _select(source, budget - 1)
        return resource, dicts(body.get("selector")) + selectors
    return (body if _is_image(body) else None), []


def _image_api_selector(selectors: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    for selector in selectors:
        if node_type(selector) == "ImageApiSelector":
            return selector
    return {}


def canvas_image(body: Any, region: Box, width: int, height: int) -> CanvasImage | None:
    """Build the :class:`CanvasImage` a painting annotation's body paints into ``region``.

    Args:
        body: the v3 ``body`` or v2 ``resource`` of a painting annotation.
        region: where it is painted on the canvas (see :func:`painted_region`).
        width: the canvas width.
        height: the canvas height.

    Returns:
        The image, or ``None`` when the body is no image (audio, video, text, junk).
    """
    resource, selectors = _select(body)
    if resource is None:
        return None
    img_w, img_h = positive_int(resource.get("width")), positive_int(resource.get("height"))
    service_id, version = find_image_service(resource)
    selector = _image_api_selector(selectors)
    rotation, mirrored = parse_rotation(selector.get("rotation"))
    crop = selector.get("region")
    fmt = resource.get("format")
    return CanvasImage(
        image_url=node_id(resource), service_id=service_id, service_version=version,
        width=img_w, height=img_h, region_on_canvas=region,
        canvas_width=width, canvas_height=height,
        image_region=parse_image_region(crop, img_w, img_h) if isinstance(crop, str) else None,
        rotation=rotation, mirrored=mirrored, format=fmt if isinstance(fmt, str) else None)


def intrinsic_size(paintings: list[tuple[Any, Any]]) -> tuple[int | None, int | None]:
    """A size for a canvas that lacks one: that of its only image, painted on all of it.

    Args:
        paintings: ``(body, target)`` of each painting annotation.

    Returns:
        ``(width, height)`` of the single whole-canvas image, else ``(None, None)``.
    """
    if len(paintings) != 1:
        return None, None
    body, target = paintings[0]
    if any((isinstance(t, str) and "xywh=" in t) or (isinstance(t, Mapping) and "selector" in t)
           for t in as_list(target)):
        return None, None
    resource, selectors = _select(body)
    if resource is None or selectors:
        return None, None
    return positive_int(resource.get("width")), positive_int(resource.get("height"))


def build_canvas(raw: Mapping[str, Any], paintings: list[tuple[Any, Any]],
                 pages: list[Any]) -> Canvas | SkippedCanvas:
    """A canvas from its (body, target) painting pairs and annotation page references.

    The v2 and v3 readers differ only in where they find these; the sizes, fallbacks and
    reasons for skipping are the same.
    """
    canvas_id = node_id(raw)
    if canvas_id is None:
        return SkippedCanvas(None, "canvas without an id")
    width, height = positive_int(raw.get("width")), positive_int(raw.get("height"))
    if not (width and height):
        width, height = intrinsic_size(paintings)
    if not (width and height):
        return SkippedCanvas(canvas_id, f"no positive width and height "
                                        f"({raw.get('width')!r}×{raw.get('height')!r})")
    images = [canvas_image(body, painted_region(target, width, height), width, height)
              for body, target in paintings]
    page_ids = (node_id(page) for page in pages)
    return Canvas(id=canvas_id, label=label_text(raw.get("label")), width=width, height=height,
                  images=tuple(image for image in images if image is not None),
                  annotations=tuple(page for page in page_ids if page))
