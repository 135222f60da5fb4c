"""Protocol benchmark: canvas queries and deep paging at scale, against a static file.

    python bench/protocol.py [--quick] [--backend sqlite|postgresql|both]

Loads N annotations (1,000,000; 100,000 with --quick) spread over canvases of 1,000 each,
serves them with real gunicorn (2 workers x 4 threads) on 127.0.0.1, and measures with C
concurrent clients:
  (a) GET /annotations/?canvas=<one canvas> — one page holding that canvas's 1,000 annotations;
  (b) walking the deepest pages of the whole container (following `next` links);
  (c) the very same JSON as (a) served as a static file by the same gunicorn.
The last line is `ratio: X` = (a) requests/s ÷ (c) requests/s, the lowest over the backends.
The loaded database is kept under bench/out/ (and the bench_protocol schema) for reruns.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests
from sqlalchemy import insert, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annoserver.store.db import make_engine, upgrade  # noqa: E402
from annoserver.store.tables import AnnotationRow, ContainerStateRow, TargetRow  # noqa: E402
from tests.services import POSTGRES_URL, GunicornServer  # noqa: E402

OUT = ROOT / "bench" / "out"
PER_CANVAS = 1000
BATCH = 10_000
MANIFEST = "https://iiif.example.org/manifest/bench"


def canvas_iri(number: int) -> str:
    return f"{MANIFEST}/canvas/{number}"


def document(n: int) -> dict:
    canvas = canvas_iri(n // PER_CANVAS)
    x, y = (n * 37) % 4000, (n * 91) % 3000
    return {
        "@context": "http://www.w3.org/ns/anno.jsonld", "type": "Annotation",
        "motivation": "tagging", "created": "2026-11-24T12:00:00Z",
        "creator": {"type": "Software", "name": "bench-model", "version": "1.0.0"},
        "body": {"type": "TextualBody", "value": f"label-{n % 500}", "purpose": "tagging",
                 "confidence": round((n % 100) / 100, 2)},
        "target": {"type": "SpecificResource",
                   "source": {"id": canvas, "type": "Canvas",
                              "partOf": [{"id": MANIFEST, "type": "Manifest"}]},
                   "selector": {"type": "FragmentSelector",
                                "conformsTo": "http://www.w3.org/TR/media-frags/",
                                "value": f"xywh={x},{y},120,80"}},
    }


def load(url: str, count: int) -> None:
    """Bulk-insert ``count`` annotations unless the database already holds exactly them."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as connection:
        total = connection.execute(select(ContainerStateRow.total)).scalar()
    if total == count:
        print(f"  reusing {count:,} loaded annotations")
        engine.dispose()
        return
    if total:
        raise SystemExit(f"{url} holds {total:,} annotations, not {count:,}; remove it first")
    started = time.perf_counter()
    now = datetime.now(UTC)
    for offset in range(0, count, BATCH):
        numbers = range(offset, min(count, offset + BATCH))
        rows = [{"seq": n + 1, "slug": f"a{n:07d}", "document": document(n),
                 "etag": f"{n:032x}", "motivation": "tagging", "creator": "bench-model",
                 "confidence": (n % 100) / 100, "created": now, "modified": now}
                for n in numbers]
        targets = [{"annotation_seq": n + 1, "source": canvas_iri(n // PER_CANVAS),
                    "manifest": MANIFEST} for n in numbers]
        with engine.begin() as connection:
            connection.execute(insert(AnnotationRow), rows)
            connection.execute(insert(TargetRow), targets)
    with engine.begin() as connection:
        connection.execute(update(ContainerStateRow).values(total=count, revision=count,
                                                            modified=now))
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT setval(pg_get_serial_sequence('annotations', "
                                    "'seq'), :n)"), {"n": count})
            connection.execute(text("ANALYZE"))
    engine.dispose()
    print(f"  loaded {count:,} annotations in {time.perf_counter() - started:.0f} s")


def measure(urls: list[str], clients: int) -> dict[str, float]:
    """Fetch every URL once with ``clients`` concurrent sessions; throughput and latency."""
    sessions = [requests.Session() for _ in range(clients)]

    def fetch(job: tuple[int, str]) -> float:
        index, url = job
        started = time.perf_counter()
        response = sessions[index % clients].get(url, timeout=60)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(fetch, enumerate(urls)))
    wall = time.perf_counter() - started
    return {"rps": len(urls) / wall, "p50_ms": statistics.median(latencies) * 1000,
            "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000}


def deep_pages(server_url: str, count: int, pages: int) -> list[str]:
    """URLs of ``pages`` consecutive pages ending one page before the container's end."""
    session = requests.Session()
    cursor = max(0, count - (pages + 1) * PER_CANVAS)
    url = f"{server_url}/annotations/?iris=0&page={cursor}&start={cursor}"
    urls = []
    for _ in range(pages):
        urls.append(url)
        url = session.get(url, timeout=60).json()["next"]
    return urls


def run_backend(name: str, url: str, count: int, requests_per_test: int, clients: int) -> float:
    print(f"[{name}] {count:,} annotations")
    load(url, count)
    static_dir = OUT / "static"
    static_dir.mkdir(parents=True, exist_ok=True)
    env = {"BENCH_STATIC_DIR": str(static_dir), "ANNOSERVER_PAGE_SIZE": str(PER_CANVAS),
           "ANNOSERVER_AUTO_MIGRATE": "false"}
    server = GunicornServer(url, workers=2, threads=4, extra_env=env)
    server.argv[-1] = "bench.static_app:create_app()"
    server.env["PYTHONPATH"] = str(ROOT)
    with server:
        hot = canvas_iri((count // PER_CANVAS) // 2)
        canvas_url = f"{server.url}/annotations/?canvas={hot}"
        page = requests.get(canvas_url, timeout=60).json()
        assert page["total"] == PER_CANVAS and len(page["first"]["items"]) == PER_CANVAS
        (static_dir / "canvas.json").write_text(json.dumps(page))
        measure([canvas_url] * 10 + [server.url + "/bench-static/canvas.json"] * 10, clients)
        canvas = measure([canvas_url] * requests_per_test, clients)
        static = measure([server.url + "/bench-static/canvas.json"] * requests_per_test, clients)
        deep = measure(deep_pages(server.url, count, requests_per_test), clients)
    ratio = canvas["rps"] / static["rps"]
    for label, figures in (("canvas query (1,000 annotations)", canvas),
                           ("static file, same JSON", static),
                           ("deep container pages", deep)):
        print(f"  {label:34s} {figures['rps']:8.1f} req/s  p50 {figures['p50_ms']:7.1f} ms"
              f"  p95 {figures['p95_ms']:7.1f} ms")
    print(f"  {name} ratio canvas/static: {ratio:.3f}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 annotations, fewer requests")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    count = 100_000 if args.quick else 1_000_000
    requests_per_test = 40 if args.quick else 200
    OUT.mkdir(parents=True, exist_ok=True)
    backends = []
    if args.backend in ("sqlite", "both"):
        backends.append(("sqlite", f"sqlite:///{OUT / f'protocol-{count}.sqlite3'}"))
    if args.backend in ("postgresql", "both"):
        schema = f"bench_protocol_{count}"
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        admin.dispose()
        backends.append(("postgresql", f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"))
    ratios = [run_backend(name, url, count, requests_per_test, args.clients)
              for name, url in backends]
    print(f"ratio: {min(ratios):.3f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
