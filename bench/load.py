"""Load and soak: a mixed workload against real gunicorn, on SQLite and PostgreSQL.

    python bench/load.py [--quick] [--backend sqlite|postgresql|both] [--duration S] [--soak S]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Per backend: a fresh database holding 20,000
annotations over 20 canvases (bulk-loaded as in ``bench/protocol.py``), annoserver under
gunicorn (3 workers x 4 threads, the shipped models) on 127.0.0.1, its demo manifest
enriched with ``efficientnet-lite0`` through ``POST /manifests``. Then wrk (2 threads,
8 connections, every request on 127.0.0.1) runs this mix for ``--duration`` seconds:

* 40 % canvas queries ``GET /annotations/?canvas=`` (first page of a canvas's 1,000),
* 15 % ``GET /pages/{id}`` of the enriched manifest, 10 % ``GET /manifests/{key}``,
* 10 % Content Search 1.0 ``GET /search/{key}/v1?q=``,
* 15 % writes ``POST /annotations/`` (write token, W3C-validated),
* 10 % analyses ``GET /analyze`` (a demo image region through the classifier, no cache).

It reports throughput, p50/p95/p99 and the error count (any non-2xx answer, socket errors,
timeouts), then checks that the container holds exactly the annotations it held plus one per
successful write. ``--soak S`` then runs the same mix on the first backend at 2 connections
for S seconds, sampling the resident memory of the gunicorn master and workers every 10 s.
The last line is ``ratio: X`` = resident memory at the end of the soak / after its first
minute (flat = 1.00); without a soak, the PostgreSQL / SQLite throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import requests
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annoserver.store.tokens import TokenStore  # noqa: E402
from bench.protocol import canvas_iri, load  # noqa: E402
from tests.services import GunicornServer, postgres_schema  # noqa: E402

OUT = ROOT / "bench" / "out"
ANNOTATIONS = 20_000
CLASSIFIER = "efficientnet-lite0"
WRK_LUA = r"""
local requests = {}
statuses = {}
created = 0
local threads = {}

function setup(thread) table.insert(threads, thread) end

