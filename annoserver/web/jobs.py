"""``/jobs/{id}``: a batch job's progress, and cancelling it; the per-process job runner."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app

from annoserver.jobs import InProcessExecutor, JobContext, JobSettings
from annoserver.jobs.errors import UnknownJob
from annoserver.jobs.progress import job_document
from annoserver.store.jobs import JobRecord, JobRepository
from annoserver.store.manifests import ManifestRecord, ManifestStore
from annoserver.web.auth import requires
from annoserver.web.negotiation import json_response
from annoserver.web.urls import base_url

blueprint = Blueprint("jobs", __name__)
MAX_JOB_ID = 2**31 - 1


def init_app(app: Flask) -> None:
    """Build the job context and this process's executor (started lazily, never here).

    create_app also runs in the gunicorn master, whose threads would not survive the fork
    to the workers: the pool starts on a worker's first request that finds unfinished jobs
    (a restart resumes them) or when a job is queued.
    """
    settings = JobSettings.from_config(app.config)
    engine = app.extensions["annoserver.db"]
    context = JobContext(JobRepository(engine), ManifestStore(engine),
                         app.extensions["annoserver.annotations"],
                         app.extensions["annoserver.runtime"],
                         app.extensions["annoserver.iiif"], settings,
                         app.extensions["annoserver.embeddings"])
    executor = InProcessExecutor(context)
    app.extensions["annoserver.jobs"] = context
    app.extensions["annoserver.executor"] = executor
    app.before_request(executor.resume_if_needed)


def context() -> JobContext:
    """The app's job context."""
    return current_app.extensions["annoserver.jobs"]


def executor() -> InProcessExecutor:
    """The app's in-process executor."""
    return current_app.extensions["annoserver.executor"]


def _respond(job: JobRecord | None, job_id: int) -> Response:
    if job is None:
        raise UnknownJob(f"There is no job {job_id}.")
    return json_response(job_document(job, base_url()), media_type="application/json",
                         headers={"Cache-Control": "no-store"})


def _job_id(text: str) -> int:
    """The job id in a URL; 404 for anything no job can have (job ids are 32-bit integers)."""
    if not text.isascii() or not text.isdigit() or int(text) > MAX_JOB_ID:
        raise UnknownJob(f"There is no job {text!r}.")
    return int(text)


@blueprint.get("/jobs/<job_id>")
def job_progress(job_id: str) -> Response:
    """State, counts, errors, rate (units/s) and ETA (s) of a job."""
    number = _job_id(job_id)
    return _respond(context().repository.job(number), number)


@blueprint.delete("/jobs/<job_id>")
@requires("write")
def cancel_job(job_id: str) -> Response:
    """Cancel a queued or running job (units in flight finish); a finished job is unchanged."""
    number = _job_id(job_id)
    return _respond(context().repository.cancel(number), number)


def registered_source(url: str | None) -> ManifestRecord | None:
    """The registered manifest behind one of our own enriched-manifest URLs, else None.

    Viewers only know the enriched manifest (``/manifests/{key}``); what they analyse and
    enrich from it must be filed under the source manifest, not wrapped a second time.
    """
    prefix = base_url() + "manifests/"
    if not url or not url.startswith(prefix):
        return None
    key = url[len(prefix):].split("?", 1)[0].split("#", 1)[0]
    return context().manifests.get(key) if key else None
