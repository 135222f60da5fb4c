"""Registering a manifest or collection: fetch it, read it, create the job and its units.

A manifest becomes one unit per canvas × model at once. A collection becomes one *expand*
unit, run like any other (retried, resumed): it walks the collection (bounded depth and size,
sub-collections fetched through the guarded session), registers each manifest and adds its
units, so a large collection never holds up the request that registered it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from annoserver.analysis import ANNOTATING_KINDS, embedding_model
from annoserver.errors import AnnoserverError, BadRequest
from annoserver.iiif import fetch_json
from annoserver.inference import Runtime
from annoserver.jobs.context import JobContext
from annoserver.presentation import (
    Canvas,
    CanvasImage,
    Manifest,
    detect,
    iter_manifests,
    read_collection,
    read_manifest,
)
from annoserver.store.jobs import ANALYSE, EXPAND, ClaimedUnit, UnitSpec
from annoserver.store.keys import digest
from annoserver.store.manifests import ManifestRecord


@dataclass(frozen=True)
class Submission:
    """A registered manifest (or collection) and the job that enriches it."""

    key: str
    job_id: int
    kind: str


def check_models(runtime: Runtime, models: Sequence[str]) -> None:
    """Raise UnknownModel (404) or BadRequest (400) unless every model makes annotations."""
    for model_id in models:
        kind = runtime.get(model_id).config.kind
        if kind not in ANNOTATING_KINDS:
            raise BadRequest(f"Model {model_id!r} is a {kind} model: it makes no annotations, "
                             "so it cannot enrich a manifest.")


def submit(context: JobContext, url: str, models: Sequence[str], options: dict[str, Any],
           base_url: str) -> Submission:
    """Fetch ``url``, register it, and queue a job running ``models`` on every canvas.

    Raises:
        UnknownModel (404), BadRequest (400), ForbiddenHost (403), UpstreamError (502),
        UpstreamTimeout (504), NotIIIF (422), TooLarge (413).
    """
    check_models(context.runtime, models)
    if options.get("embed_regions"):
        embedding_model(context.runtime, options["embed_regions"])
    limits = context.settings.limits
    document = fetch_json(url, session=context.session)
    version, kind = detect(document)
    key = digest(url)
    repository = context.repository
    if kind == "Manifest":
        manifest = read_manifest(document, limits=limits)
        context.manifests.save(_record(key, url, manifest.id, kind, version, manifest.label,
                                       document))
        job_id = repository.create_job(key, models, options, base_url,
                                       analysis_units(manifest, key, models))
        repository.add_errors(job_id, skipped(manifest), context.settings.max_errors)
    else:
        collection = read_collection(document, limits=limits)
        context.manifests.save(_record(key, url, collection.id, kind, version,
                                       collection.label, document))
        expand = UnitSpec(EXPAND, key, url, digest(url), "", host=_host(url))
        job_id = repository.create_job(key, models, options, base_url, [expand])
    if context.dispatcher is not None:
        context.dispatcher.send_job(job_id)
    return Submission(key, job_id, kind)


def expand(context: JobContext, unit: ClaimedUnit) -> None:
    """Walk a registered collection, registering its manifests and adding their units.

    A member that cannot be fetched or read is noted in the job's errors and skipped; a
    walk that breaks the limits raises (the expand unit fails, the units added so far run).
    """
    repository, limits = context.repository, context.settings.limits
    record = context.manifests.get(unit.manifest_key)
    collection = read_collection(record.source, limits=limits)
    errors = []
    for reference in iter_manifests(collection, _fetcher(context), limits=limits):
        try:
            document = fetch_json(reference.id, session=context.session)
            manifest = read_manifest(document, limits=limits)
        except AnnoserverError as error:
            errors.append({"manifest": reference.id, "status": error.status,
                           "detail": error.detail})
            continue
        key = digest(reference.id)
        context.manifests.save(_record(key, reference.id, manifest.id, "Manifest",
                                       manifest.version, manifest.label, document))
        repository.add_units(unit.job_id, analysis_units(manifest, key, unit.models))
        errors += skipped(manifest)
    repository.add_errors(unit.job_id, errors, context.settings.max_errors)


def analysed_image(canvas: Canvas) -> CanvasImage | None:
    """The image a canvas's units analyse: the first painted one with an image service."""
    return next((image for image in canvas.images if image.service_id), None)


def analysis_units(manifest: Manifest, key: str, models: Sequence[str]) -> list[UnitSpec]:
    """One unit per canvas × model, analysing :func:`analysed_image`."""
    units = []
    for canvas in manifest.canvases:
        image = analysed_image(canvas)
        service = image.service_id if image else None
        units += [UnitSpec(ANALYSE, key, canvas.id, digest(canvas.id), model_id, service,
                           _host(service), canvas.width, canvas.height) for model_id in models]
    return units


def skipped(manifest: Manifest) -> list[dict[str, Any]]:
    """Job error entries for the canvases the reader had to leave out."""
    return [{"canvas": canvas.id, "manifest": manifest.id, "status": 422,
             "detail": f"canvas left out: {canvas.reason}"} for canvas in manifest.skipped]


def _fetcher(context: JobContext) -> Any:
    return lambda url: fetch_json(url, session=context.session)


def _host(url: str | None) -> str | None:
    """``host:port`` of a URL: the unit of the per-host concurrency cap."""
    if not url:
        return None
    return urlsplit(url).netloc.lower() or None


def _record(key: str, url: str, iiif_id: str, kind: str, version: int, label: str,
            document: dict[str, Any]) -> ManifestRecord:
    return ManifestRecord(key, url, iiif_id, kind, version, label or "", document,
                          datetime.now(UTC))
