"""The unit of work: one canvas × model (or one collection to expand), run idempotently.

:meth:`UnitRunner.run_unit` takes a unit id only — what a Dramatiq message will carry — claims
it, and runs it; :meth:`UnitRunner.execute` runs a unit an executor already claimed. Analysis
persists its annotations under a result key, so a retry (or a rerun after a crash between
storing and recording) replaces or reuses them and never duplicates them. A failure is
retried with exponential backoff when it may pass (upstream 5xx/429, timeouts, unexpected
errors) and recorded at once when it cannot (no image service, a 4xx, a bad model); either
way the job goes on.

Only the painted pixels are analysed, and results land where they are painted: a canvas that
paints its image into part of itself (``#xywh=``) or paints only a region of the image (an
``ImageApiSelector``) gets the region fetched and the boxes mapped through that placement.
Units carry ids only, so the placement is read from the stored manifest (parsed once per
process and manifest version, :class:`PaintedImages`).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from datetime import datetime

from annoserver.analysis import AnalysisRequest, Analyzer, CanvasRef
from annoserver.errors import AnnoserverError
from annoserver.jobs.context import JobContext
from annoserver.jobs.errors import NoImageService, UnsupportedPainting
from annoserver.jobs.intake import analysed_image, expand
from annoserver.presentation import CanvasImage, Limits, read_manifest
from annoserver.store.jobs import EXPAND, ClaimedUnit
from annoserver.store.manifests import ManifestStore

log = logging.getLogger(__name__)
RETRYABLE_UPSTREAM = {408, 425, 429}


def retryable(error: Exception) -> bool:
    """Whether trying again later may succeed."""
    if not isinstance(error, AnnoserverError):
        return True
    upstream = error.extra.get("upstream_status")
    if isinstance(upstream, int):
        return upstream >= 500 or upstream in RETRYABLE_UPSTREAM
    return error.status >= 500


class PaintedImages:
    """Per canvas of a registered manifest, the image its units analyse (with placement).

    A small LRU of parsed manifests, keyed by manifest key and fetch time (so a manifest
    registered again is read again).
    """

    def __init__(self, manifests: ManifestStore, limits: Limits, size: int = 8) -> None:
        self.manifests, self.limits, self.size = manifests, limits, size
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, datetime], dict[str, CanvasImage | None]] = (
            OrderedDict())

    def image(self, manifest_key: str, fetched: datetime, canvas_id: str) -> CanvasImage | None:
        """The image analysed on canvas ``canvas_id`` (None: no such canvas or image)."""
        key = (manifest_key, fetched)
        with self._lock:
            images = self._cache.get(key)
            if images is not None:
                self._cache.move_to_end(key)
        if images is None:
            record = self.manifests.get(manifest_key)
            manifest = read_manifest(record.source, limits=self.limits) if record else None
            images = {canvas.id: analysed_image(canvas)
                      for canvas in (manifest.canvases if manifest else ())}
            with self._lock:
                self._cache[key] = images
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
        return images.get(canvas_id)


def painting(image: CanvasImage | None, width: int | None,
             height: int | None) -> tuple[str, tuple[float, float, float, float] | None]:
    """The IIIF region to analyse and the canvas box it is painted into (None: all of it).

    Raises:
        UnsupportedPainting: The image is painted rotated or mirrored.
    """
    if image is None:
        return "full", None
    if image.rotation or image.mirrored:
        raise UnsupportedPainting(f"The image of this canvas is painted rotated "
                                  f"({image.rotation}°{', mirrored' if image.mirrored else ''}); "
                                  "batch analysis maps results onto unrotated paintings only.")
    crop = image.image_region
    region = "full" if crop is None else ",".join(str(round(v)) for v in crop)
    box = tuple(image.region_on_canvas)
    whole = crop is None and box == (0, 0, width, height)
    return region, None if whole else box


class UnitRunner:
    """Runs units against one process's :class:`JobContext`."""

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.painted = PaintedImages(context.manifests, context.settings.limits)

    def run_unit(self, unit_id: int) -> bool:
        """Claim unit ``unit_id`` and run it (the body of a message runner's task).

        Returns False when the unit is not claimed: not queued (taken, finished, cancelled),
        or it must wait for its IIIF host or its twin (then it is still queued).
        """
        unit = self.context.repository.claim(unit_id, secrets.token_hex(16),
                                            self.context.settings.per_host)
        if unit is None:
            return False
        self.execute(unit)
        return True

    def execute(self, unit: ClaimedUnit) -> None:
        """Run a claimed unit and record how it went (done, retry later, or failed)."""
        try:
            if unit.kind == EXPAND:
                expand(self.context, unit)
            else:
                self._analyse(unit)
        except Exception as error:  # noqa: BLE001 - any failure is the unit's, not the runner's
            self._failed(unit, error)
        else:
            self.context.repository.complete(unit)

    def _analyse(self, unit: ClaimedUnit) -> None:
        if not unit.service:
            raise NoImageService(f"Canvas {unit.canvas_id} paints no image with a IIIF Image "
                                 "API service, so there is nothing to fetch and analyse.")
        image = self.painted.image(unit.manifest_key, unit.manifest_fetched, unit.canvas_id)
        region, box = painting(image, unit.canvas_width, unit.canvas_height)
        canvas = CanvasRef(unit.canvas_id, unit.canvas_width, unit.canvas_height, box)
        request = AnalysisRequest(image=unit.service, models=(unit.model_id,), region=region,
                                  canvas=canvas, manifest=unit.manifest_id, persist=True,
                                  embed_regions=unit.options.get("embed_regions"))
        context = self.context
        Analyzer(context.runtime, context.session, context.annotations, context.embeddings,
                 unit.base_url).analyze(request)

    def _failed(self, unit: ClaimedUnit, error: Exception) -> None:
        settings = self.context.settings
        attempts = int(unit.options.get("attempts", settings.attempts))
        if isinstance(error, AnnoserverError):
            status, detail = error.status, error.detail
        else:
            log.exception("unit %s of job %s failed unexpectedly", unit.id, unit.job_id)
            status, detail = 500, f"{type(error).__name__}: {error}"
        if retryable(error) and unit.attempts < attempts:
            log.info("unit %s (try %s) failed, retrying: %s", unit.id, unit.attempts, detail)
            delay = settings.delay(unit.attempts)
            asked = getattr(error, "retry_after", None)  # the image server's Retry-After
            if asked:
                delay = min(max(delay, asked), settings.max_backoff)
            self.context.repository.retry(unit, detail, delay)
            return
        where = ({"collection": unit.canvas_id} if unit.kind == EXPAND
                 else {"canvas": unit.canvas_id, "model": unit.model_id})
        entry = {**where, "attempts": unit.attempts, "status": status, "detail": detail}
        log.warning("unit %s of job %s failed: %s", unit.id, unit.job_id, detail)
        self.context.repository.fail(unit, entry, settings.max_errors)
