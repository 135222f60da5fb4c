"""``/demo/``: a small IIIF collection served by annoserver itself, for ``make run``.

A Presentation 3 manifest over the images in ``manifests/demo/images`` (a printed page with
an illustration, a letter with a stamp and a watermark, photographs), its Presentation 2.1
twin, a collection of the two, and per image a level-0 Image API 3 service offering a few
whole-image sizes, so that the viewer, on-demand analysis and batch jobs can be tried with no
other IIIF server. ``make run`` enriches the manifest (``annoserver demo``). Not meant for
real collections.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app

from annoserver.errors import BadRequest, NotFound
from annoserver.iiif.decode import cv2  # sets OpenCV's pixel cap before cv2 loads
from annoserver.presentation.downgrade import downgrade_manifest
from annoserver.web.urls import base_url

blueprint = Blueprint("demo", __name__)
SHIPPED_DEMO = Path(__file__).resolve().parents[2] / "manifests" / "demo"
IMAGE_CONTEXT = "http://iiif.io/api/image/3/context.json"
PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
# Canvas labels of the shipped images, in manifest order; other images follow by name.
LABELS = {
    "page": "A printed page with an illustration",
    "stamped": "A letter with a library stamp and a watermark",
    "astronaut": "A photograph: astronaut Eileen Collins",
    "rocket": "A photograph: a rocket launch",
    "coffee": "A photograph: a cup of coffee",
    "chelsea": "A photograph: Chelsea the cat",
}


def _images() -> dict[str, Path]:
    folder = Path(current_app.config["DEMO_DIR"] or SHIPPED_DEMO) / "images"
    found = {path.stem: path for path in sorted(folder.glob("*.jpg"))}
    order = [name for name in LABELS if name in found] + sorted(set(found) - set(LABELS))
    return {name: found[name] for name in order}


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
    return {"id": canvas_id, "type": "Canvas", "label": {"en": [LABELS.get(name, name)]},
            "width": width, "height": height, "items": [painting]}


def _manifest(base: str) -> dict[str, Any]:
    return {"@context": PRESENTATION_CONTEXT, "id": f"{base}demo/manifest.json",
            "type": "Manifest", "label": {"en": ["annoserver demo"]},
            "summary": {"en": ["Sample images served by annoserver for trying the viewer, "
                               "on-demand analysis and batch enrichment."]},
            "requiredStatement": {"label": {"en": ["Attribution"]},
                                  "value": {"en": ["Images: scikit-image sample data and "
                                                   "pages rendered for annoserver; see "
                                                   "manifests/demo/README.md"]}},
            "items": [_canvas(base, name) for name in _images()]}


@blueprint.get("/demo/manifest.json")
def manifest() -> dict[str, Any]:
    """The demo manifest, with ids under this server's public URL."""
    return _manifest(base_url())


@blueprint.get("/demo/manifest-v2.json")
def manifest_v2() -> dict[str, Any]:
    """The same manifest as Presentation 2.1, for trying v2 input and v2 viewers."""
    base = base_url()
    return downgrade_manifest(_manifest(base), f"{base}demo/manifest-v2.json")


@blueprint.get("/demo/collection.json")
def collection() -> dict[str, Any]:
    """A Presentation 3 collection of the demo manifest and its v2 twin."""
    base = base_url()
    return {"@context": PRESENTATION_CONTEXT, "id": f"{base}demo/collection.json",
            "type": "Collection", "label": {"en": ["annoserver demo collection"]},
            "items": [{"id": f"{base}demo/manifest.json", "type": "Manifest",
                       "label": {"en": ["annoserver demo"]}},
                      {"id": f"{base}demo/manifest-v2.json", "type": "Manifest",
                       "label": {"en": ["annoserver demo (Presentation 2.1)"]}}]}
