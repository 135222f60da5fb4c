"""Jobs on Dramatiq: real Redis, real ``annoserver worker`` subprocesses, SIGKILL mid-job."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from annoserver.jobs import submit
from annoserver.jobs.launch import dramatiq_commands
from tests.jobs.conftest import TERMINAL, canvas, manifest, poll, publish_book
from tests.services import DramatiqWorker, require

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database of its own, flushed by each test


@pytest.fixture
def redis_url():
    import redis

    def ping() -> None:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.flushdb()
        client.close()

    require("Redis on 127.0.0.1:6379", ping)
    return REDIS_URL


@pytest.fixture
def settings(settings, redis_url):
    return {**settings, "BROKER_URL": redis_url}


def _job(app, manifest_server, reference_server, name: str, canvases: int) -> tuple[str, int]:
    small = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    manifest_id, url = publish_book(manifest_server, name, small, canvases)
    context = app.extensions["annoserver.jobs"]
    submitted = submit(context, url, ["tiny-detector"], {}, "http://annoserver.test/")
    return manifest_id, submitted.job_id


def _wait(app, job_id: int, until, timeout: float):
    return poll(lambda: app.extensions["annoserver.jobs"].repository.job(job_id), until, timeout)


def _annotations(client, manifest_id: str) -> int:
    return client.get("/annotations/", query_string={"manifest": manifest_id,
                                                      "model": "tiny-detector"}).get_json()["total"]


def test_a_job_runs_on_a_dramatiq_worker(app, client, manifest_server, reference_server):
    assert not app.extensions["annoserver.executor"].start()  # no in-process executor
    manifest_id, job_id = _job(app, manifest_server, reference_server, "dramatiq-e2e", 4)
    worker = DramatiqWorker(app.config)
    try:
        job = _wait(app, job_id, lambda job: job.state in TERMINAL, 45)
        assert (job.state, job.done, job.failed) == ("done", 4, 0), worker.output()
    finally:
        worker.stop()
    assert _annotations(client, manifest_id) == 4


def test_a_killed_worker_s_job_finishes_once(app, client, manifest_server, reference_server):
    canvases = 40
    manifest_id, job_id = _job(app, manifest_server, reference_server, "dramatiq-kill",
                               canvases)
    worker = DramatiqWorker(app.config)
    try:
        job = _wait(app, job_id, lambda job: job.done >= 1 or job.state in TERMINAL, 45)
        worker.kill()
        assert job.state not in TERMINAL and job.done < canvases, worker.output()
    finally:
        worker.kill()
    first = worker.output()
    os.unlink(worker.log)
    worker = DramatiqWorker(app.config)
    try:
        job = _wait(app, job_id, lambda job: job.state in TERMINAL, 45)
        assert (job.state, job.done, job.failed) == ("done", canvases, 0), (
            first + worker.output())
    finally:
        worker.stop()
    assert _annotations(client, manifest_id) == canvases


def test_workers_together_respect_the_per_host_cap(app, manifest_server, counting_server):
    """Two worker processes (two threads each) share one host's two slots, never more."""
    manifest_id = f"{manifest_server.url}/polite/manifest.json"
    url = manifest_server.publish("/polite/manifest.json", manifest(manifest_id, [
        canvas(manifest_id, n, 1200, 800, counting_server.service(f"img{n}"))
        for n in range(1, 11)]))
    context = app.extensions["annoserver.jobs"]
    job_id = submit(context, url, ["tiny-detector"], {}, "http://annoserver.test/").job_id
    options = {"ANNOSERVER_JOB_PER_HOST": "2", "ANNOSERVER_JOB_POLL_INTERVAL": "0.05"}
    workers = [DramatiqWorker(app.config, **options), DramatiqWorker(app.config, **options)]
    try:
        job = _wait(app, job_id, lambda job: job.state in TERMINAL, 60)
        assert (job.state, job.done, job.failed) == ("done", 10, 0), workers[0].output()
    finally:
        for worker in workers:
            worker.stop()
    assert counting_server.images == 10
    assert counting_server.max_active <= 2  # four threads, two slots


def _dramatiq_children(pid: int) -> dict[int, str]:
    """Dramatiq's process-group leaders under ``pid``, each with its CUDA_VISIBLE_DEVICES."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"dramatiq" in cmdline:
            environ = dict(item.split(b"=", 1) for item in
                           Path(f"/proc/{child}/environ").read_bytes().split(b"\0") if b"=" in item)
            found[int(child)] = environ.get(b"CUDA_VISIBLE_DEVICES", b"").decode()
    return found


def test_one_worker_process_group_per_gpu(app):
    """``--gpus 0,1``: one Dramatiq per GPU, each seeing only its own; SIGTERM stops them all.

    No GPU is needed to check the processes and their environment (none is on CI).
    """
    worker = DramatiqWorker(app.config, options=("--gpus", "0,1"))
    try:
        groups = poll(lambda: _dramatiq_children(worker.process.pid),
                      lambda found: len(found) == 2, 60)
        assert sorted(groups.values()) == ["0", "1"], worker.output()
        # Stop once both have booted (Dramatiq's main process may wait on a worker process
        # that a signal caught halfway through its boot).
        poll(lambda: Path(worker.log).read_text(errors="replace").count(
            "ready for action"), lambda ready: ready >= 2, 120)
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=60) == 0, worker.output()
        assert not any(Path(f"/proc/{pid}").exists() for pid in groups), worker.output()
    finally:
        worker.kill()
        worker.stop()


def test_commands_per_gpu():
    single = dramatiq_commands("q", 3, 2)
    assert single == [([sys.executable, "-m", "dramatiq", "annoserver.jobs.worker", "--queues", "q",
                        "--threads", "2", "--processes", "3"], {})]
    per_gpu = dramatiq_commands("q", None, None, ["0", "3"])
    assert [env for _, env in per_gpu] == [{"CUDA_VISIBLE_DEVICES": "0"},
                                           {"CUDA_VISIBLE_DEVICES": "3"}]
    assert all(argv[-2:] == ["--processes", "1"] for argv, _ in per_gpu)
