"""The IIIF image server dies mid-job (SIGKILL), then comes back.

The job ends done with the units it could not fetch recorded failed, each error naming the
dead server; registering the manifest again when the server is back runs only what is
missing. Annotations are counted per canvas: one per canvas that succeeded, never two.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import DETECTOR, counts, register
from tests.iiif.servers import ReferenceServer
from tests.jobs.conftest import over, publish_book, wait_for

CANVASES = 8


@pytest.fixture
def settings(settings):
    # A dead server is given up on after ~1.5 s of refused connections, not 3.5 s.
    return {**settings, "FETCH_DEADLINE": 2.0}


def test_the_image_server_dies_mid_job_then_a_rerun_finishes(
        client, write_headers, manifest_server, image_dir, tmp_path, database_url):
    server = ReferenceServer(image_dir, tmp_path)
    with server:
        service = server.info_url("3.0", "small").removesuffix("/info.json")
        manifest_id, url = publish_book(manifest_server, f"dies-{database_url[:6]}", service,
                                        CANVASES)
        job_path = register(client, write_headers, url, attempts=2)
        job = wait_for(client, job_path, 30, until=lambda job: job["done"] >= 2 or over(job))
        server.process.kill()  # SIGKILL: no goodbye, connections refused from now on
        server.process.wait()
        assert not over(job), job
        job = wait_for(client, job_path, 60)
    assert job["state"] == "done", job  # something succeeded, so done with failures
    assert 2 <= job["done"] < CANVASES and job["done"] + job["failed"] == CANVASES, job
    assert len(job["errors"]) == job["failed"]
    for error in job["errors"]:
        assert error["status"] == 502 and error["model"] == DETECTOR, error
        assert server.url in error["detail"], error  # names the unreachable server
        assert error["attempts"] == 2, error
    stored = counts(client, manifest_id)
    assert sorted(stored.values()) == [1] * job["done"], stored

    with server:  # back, on the same port: registering again runs what is missing
        job = wait_for(client, register(client, write_headers, url), 60)
    assert (job["state"], job["done"], job["failed"], job["errors"]) == (
        "done", CANVASES, 0, []), job
    stored = counts(client, manifest_id)
    assert len(stored) == CANVASES and set(stored.values()) == {1}, stored