function init(args)
  local f = assert(io.open(args[1]))
  for line in f:lines() do
    local _, method, path, body = line:match("^(%S+)\t(%S+)\t(%S+)\t?(.*)$")
    local headers = {}
    if method == "POST" then
      headers["Content-Type"] = "application/ld+json"
      headers["Authorization"] = "Bearer " .. args[2]
    end
    table.insert(requests, wrk.format(method, path, headers, body ~= "" and body or nil))
  end
  f:close()
  position = math.random(#requests)
end

function request()
  position = position % #requests + 1
  return requests[position]
end

-- wrk does not say which request a response answers (several connections per thread), so
-- answers are counted by status only.
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then created = created + 1 end
end

function done(summary, latency, requests)
  local out = {requests = summary.requests, duration_us = summary.duration,
    errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout,
    timeouts = summary.errors.timeout,
    p50_us = latency:percentile(50), p95_us = latency:percentile(95),
    p99_us = latency:percentile(99), max_us = latency.max, created = 0, statuses = {}}
  for _, thread in ipairs(threads) do
    out.created = out.created + thread:get("created")
    for status, n in pairs(thread:get("statuses")) do
      out.statuses[status] = (out.statuses[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(out.statuses) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "errors": %d, ' ..
    '"timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"created": %d, "statuses": {%s}}\n', out.requests, out.duration_us, out.errors,
    out.timeouts, out.p50_us, out.p95_us, out.p99_us, out.max_us, out.created,
    table.concat(parts, ", ")))
end
"""


def annotation(n: int) -> dict:
    """A new machine annotation on one of the loaded canvases."""
    return {"@context": "http://www.w3.org/ns/anno.jsonld", "type": "Annotation",
            "motivation": "tagging",
            "creator": {"type": "Software", "name": "load-model", "version": "1.0.0"},
            "body": {"type": "TextualBody", "value": f"load-{n}", "purpose": "tagging"},
            "target": {"type": "SpecificResource", "source": canvas_iri(n % 20),
                       "selector": {"type": "FragmentSelector",
                                    "conformsTo": "http://www.w3.org/TR/media-frags/",
                                    "value": f"xywh={n % 900},{n % 700},40,30"}}}


def enrich_demo(server: GunicornServer, token: str) -> dict:
    """Enrich the demo manifest with the classifier; the job, the key and the manifest."""
    response = requests.post(server.url + "/manifests", timeout=30,
                             headers={"Authorization": f"Bearer {token}"},
                             json={"url": server.url + "/demo/manifest.json",
                                   "models": [CLASSIFIER]})
    response.raise_for_status()
    deadline = time.monotonic() + 300
    while (job := requests.get(response.headers["Location"], timeout=30).json())[
            "state"] not in ("done", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the demo enrichment did not finish: {job}")
        time.sleep(0.5)
    if job["state"] != "done" or job["failed"]:
        raise SystemExit(f"the demo enrichment failed: {job}")
    manifest = requests.get(response.json()["manifest"], timeout=30).json()
    return {"key": response.json()["key"], "manifest": manifest}


def request_lines(server: GunicornServer, enriched: dict, count: int) -> list[str]:
    """``count`` requests of the mix, shuffled, as ``kind<TAB>method<TAB>path[<TAB>body]``."""
    base = server.url
    key, manifest = enriched["key"], enriched["manifest"]
    pages = [page["id"].removeprefix(base) for item in manifest["items"]
             for page in item.get("annotations", [])]
    services = [item["items"][0]["items"][0]["body"]["service"][0]["id"]
                for item in manifest["items"]]
    words = [word for word in ("cat", "coffee", "page", "rocket", "book", "space")]
    rng = random.Random(0)
    mix = ([("canvas", 40), ("page", 15), ("manifest", 10), ("search", 10), ("write", 15),
            ("analyze", 10)])
    kinds = [kind for kind, weight in mix for _ in range(weight * count // 100)]
    rng.shuffle(kinds)
    lines = []
    for n, kind in enumerate(kinds):
        if kind == "canvas":
            path = f"/annotations/?canvas={quote(canvas_iri(rng.randrange(20)), safe='')}"
        elif kind == "page":
            path = rng.choice(pages)
        elif kind == "manifest":
            path = f"/manifests/{key}"
        elif kind == "search":
            path = f"/search/{key}/v1?q={rng.choice(words)}"
        elif kind == "write":
            lines.append(f"write\tPOST\t/annotations/\t{json.dumps(annotation(n))}")
            continue
        else:
            x, y = rng.randrange(0, 40), rng.randrange(0, 40)
            path = (f"/analyze?model={CLASSIFIER}&image={quote(rng.choice(services), safe='')}"
                    f"&region=pct:{x},{y},{rng.randrange(30, 60)},{rng.randrange(30, 60)}")
        lines.append(f"{kind}\tGET\t{path}")
    return lines


def run_wrk(url: str, requests_file: Path, token: str, seconds: int, connections: int) -> dict:
    """wrk with the mix for ``seconds``; its RESULT line as a dict."""
    script = OUT / "load-mix.lua"
    script.write_text(WRK_LUA)
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                           "-s", str(script), url, "--", str(requests_file), token],
                          capture_output=True, text=True, timeout=seconds + 120, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def container_total(server: GunicornServer) -> int:
    return requests.get(server.url + "/annotations/?iris=1", timeout=60).json()["total"]


def resident_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn master and workers), MB."""
    pids = [pid] + [int(child) for child in subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]
    total_kb = 0
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except FileNotFoundError:
            continue
        total_kb += next(int(line.split()[1]) for line in status.splitlines()
                         if line.startswith("VmRSS:"))
    return total_kb / 1024


def soak(server: GunicornServer, requests_file: Path, token: str, seconds: int) -> float:
    """The mix at 2 connections for ``seconds``; memory after the first minute vs the end."""
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - started, resident_mb(server.process.pid)))
            stop.wait(10)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = run_wrk(server.url, requests_file, token, seconds, connections=2)
    stop.set()
    sampler.join()
    warm = next(mb for at, mb in samples if at >= min(60, seconds / 2))
    end = samples[-1][1]
    late = [(at, mb) for at, mb in samples if at >= 60] or samples
    slope = ((late[-1][1] - late[0][1]) / max(1e-9, (late[-1][0] - late[0][0]) / 60))
    print(f"  soak {seconds} s: {result['requests'] / seconds:.1f} req/s, "
          f"errors {result['errors']}, p99 {result['p99_us'] / 1000:.0f} ms")
    print(f"  resident memory (master + 3 workers): start {samples[0][1]:.0f} MB, after "
          f"{min(60, seconds // 2)} s {warm:.0f} MB, end {end:.0f} MB; "
          f"slope after the first minute {slope:+.2f} MB/min")
    print("  samples (s, MB): " + ", ".join(f"{at:.0f}:{mb:.0f}" for at, mb in samples))
    return end / warm


