"""``/analyze``: machine annotations for a region of a IIIF image, on demand."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from jsonschema import Draft202012Validator

from annoserver.analysis import AnalysisRequest, Analyzer, CanvasRef, Outcome
from annoserver.errors import BadRequest
from annoserver.iiif import Limits, make_session
from annoserver.web.auth import check_scope, open_to_readers
from annoserver.web.jobs import registered_source
from annoserver.web.negotiation import json_body, json_response
from annoserver.web.paging import ANNO_CONTEXT
from annoserver.web.urls import base_url

blueprint = Blueprint("analyze", __name__)
# A token for a restricted image (IIIF Auth) travels in its own header: Authorization is
# annoserver's own bearer token. It is sent only to the image's host.
IMAGE_AUTHORIZATION = "IIIF-Authorization"


def init_app(app: Flask) -> None:
    """One guarded IIIF session per process (pools, per-host limits and the JSON cache)."""
    limits = Limits(read_timeout=float(app.config["FETCH_READ_TIMEOUT"]),
                    deadline=float(app.config["FETCH_DEADLINE"]))
    app.extensions["annoserver.iiif"] = make_session(
        allowed_hosts=app.config["ALLOWED_HOSTS"], limits=limits,
        per_host=int(app.config["FETCH_PER_HOST"]))


@cache
def _validator() -> Draft202012Validator:
    text = (resources.files("annoserver") / "schemas" / "analyze-request.schema.json").read_text()
    return Draft202012Validator(json.loads(text))


def analyzer() -> Analyzer:
    """An analyser over this app's runtime, IIIF session and stores."""
    return Analyzer(current_app.extensions["annoserver.runtime"],
                    current_app.extensions["annoserver.iiif"],
                    current_app.extensions["annoserver.annotations"],
                    current_app.extensions["annoserver.embeddings"], base_url())


def _parse(body: Any) -> AnalysisRequest:
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.path))
    if errors:
        raise BadRequest("The analysis request is not valid.",
                         errors=[f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}"
                                 for e in errors])
    canvas = body.get("canvas")
    if isinstance(canvas, str):
        canvas = CanvasRef(canvas)
    elif isinstance(canvas, dict):
        canvas = CanvasRef(canvas["id"], canvas.get("width"), canvas.get("height"))
    manifest = body.get("manifest")
    source = registered_source(manifest)
    return AnalysisRequest(image=body["image"], models=tuple(body["models"]),
                           region=body.get("region", "full"), canvas=canvas,
                           manifest=source.iiif_id if source else manifest,
                           persist=body.get("persist", False),
                           embed_regions=body.get("embed_regions"),
                           authorization=request.headers.get(IMAGE_AUTHORIZATION))


def _page(outcomes: list[Outcome]) -> dict[str, Any]:
    items = [{key: value for key, value in annotation.items() if key != "@context"}
             for outcome in outcomes for annotation in outcome.annotations]
    return {"@context": [ANNO_CONTEXT, base_url() + "ns/annoserver.jsonld"],
            "type": "AnnotationPage", "items": items}


@blueprint.post("/analyze")
@open_to_readers("analysis stores nothing unless persist is set, which needs a write token")
def analyze() -> Response:
    """Analyse a region with one or more models; ``persist`` (write token) stores them."""
    analysis = _parse(json_body())
    if analysis.persist:
        check_scope("write")
    outcomes = analyzer().analyze(analysis)
    page = _page(outcomes)
    cached = all(outcome.from_store for outcome in outcomes)
    return json_response(page, headers={"X-Annoserver-From-Store": str(cached).lower()})


@blueprint.get("/analyze")
def analyze_get() -> Response:
    """The same for simple embedding (``?image=&region=&model=``), cacheable by HTTP."""
    args = request.args
    models = args.getlist("model")
    if not args.get("image") or not models:
        raise BadRequest("Give 'image' and at least one 'model' query parameter.")
    body = {"image": args["image"], "region": args.get("region", "full"), "models": models}
    analysis = _parse(body)
    runtime = current_app.extensions["annoserver.runtime"]
    versions = [runtime.get(model_id).config.sha256 for model_id in models]
    etag = '"' + hashlib.sha256(json.dumps([body, versions]).encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600", "Vary": "Accept"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    return json_response(_page(analyzer().analyze(analysis)), headers=headers)
