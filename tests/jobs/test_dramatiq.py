"""Jobs on Dramatiq: real Redis, real ``annoserver worker`` subprocesses, SIGKILL mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from annoserver.jobs import submit
from tests.jobs.conftest import TERMINAL, canvas, manifest
from tests.services import require

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


class Worker:
    """``annoserver worker`` in its own process group (SIGKILL takes its children too)."""

    def __init__(self, settings: dict, **extra: str) -> None:
        self.env = {**os.environ, **extra, "ANNOSERVER_DATABASE_URL": settings["DATABASE_URL"],
                    "ANNOSERVER_BROKER_URL": settings["BROKER_URL"],
                    "ANNOSERVER_MODELS_DIR": settings["MODELS_DIR"],
                    "ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1",
                    "ANNOSERVER_JOB_HEARTBEAT": "0.2", "ANNOSERVER_JOB_STALE_AFTER": "2",
                    "ANNOSERVER_JOB_BACKOFF": "0.05"}
        handle, self.log = tempfile.mkstemp(prefix="annoserver-worker-", suffix=".log")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from annoserver.cli import main; main()", "worker",
             "--processes", "1", "--threads", "2"],
            env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(handle)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        os.unlink(self.log)

    def output(self) -> str:
        with open(self.log, "rb") as log:
            return log.read()[-3000:].decode(errors="replace")


def _job(app, manifest_server, reference_server, name: str, canvases: int) -> tuple[str, int]:
    manifest_id = f"{manifest_server.url}/{name}/manifest.json"
    small = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    url = manifest_server.publish(f"/{name}/manifest.json", manifest(
        manifest_id, [canvas(manifest_id, n, 1200, 800, small) for n in range(1, canvases + 1)]))
    context = app.extensions["annoserver.jobs"]
    submitted = submit(context, url, ["tiny-detector"], {}, "http://annoserver.test/")
    return manifest_id, submitted.job_id


def _wait(app, job_id: int, until, timeout: float):
    repository = app.extensions["annoserver.jobs"].repository
    deadline = time.monotonic() + timeout
    while not until(job := repository.job(job_id)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return job


def _annotations(client, manifest_id: str) -> int:
    return client.get("/annotations/", query_string={"manifest": manifest_id,
                                                      "model": "tiny-detector"}).get_json()["total"]


def test_a_job_runs_on_a_dramatiq_worker(app, client, manifest_server, reference_server):
    assert not app.extensions["annoserver.executor"].start()  # no in-process executor
    manifest_id, job_id = _job(app, manifest_server, reference_server, "dramatiq-e2e", 4)
    worker = Worker(app.config)
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
    worker = Worker(app.config)
    try:
        job = _wait(app, job_id, lambda job: job.done >= 1 or job.state in TERMINAL, 45)
        worker.kill()
        assert job.state not in TERMINAL and job.done < canvases, worker.output()
    finally:
        worker.kill()
    first = worker.output()
    os.unlink(worker.log)
    worker = Worker(app.config)
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
    workers = [Worker(app.config, **options), Worker(app.config, **options)]
    try:
        job = _wait(app, job_id, lambda job: job.state in TERMINAL, 60)
        assert (job.state, job.done, job.failed) == ("done", 10, 0), workers[0].output()
    finally:
        for worker in workers:
            worker.stop()
    assert counting_server.images == 10
    assert counting_server.max_active <= 2  # four threads, two slots
