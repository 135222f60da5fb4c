"""Hostile input against a running gunicorn worker: clear errors, in time, in bounded memory.

One worker (4 threads) on SQLite; the hostile image servers are the fault server on
127.0.0.1 (drips, streams forever, declares 10 GB, stalls, loops redirects, serves a
decompression bomb and a truncated JPEG). All requests are sent at once; each must end with
a problem document within the fetch deadline plus a margin, the worker must answer
``/health`` meanwhile, and its resident memory must not grow by more than a bounded amount.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from sqlalchemy import create_engine

from annoserver.store.tokens import TokenStore
from tests.iiif.test_decode import encode, png_claiming
from tests.services import GunicornServer

pytestmark = pytest.mark.slow
DEADLINE = 6.0  # ANNOSERVER_FETCH_DEADLINE for this server
MARGIN = 6.0  # the model run and a busy 2-core machine
GROWTH_MB = 150  # a decoded bomb would be gigabytes


def _worker_rss_mb(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmRSS:")) / 1024


def _analyze(server: GunicornServer, image: str) -> requests.Response:
    return requests.post(server.url + "/analyze", timeout=60,
                         json={"image": image, "models": ["efficientnet-lite0"]})


def test_hostile_requests_fail_clearly_in_time(tmp_path, fault_server):
    fault_server.payloads["bomb"] = (png_claiming(100_000, 100_000), (640, 480))
    truncated = encode(np.zeros((480, 640, 3), np.uint8), ".jpg")[:2000]
    fault_server.payloads["cut"] = (truncated, (640, 480))
    fault_server.payloads["fine"] = (encode(np.full((480, 640, 3), 128, np.uint8), ".png"),
                                     (640, 480))
    env = {"ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1", "ANNOSERVER_FETCH_READ_TIMEOUT": "2",
           "ANNOSERVER_FETCH_DEADLINE": str(DEADLINE)}
    upstream = fault_server.url
    images = {  # what each hostile upstream must come to
        "drip": (f"{upstream}/drip/info.json", {502, 504}),
        "endless info.json": (f"{upstream}/endless/info.json", {413, 502}),
        "10 GB declared": (f"{upstream}/big-declared/info.json", {413, 502}),
        "stall": (f"{upstream}/stall/info.json", {504}),
        "redirect loop": (f"{upstream}/loop/a", {502}),
        "bomb": (f"{upstream}/svc/bomb/info.json", {413}),
        "truncated JPEG": (f"{upstream}/svc/cut/info.json", {422}),
    }
    with GunicornServer(f"sqlite:///{tmp_path / 'hostile.sqlite3'}", workers=1, threads=4,
                        extra_env=env) as server:
        engine = create_engine(f"sqlite:///{tmp_path / 'hostile.sqlite3'}")
        _, token = TokenStore(engine).create("write", "hostile")
        engine.dispose()
        write = {"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"}
        bodies = {  # hostile request bodies, refused before anything is stored
            "5 MB body": (b"[" + b"0," * 2_500_000 + b"0]", {413}),
            "nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, {400, 413}),
            "invalid UTF-8": (b'{"type": "Annotation", "body": "\xff\xfe"}', {400}),
        }
        warm = _analyze(server, f"{upstream}/svc/fine/info.json")  # models loaded first
        assert warm.status_code == 200, warm.text
        before = _worker_rss_mb(server.process.pid)

        def timed(call):
            started = time.monotonic()
            response = call()
            return response, time.monotonic() - started

        with ThreadPoolExecutor(len(images) + len(bodies)) as pool:
            pending = {name: pool.submit(timed, lambda image=image: _analyze(server, image))
                       for name, (image, _) in images.items()}
            pending |= {name: pool.submit(timed, lambda body=body: requests.post(
                server.url + "/annotations/", data=body, headers=write, timeout=60))
                for name, (body, _) in bodies.items()}
            time.sleep(1.0)  # the hostile requests hold the worker's threads now
            health = requests.get(server.url + "/health", timeout=10)
            results = {name: future.result() for name, future in pending.items()}
        assert health.status_code == 200
        expected = {**{k: v[1] for k, v in images.items()}, **{k: v[1] for k, v in bodies.items()}}
        for name, (response, elapsed) in results.items():
            assert response.status_code in expected[name], (name, response.status_code,
                                                             response.text[:300])
            assert response.headers["Content-Type"] == "application/problem+json", name
            assert json.loads(response.text)["detail"], name
            assert elapsed < DEADLINE + MARGIN, f"{name} took {elapsed:.1f} s"
        after = _worker_rss_mb(server.process.pid)
        assert after - before < GROWTH_MB, f"worker memory {before:.0f} -> {after:.0f} MB"
        listed = requests.get(server.url + "/annotations/", timeout=10).json()
        assert listed["total"] == 0  # nothing half-written
