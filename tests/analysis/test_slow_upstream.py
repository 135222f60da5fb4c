"""A slow IIIF server never blocks other requests to a real gunicorn worker."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.services import GunicornServer

pytestmark = pytest.mark.slow


def test_slow_upstream_does_not_block_other_requests(tmp_path, fault_server, reference_server):
    env = {"ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1", "ANNOSERVER_FETCH_READ_TIMEOUT": "8"}
    database = f"sqlite:///{tmp_path / 'slow.sqlite3'}"
    with GunicornServer(database, workers=1, threads=4, extra_env=env) as server, \
            ThreadPoolExecutor(2) as pool:
        slow = pool.submit(requests.post, server.url + "/analyze", timeout=30, json={
            "image": f"{fault_server.url}/slow-headers/info.json",
            "models": ["efficientnet-lite0"]})
        time.sleep(0.3)  # the slow request is now waiting on its upstream
        started = time.monotonic()
        health = requests.get(server.url + "/health", timeout=5)
        good = requests.post(server.url + "/analyze", timeout=30, json={
            "image": reference_server.info_url("3.0", "cat"), "models": ["efficientnet-lite0"]})
        elapsed = time.monotonic() - started
        assert health.status_code == 200 and good.status_code == 200, good.text
        assert elapsed < 2.5, f"other requests took {elapsed:.1f} s behind a slow upstream"
        # After 3 s the slow server answers garbage: a clear 502, not a hung worker.
        late = slow.result()
        assert late.status_code == 502
        assert late.headers["Content-Type"] == "application/problem+json"
