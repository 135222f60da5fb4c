"""A job under real gunicorn workers: the pool starts in a worker, never in the master."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import create_engine

from annoserver.store.tokens import TokenStore
from tests.jobs.conftest import TERMINAL, canvas, manifest
from tests.services import GunicornServer

pytestmark = pytest.mark.slow


def test_a_job_runs_in_gunicorn_workers(database_url, job_models_dir, manifest_server,
                                        reference_server):
    name = f"gunicorn-{database_url.split(':')[0]}"
    manifest_id = f"{manifest_server.url}/{name}/manifest.json"
    small = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    url = manifest_server.publish(f"/{name}/manifest.json", manifest(
        manifest_id, [canvas(manifest_id, n, 1200, 800, small) for n in range(1, 7)]))
    env = {"ANNOSERVER_MODELS_DIR": str(job_models_dir), "ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1",
           "ANNOSERVER_JOB_POLL_INTERVAL": "0.1"}
    with GunicornServer(database_url, workers=2, threads=2, extra_env=env) as server:
        engine = create_engine(database_url)
        _, secret = TokenStore(engine).create("write", "jobs")
        engine.dispose()
        response = requests.post(server.url + "/manifests", timeout=30,
                                 json={"url": url, "models": ["tiny-detector"]},
                                 headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 202, response.text
        deadline = time.monotonic() + 60
        while (job := requests.get(response.headers["Location"], timeout=10).json())[
                "state"] not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (job["state"], job["done"], job["failed"]) == ("done", 6, 0), job
        listed = requests.get(server.url + "/annotations/", timeout=10,
                              params={"manifest": manifest_id}).json()
        assert listed["total"] == 6
        enriched = requests.get(response.json()["manifest"], timeout=10).json()
        page = requests.get(enriched["items"][5]["annotations"][0]["id"], timeout=10).json()
        assert page["items"][0]["target"]["selector"]["value"] == "xywh=300,200,600,400"
