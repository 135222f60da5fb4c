"""``/demo/``: a small IIIF collection served by annoserver itself, for ``make run``.

A Presentation 3 manifest over the images in ``manifests/demo/images`` and, per image, a
level-0 Image API 3 service offering a few whole-image sizes, so that the viewer and on-demand
analysis can be tried with no other IIIF server. Not meant for real collections.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app

from annoserver.errors import BadRequest, NotFound
from annoserver.iiif.decode import cv2  # sets OpenCV's pixel cap before cv2 loads
from annoserver.web.urls import base_url

blueprint = Blueprint("demo", __name__)
SHIPPED_DEMO = Path(__file__).resolve().parents[2] / "manifests" / "demo"
IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"


def _images() -> dict[str, Path]:
    folder = Path(current_app.config["DEMO_DIR"] or SHIPPED_DEMO) / "images"
    return {path.stem: path for path in sorted(folder.glob("*.jpg"))}


@cache
def _pixels(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def _image(name: str) -> np.ndarray:
    path = _images().get(name)
    if path is None:
        raise NotFound(f"There is no demo image {name!r}.")
    return _pixels(path)


def _sizes(pixels: np.ndarray) -> list[dict[str, int]]:
    height, width = pixels.shape[:2]
    return [{"width": round(width / f), "height": round(height / f)} for f in (4, 2, 1)]


@blueprint.get("/demo/iiif/<name>/info.json")
def info(name: str) -> dict[str, Any]:
    """A level-0 Image API 3 description: whole-image sizes only."""
    pixels = _image(name)
    height, width = pixels.shape[:2]
    return {"@context": IMAGE_CONTEXT, "id": f"{base_url()}demo/iiif/{name}",
            "type": "ImageService3", "protocol": "http://iiif.io/api/image",
            "profile": "level0", "width": width, "height": height, "sizes": _sizes(pixels)}


@blueprint.get("/demo/iiif/<name>/full/<size>/0/default.jpg")
def image(name: str, size: str) -> Response:
    """The whole image at ``max`` or one of the listed sizes (``w,h``)."""
    pixels = _image(name)
    allowed = {f"{s['width']},{s['height']}": s for s in _sizes(pixels)}
    if size != "max" and size not in allowed:
        raise BadRequest(f"This level-0 service offers only 'max' and {sorted(allowed)}.")
    if size != "max":
        pixels = cv2.resize(pixels, (allowed[size]["width"], allowed[size]["height"]),
                            interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return Response(encoded.tobytes(), content_type="image/jpeg",
                    headers={"Cache-Control": "public, max-age=86400"})


def _canvas(base: str, name: str) -> dict[str, Any]:
    height, width = _image(name).shape[:2]
    canvas_id = f"{base}demo/canvas/{name}"
    service = f"{base}demo/iiif/{name}"
    body = {"id": f"{service}/full/max/0/default.jpg", "type": "Image", "format": "image/jpeg",
            "width": width, "height": height,
            "service": [{"id": service, "type": "ImageService3", "profile": "level0"}]}
    painting = {"id": f"{canvas_id}/page", "type": "AnnotationPage", "items": [
        {"id": f"{canvas_id}/painting", "type": "Annotation", "motivation": "painting",
         "body": body, "target": canvas_id}]}
    return {"id": canvas_id, "type": "Canvas", "label": {"en": [name]}, "width": width,
            "height": height, "items": [painting]}


@blueprint.get("/demo/manifest.json")
def manifest() -> dict[str, Any]:
    """The demo manifest, with ids under this server's public URL."""
    base = base_url()
    return {"@context": PRESENTATION_CONTEXT, "id": f"{base}demo/manifest.json",
            "type": "Manifest", "label": {"en": ["annoserver demo"]},
            "summary": {"en": ["Sample images served by annoserver for trying the viewer "
                               "and on-demand analysis."]},
            "items": [_canvas(base, name) for name in _images()]}
