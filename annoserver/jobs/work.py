"""The unit of work: one canvas × model (or one collection to expand), run idempotently.

:meth:`UnitRunner.run_unit` takes a unit id only — what a Dramatiq message will carry — claims
it, and runs it; :meth:`UnitRunner.execute` runs a unit an executor already claimed. Analysis
persists its annotations under a result key, so a retry (or a rerun after a crash between
storing and recording) replaces or reuses them and never duplicates them. A failure is
retried with exponential backoff when it may pass (upstream 5xx/429, timeouts, unexpected
errors) and recorded at once when it cannot (no image service, a 4xx, a bad model); either
way the job goes on.
"""

from __future__ import annotations

import logging
import secrets

from annoserver.analysis import AnalysisRequest, Analyzer, CanvasRef
from annoserver.errors import AnnoserverError
from annoserver.jobs.context import JobContext
from annoserver.jobs.errors import NoImageService
from annoserver.jobs.intake import expand
from annoserver.store.jobs import EXPAND, ClaimedUnit

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


class UnitRunner:
    """Runs units against one process's :class:`JobContext`."""

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def run_unit(self, unit_id: int) -> bool:
        """Claim unit ``unit_id`` and run it (the body of a message runner's task).

        Returns False when the unit is not queued (taken, finished, cancelled): a message
        runner should simply acknowledge such a message.
        """
        unit = self.context.repository.claim(unit_id, secrets.token_hex(16))
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
        canvas = CanvasRef(unit.canvas_id, unit.canvas_width, unit.canvas_height)
        request = AnalysisRequest(image=unit.service, models=(unit.model_id,), canvas=canvas,
                                  manifest=unit.manifest_id, persist=True)
        context = self.context
        Analyzer(context.runtime, context.session, context.annotations,
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
            self.context.repository.retry(unit, detail, settings.delay(unit.attempts))
            return
        where = ({"collection": unit.canvas_id} if unit.kind == EXPAND
                 else {"canvas": unit.canvas_id, "model": unit.model_id})
        entry = {**where, "attempts": unit.attempts, "status": status, "detail": detail}
        log.warning("unit %s of job %s failed: %s", unit.id, unit.job_id, detail)
        self.context.repository.fail(unit, entry, settings.max_errors)
