"""Redis (the Dramatiq broker) is killed and started again mid-job, keeping nothing: every
queued and delayed message is lost. The worker reconnects and the units are sent again; the
job ends done with one annotation per canvas."""

from __future__ import annotations

import pytest

from tests.faults.conftest import counts, register
from tests.jobs.conftest import over, publish_book, wait_for
from tests.services import DramatiqWorker, PrivateRedis

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CANVASES = 12


@pytest.fixture
def broker():
    with PrivateRedis() as redis:
        yield redis


@pytest.fixture
def settings(settings, broker):
    return {**settings, "BROKER_URL": broker.url}


def test_a_job_survives_a_redis_restart(app, client, write_headers, manifest_server,
                                        counting_server, broker):
    name = "redis-restart"
    manifest_id, url = publish_book(manifest_server, name, counting_server.service(f"{name}-{{n}}"),
                                    CANVASES)
    worker = DramatiqWorker(app.config, ANNOSERVER_JOB_POLL_INTERVAL="0.1")
    try:
        job_path = register(client, write_headers, url)
        job = wait_for(client, job_path, 60, until=lambda job: job["done"] >= 2 or over(job))
        broker.kill()
        broker.start()
        assert not over(job), job
        job = wait_for(client, job_path, 60)
        assert (job["state"], job["done"], job["failed"], job["errors"]) == (
            "done", CANVASES, 0, []), (job, worker.output())
        assert "the broker restarted" in worker.output()  # the lost units were sent again
    finally:
        worker.stop()
    stored = counts(client, manifest_id)
    assert len(stored) == CANVASES and set(stored.values()) == {1}, stored
    assert counting_server.images <= CANVASES + 2  # at most the units cut off refetched
