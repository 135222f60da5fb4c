"""``/iiif/sr/{model}/{upstream}/…``: super-resolved views as IIIF Image API 3 services.

The views are thin: :class:`annoserver.superres.SuperResolutionService` does the work. Here
are the Image API's HTTP duties: the base URI redirects to ``info.json``; ``info.json`` is
``application/ld+json`` with the Image 3 context as profile when asked for (else
``application/json``); images carry their Content-Type, a ``rel="canonical"`` and a
``rel="profile"`` Link, and are cacheable. Reads are open with CORS (the app's policy).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, json, redirect, request

from annoserver.superres import (
    DiskCache,
    Limits,
    SuperResolutionService,
    decode_upstream,
    service_url,
)
from annoserver.superres.info import IMAGE3_CONTEXT, PROFILE_URL
from annoserver.web.urls import base_url

blueprint = Blueprint("sr", __name__)
IMAGE_JSON_LD = f'application/ld+json;profile="{IMAGE3_CONTEXT}"'
MAX_SIDE = 16384  # JPEG and WebP encoders stop near 16k/64k px a side
CACHE_CONTROL = "public, max-age=86400"


def init_app(app: Flask) -> None:
    """One service per process, over the app's runtime, IIIF session and a disk cache."""
    folder = app.config["SR_CACHE_DIR"] or Path(app.config["DATA_DIR"]) / "sr-cache"
    max_area = int(app.config["SR_MAX_PIXELS"])
    app.extensions["annoserver.superres"] = SuperResolutionService(
        app.extensions["annoserver.runtime"], app.extensions["annoserver.iiif"],
        DiskCache(folder, int(app.config["SR_CACHE_BYTES"])),
        Limits(min(MAX_SIDE, max_area), min(MAX_SIDE, max_area), max_area))


def _service() -> SuperResolutionService:
    return current_app.extensions["annoserver.superres"]


def _service_id(model: str, upstream: str) -> str:
    return service_url(base_url(), model, decode_upstream(upstream))


@blueprint.after_request
def _open_to_all(response: Response) -> Response:
    """Send ``Access-Control-Allow-Origin: *``, as Image API 3 asks.

    The app's CORS policy echoes the caller's origin instead; any page may embed these images
    and read ``info.json``. Preflights are left to the app's policy.
    """
    if request.method != "OPTIONS":
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "Link"
    return response


@blueprint.get("/iiif/sr/<model>/<upstream>")
def base(model: str, upstream: str) -> Response:
    """The base URI: 303 to ``info.json``."""
    return redirect(f"{_service_id(model, upstream)}/info.json", 303)


@blueprint.get("/iiif/sr/<model>/<upstream>/info.json")
def info(model: str, upstream: str) -> Response:
    """The service description (Image API 3 ``info.json``)."""
    document = _service().info(model, upstream, _service_id(model, upstream))
    accept = request.accept_mimetypes
    media_type = (IMAGE_JSON_LD if accept["application/ld+json"] > accept["application/json"]
                  else "application/json")
    response = Response(json.dumps(document), mimetype=None, content_type=media_type)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Link"] = f'<{PROFILE_URL}>;rel="profile"'
    return response


@blueprint.get("/iiif/sr/<model>/<upstream>/<region>/<size>/<rotation>/<filename>")
def image(model: str, upstream: str, region: str, size: str, rotation: str,
          filename: str) -> Response:
    """The super-resolved pixels of a region at a size, rotated, in a quality and format."""
    rendered = _service().render(model, upstream, region, size, rotation, filename)
    canonical = (f"{service_url(base_url(), model, decode_upstream(upstream))}/"
                 f"{rendered.params.path()}")
    response = Response(rendered.content, content_type=rendered.params.media_type)
    response.headers["Link"] = f'<{canonical}>;rel="canonical", <{PROFILE_URL}>;rel="profile"'
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response

