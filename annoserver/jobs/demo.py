"""The demo's enrichment: the demo manifest through the normal job path, once.

``make run`` starts ``annoserver demo`` beside the server: it waits for the server to answer,
registers the demo manifest with every shipped model that makes annotations (a job, exactly
as ``POST /manifests`` makes one) and runs it here, while the server already serves the
viewer. The rule that keeps a restart from enriching again: a job for the demo manifest that
covers the models and did not fail or get cancelled is reused (still running after a
restart: it is resumed; done: nothing to do).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import quote

from annoserver.analysis import ANNOTATING_KINDS
from annoserver.iiif import UpstreamError, UpstreamTimeout, fetch_json
from annoserver.inference import Runtime
from annoserver.jobs.context import JobContext
from annoserver.jobs.enriched import manifest_url
from annoserver.jobs.intake import digest, submit
from annoserver.store.jobs import ACTIVE, DONE, JobRecord


def default_models(runtime: Runtime) -> list[str]:
    """Every installed model that makes annotations (a super-resolution model makes none)."""
    return [model.config.id for model in runtime.models()
            if model.config.kind in ANNOTATING_KINDS]


def viewer_url(base_url: str, demo_manifest: str) -> str:
    """The viewer with the *enriched* demo manifest open (known before any job ran)."""
    enriched = manifest_url(base_url, digest(demo_manifest))
    return f"{base_url}viewer/?manifest={quote(enriched, safe='')}"


def wait_until_served(context: JobContext, url: str, timeout: float) -> None:
    """Poll ``url`` until the server that serves it answers.

    Raises:
        UpstreamError, UpstreamTimeout: No answer within ``timeout`` seconds (the last one).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fetch_json(url, session=context.session)
            return
        except (UpstreamError, UpstreamTimeout):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def covering_job(context: JobContext, demo_manifest: str,
                 models: Sequence[str]) -> JobRecord | None:
    """The newest job for the demo manifest that ran or runs ``models``, unless it failed."""
    wanted = set(models)
    for job in reversed(context.repository.jobs_of(digest(demo_manifest))):
        if wanted <= set(job.models) and (job.state in ACTIVE or job.state == DONE):
            return job
    return None


def enrich_demo(context: JobContext, demo_manifest: str, models: Sequence[str],
                base_url: str) -> tuple[int, bool]:
    """The id of the job enriching the demo, and whether it was submitted just now."""
    job = covering_job(context, demo_manifest, models)
    if job is not None:
        return job.id, False
    return submit(context, demo_manifest, models, {}, base_url).job_id, True