def run_backend(name: str, url: str, duration: int, soak_seconds: int) -> tuple[float, float]:
    """Load, serve, enrich, measure; (requests/s, soak memory ratio or 0)."""
    print(f"[{name}]")
    load(url, ANNOTATIONS)
    models = str(ROOT / "onnx_models")
    with tempfile.TemporaryDirectory() as data:
        server = GunicornServer(url, workers=3, threads=4, extra_env={
            "ANNOSERVER_MODELS_DIR": models, "ANNOSERVER_DATA_DIR": data,
            "ANNOSERVER_AUTO_MIGRATE": "false", "ANNOSERVER_ONNX_THREADS": "1"})
        server.env["ANNOSERVER_ALLOWED_HOSTS"] = f"127.0.0.1:{server.port}"
        with server:
            engine = create_engine(url)
            _, token = TokenStore(engine).create("write", "load")
            engine.dispose()
            enriched = enrich_demo(server, token)
            requests_file = OUT / f"load-requests-{name}.tsv"
            requests_file.write_text("\n".join(request_lines(server, enriched, 2000)) + "\n")
            before = container_total(server)
            result = run_wrk(server.url, requests_file, token, duration, connections=8)
            after = container_total(server)
            rps = result["requests"] / (result["duration_us"] / 1e6)
            print(f"  {duration} s, 8 connections: {result['requests']:,} requests, "
                  f"{rps:.1f} req/s, p50 {result['p50_us'] / 1000:.1f} ms, "
                  f"p95 {result['p95_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms, "
                  f"max {result['max_us'] / 1000:.0f} ms, errors {result['errors']} "
                  f"(timeouts {result['timeouts']})")
            print("  answers by status: " + ", ".join(
                f"{status} x {n:,}" for status, n in sorted(result["statuses"].items())))
            # Up to one write per connection may be stored while wrk stops without reading
            # its answer; beyond that the container must hold exactly what was answered 201.
            unread = after - before - result["created"]
            print(f"  annotations: {before:,} before + {result['created']:,} answered 201; "
                  f"the container holds {after:,} ({unread} written but unread at the stop)")
            if not 0 <= unread <= 8:
                print("  MISMATCH: writes lost or duplicated")
            memory = soak(server, requests_file, token, soak_seconds) if soak_seconds else 0.0
    return rps, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 s runs, no soak")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--soak", type=int, default=600)
    args = parser.parse_args()
    duration, soak_seconds = (15, 0) if args.quick else (args.duration, args.soak)
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    throughput, memory = {}, 0.0
    with ExitStack() as stack:
        if args.backend in ("sqlite", "both"):
            path = OUT / "load.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            throughput["sqlite"], memory = run_backend("sqlite", f"sqlite:///{path}", duration,
                                                       soak_seconds)
        if args.backend in ("postgresql", "both"):
            url = stack.enter_context(postgres_schema())
            rps, soaked = run_backend("postgresql", url, duration,
                                      0 if "sqlite" in throughput else soak_seconds)
            throughput["postgresql"], memory = rps, memory or soaked
    if memory:
        print(f"ratio: {memory:.3f}")
    elif len(throughput) == 2:
        print(f"ratio: {throughput['postgresql'] / throughput['sqlite']:.3f}")


if __name__ == "__main__":
    main()
