"""PostgreSQL restarts (``pg_ctl restart -m fast``) in the middle of a job run by the
in-process executor: connections are cut under running units; the job still ends done with
one annotation per canvas."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annoserver.store.tables import JobUnitRow
from tests.faults.conftest import counts, register
from tests.jobs.conftest import over, publish_book, wait_for
from tests.services import PrivatePostgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
CANVASES = 12


@pytest.fixture
def postgres():
    with PrivatePostgres() as cluster:
        yield cluster


@pytest.fixture
def database_url(postgres):
    return postgres.url


def test_a_job_survives_a_postgres_restart(app, client, write_headers, manifest_server,
                                           counting_server, postgres):
    name = "pg-restart"
    manifest_id, url = publish_book(manifest_server, name, counting_server.service(f"{name}-{{n}}"),
                                    CANVASES)
    job_path = register(client, write_headers, url)
    job = wait_for(client, job_path, 60, until=lambda job: job["done"] >= 2 or over(job))
    postgres.restart()
    assert not over(job), job
    job = wait_for(client, job_path, 60)
    assert (job["state"], job["done"], job["failed"], job["errors"]) == (
        "done", CANVASES, 0, []), job
    stored = counts(client, manifest_id)
    assert len(stored) == CANVASES and set(stored.values()) == {1}, stored
    with app.extensions["annoserver.db"].connect() as connection:
        retried = connection.scalar(select(func.count()).where(JobUnitRow.attempts > 1))
    assert CANVASES <= counting_server.images <= CANVASES + retried, (
        counting_server.images, retried)
