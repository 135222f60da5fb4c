"""``/manifests``: register a manifest or collection for enrichment; serve it enriched."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, Response, current_app
from jsonschema import Draft202012Validator

from annoserver.errors import BadRequest
from annoserver.inference import Runtime
from annoserver.inference.errors import UnknownModel
from annoserver.jobs import submit
from annoserver.jobs.enriched import Layer, enriched_collection, enriched_manifest, manifest_url
from annoserver.jobs.errors import UnknownManifest
from annoserver.web.auth import requires
from annoserver.web.jobs import context, executor, registered_source
from annoserver.web.negotiation import json_body, json_response
from annoserver.web.pages import presentation_version
from annoserver.web.urls import base_url

blueprint = Blueprint("manifests", __name__)
PRESENTATION_3 = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
PRESENTATION_2 = 'application/ld+json;profile="http://iiif.io/api/presentation/2/context.json"'


@cache
def _validator() -> Draft202012Validator:
    text = (resources.files("annoserver") / "schemas" / "job-request.schema.json").read_text()
    return Draft202012Validator(json.loads(text))


def _parse(body: Any) -> tuple[str, list[str], dict[str, Any]]:
    errors = sorted(_validator().iter_errors(body), key=lambda e: list(e.path))
    if errors:
        raise BadRequest("The manifest registration is not valid.",
                         errors=[f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}"
                                 for e in errors])
    return body["url"].strip(), list(body["models"]), dict(body.get("options", {}))


@blueprint.post("/manifests")
@requires("write")
def register() -> Response:
    """Register a manifest or collection URL with models: 202 and the job that enriches it."""
    url, models, options = _parse(json_body())
    source = registered_source(url)
    url = source.url if source else url
    base = base_url()
    submitted = submit(context(), url, models, options, base)
    executor().start()
    executor().wake()
    job_url = f"{base}jobs/{submitted.job_id}"
    body = {"key": submitted.key, "manifest": manifest_url(base, submitted.key),
            "job": job_url}
    return json_response(body, status=202, media_type="application/json",
                         headers={"Location": job_url})


def _layers(runtime: Runtime, model_ids: list[str]) -> list[Layer]:
    layers = []
    for model_id in model_ids:
        try:
            version = runtime.get(model_id).config.version
        except UnknownModel:  # uninstalled since: its annotations are still there
            layers.append(Layer(model_id, f"{model_id} annotations"))
        else:
            layers.append(Layer(model_id, f"{model_id} {version} annotations"))
    return layers


@blueprint.get("/manifests/<key>")
def enriched(key: str) -> Response:
    """The enriched manifest (Presentation 3; ``?version=2`` for 2.1 with otherContent)."""
    jobs = context()
    record = jobs.manifests.get(key)
    if record is None:
        raise UnknownManifest(f"No manifest or collection is registered under {key!r}.")
    version, base = presentation_version(), base_url()
    if record.kind == "Collection":
        document = enriched_collection(record, jobs.manifests.members(key), base,
                                       version)
    else:
        layers = _layers(current_app.extensions["annoserver.runtime"],
                         jobs.manifests.models(key))
        document = enriched_manifest(record, layers, base, version, jobs.settings.limits)
    media_type = PRESENTATION_2 if version == 2 else PRESENTATION_3
    return json_response(document, media_type=media_type, headers={"Vary": "Accept"})
