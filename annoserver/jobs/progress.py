"""A job's progress as clients see it: counts, errors, rate and estimated time left."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from annoserver.store.jobs import ACTIVE, JobRecord


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def rate_and_eta(job: JobRecord, now: datetime) -> tuple[float | None, float | None]:
    """Units per second since the job started, and seconds left at that rate.

    Both are None until a unit has finished; the estimate is 0 once the job is over.
    """
    processed = job.done + job.failed
    if job.state not in ACTIVE:
        elapsed = ((job.finished or now) - job.started).total_seconds() if job.started else 0
        return (round(processed / elapsed, 3) if processed and elapsed > 0 else None), 0.0
    if not job.started or not processed:
        return None, None
    elapsed = max((now - job.started).total_seconds(), 1e-3)
    rate = processed / elapsed
    return round(rate, 3), round(max(job.total - processed, 0) / rate, 1)


def job_document(job: JobRecord, base_url: str, now: datetime | None = None) -> dict[str, Any]:
    """The JSON of ``GET /jobs/{id}``; ``base_url`` ends in ``/``."""
    rate, eta = rate_and_eta(job, now or datetime.now(UTC))
    return {"id": f"{base_url}jobs/{job.id}", "state": job.state, "total": job.total,
            "done": job.done, "failed": job.failed, "errors": job.errors, "rate": rate,
            "eta": eta, "manifest": f"{base_url}manifests/{job.manifest_key}",
            "models": job.models, "options": job.options, "created": _iso(job.created),
            "started": _iso(job.started), "finished": _iso(job.finished)}
