"""The server itself dies mid-job: gunicorn's master and workers SIGKILLed, then started again
on the same database. The units the dead workers held go stale and run again; the job ends
done with one annotation per canvas."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine, func, select

from annoserver.store.tables import JobUnitRow
from annoserver.store.tokens import TokenStore
from tests.faults.conftest import DETECTOR
from tests.jobs.conftest import annotations_by_canvas, over, poll, publish_book
from tests.services import GunicornServer

pytestmark = pytest.mark.slow
CANVASES = 12


def test_a_job_survives_its_server_being_killed(database_url, job_models_dir, manifest_server,
                                               counting_server):
    name = f"killed-{database_url[:6]}"
    manifest_id, url = publish_book(manifest_server, name, counting_server.service(f"{name}-{{n}}"),
                                    CANVASES)
    env = {"ANNOSERVER_MODELS_DIR": str(job_models_dir), "ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1",
           "ANNOSERVER_JOB_POLL_INTERVAL": "0.05", "ANNOSERVER_JOB_HEARTBEAT": "0.2",
           "ANNOSERVER_JOB_STALE_AFTER": "2", "ANNOSERVER_JOB_BACKOFF": "0.05"}
    server = GunicornServer(database_url, workers=2, threads=2, extra_env=env)
    engine = create_engine(database_url)
    try:
        with server:
            _, secret = TokenStore(engine).create("write", "faults")
            response = requests.post(server.url + "/manifests", timeout=30,
                                     json={"url": url, "models": [DETECTOR]},
                                     headers={"Authorization": f"Bearer {secret}"})
            assert response.status_code == 202, response.text + server.output()
            job_url = response.headers["Location"]
            job = poll(lambda: requests.get(job_url, timeout=10).json(),
                       lambda job: job["done"] >= 2 or over(job), 60)
            server.kill()
            assert not over(job), job
        with engine.connect() as connection:  # what the dead workers left behind
            running = connection.scalar(select(func.count()).where(
                JobUnitRow.state == "running"))
        with server:  # same port, same database: polling the job wakes a worker's pool
            job = poll(lambda: requests.get(job_url, timeout=10).json(), over, 60)
            log = server.output()
            stored = annotations_by_canvas(lambda u: requests.get(u, timeout=10).json(),
                                           server.url, manifest_id)
    finally:
        engine.dispose()
    assert (job["state"], job["done"], job["failed"], job["errors"]) == (
        "done", CANVASES, 0, []), (job, running, log)
    assert len(stored) == CANVASES and set(stored.values()) == {1}, stored
    # Each canvas fetched once, plus at most the units cut off in flight.
    assert CANVASES <= counting_server.images <= CANVASES + running, (counting_server.images,
                                                                       running)
