"""The job machinery below HTTP: atomic claims, the per-host cap, stale units, the id-only unit
of work, progress figures, and ``annoserver enrich --wait`` as a real command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from annoserver.jobs.progress import rate_and_eta
from annoserver.store.jobs import ANALYSE, JobRecord, UnitSpec
from annoserver.store.manifests import ManifestRecord
from annoserver.store.tables import JobUnitRow
from tests.jobs.conftest import canvas, manifest


@pytest.fixture
def repository(app):
    return app.extensions["annoserver.jobs"].repository


def _job(app, hosts, models=("m",)):
    """A job over one canvas per entry of ``hosts`` (the image host of each)."""
    context = app.extensions["annoserver.jobs"]
    context.manifests.save(ManifestRecord("k" * 16, "https://example.org/m", "urn:m",
                                            "Manifest", 3, "m", {}, datetime.now(UTC)))
    units = [UnitSpec(ANALYSE, "k" * 16, f"urn:c{n}", f"{n:016x}", model,
                      host and f"https://{host}/iiif/{n}", host, 10, 10)
             for n, host in enumerate(hosts) for model in models]
    return context.repository.create_job("k" * 16, list(models), {}, "http://annoserver.test/",
                                         units)


def test_concurrent_runners_never_claim_the_same_unit(app, repository):
    _job(app, [None] * 30, models=("a", "b"))
    claimed, lock = [], threading.Lock()

    def runner(n):
        while (unit := repository.claim_next(f"token-{n}-{len(claimed)}", 1000)) is not None:
            with lock:
                claimed.append(unit.id)

    threads = [threading.Thread(target=runner, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 60 and len(set(claimed)) == 60
    assert repository.claim(claimed[0], "late", 1000) is None


def test_concurrent_claims_respect_the_per_host_cap(app, repository):
    _job(app, ["a.example"] * 40)
    claimed, lock = [], threading.Lock()
    barrier = threading.Barrier(6)

    def runner(n):
        barrier.wait()
        for attempt in range(10):
            unit = (repository.claim_next(f"t{n}-{attempt}", 2) if n % 2
                    else repository.claim(attempt * 6 + n + 1, f"m{n}-{attempt}", 2))
            if unit is not None:
                with lock:
                    claimed.append(unit.id)

    threads = [threading.Thread(target=runner, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 2  # nobody finished, so the host never had a third slot


def test_per_host_cap(app, repository):
    _job(app, ["a.example"] * 4 + ["b.example"])
    first = [repository.claim_next(f"t{n}", 2) for n in range(3)]
    assert [unit.service.split("/")[2] for unit in first] == ["a.example", "a.example",
                                                              "b.example"]
    assert repository.claim_next("t3", 2) is None  # a.example is at its cap
    assert repository.complete(first[0])
    assert repository.claim_next("t4", 2).service.split("/")[2] == "a.example"
    assert repository.claim(5, "message", 2) is None  # a message runner meets the cap too


def test_a_canvas_model_runs_in_one_job_at_a_time(app, repository):
    first, second = _job(app, [None, None]), _job(app, [None, None])
    a = repository.claim_next("a", 10)
    b = repository.claim_next("b", 10)
    assert (a.job_id, b.job_id) == (first, first)  # the second job's twins must wait
    assert repository.claim_next("c", 10) is None
    assert repository.claim(a.id + 2, "d", 10) is None  # nor may a message runner take them
    assert repository.complete(a)
    c = repository.claim_next("e", 10)
    assert (c.job_id, c.canvas_id) == (second, a.canvas_id)


def test_a_stale_unit_out_of_attempts_is_recorded_failed(repository, app):
    job_id = _job(app, [None])
    unit = repository.claim_next("dead", 10)
    with app.extensions["annoserver.db"].begin() as connection:
        connection.execute(update(JobUnitRow).values(
            attempts=3, heartbeat=datetime.now(UTC) - timedelta(minutes=5)))
    assert repository.requeue_stale(60, attempts=3, limit=10) == 1
    assert not repository.complete(unit)  # its claim is gone: nothing is counted twice
    job = repository.job(job_id)
    assert (job.state, job.failed, job.done) == ("failed", 1, 0)
    assert "stopped answering" in job.errors[0]["detail"]


def test_run_unit_takes_an_id_only(app, repository):
    job_id = _job(app, [None])  # a canvas without an image service
    [unit_id] = [row.id for row in _units(app)]
    runner = app.extensions["annoserver.executor"].runner
    assert runner.run_unit(unit_id) is True
    assert runner.run_unit(unit_id) is False  # finished: a redelivered message is a no-op
    job = repository.job(job_id)
    assert (job.state, job.failed) == ("failed", 1)
    assert job.errors[0]["status"] == 422 and job.errors[0]["attempts"] == 1


def _units(app):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(app.extensions["annoserver.db"]) as session:
        return session.scalars(select(JobUnitRow)).all()


def test_rate_and_eta():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    job = JobRecord(1, "k", ["m"], {}, "b/", "running", 100, 18, 2, [], start, start, None)
    assert rate_and_eta(job, start + timedelta(seconds=10)) == (2.0, 40.0)
    queued = JobRecord(1, "k", ["m"], {}, "b/", "queued", 100, 0, 0, [], start, None, None)
    assert rate_and_eta(queued, start) == (None, None)
    done = JobRecord(1, "k", ["m"], {}, "b/", "done", 100, 100, 0, [], start, start,
                     start + timedelta(seconds=50))
    assert rate_and_eta(done, start + timedelta(hours=1)) == (2.0, 0.0)


def test_cli_enrich_wait(tmp_path, job_models_dir, manifest_server, reference_server):
    manifest_id = f"{manifest_server.url}/cli/manifest.json"
    small = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    url = manifest_server.publish("/cli/manifest.json", manifest(manifest_id, [
        canvas(manifest_id, 1, 1200, 800, small), canvas(manifest_id, 2, 300, 200, small)]))
    env = {**os.environ, "ANNOSERVER_DATA_DIR": str(tmp_path),
           "ANNOSERVER_MODELS_DIR": str(job_models_dir),
           "ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1", "ANNOSERVER_JOB_POLL_INTERVAL": "0.05"}
    done = subprocess.run(
        [sys.executable, "-c", "from annoserver.cli import main; main()", "enrich", url,
         "--models", "tiny-detector", "--wait", "--public-url", "http://annoserver.test"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"http://annoserver\.test/manifests/[0-9a-f]{16}",
                        done.stdout.strip().splitlines()[-1])
    assert "enriching" in done.stderr and "done: 2 done, 0 failed of 2" in done.stderr

    from annoserver.app import create_app

    app = create_app({"DATA_DIR": str(tmp_path), "MODELS_DIR": str(job_models_dir)})
    listed = app.test_client().get("/annotations/", query_string={"manifest": manifest_id})
    items = listed.get_json()["first"]["items"]
    boxes = sorted(item["target"]["selector"]["value"] for item in items)
    assert boxes == ["xywh=300,200,600,400", "xywh=75,50,150,100"]
    app.extensions["annoserver.db"].dispose()

    refused = subprocess.run(
        [sys.executable, "-c", "from annoserver.cli import main; main()", "enrich", url,
         "--models", "no-such-model"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "no-such-model" in refused.stderr


def test_the_job_core_never_imports_flask():
    code = ("import sys, annoserver.jobs, annoserver.jobs.enriched, annoserver.store.jobs; "
            "print('flask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False"]
