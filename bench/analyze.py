"""On-demand analysis benchmark: POST /analyze against its parts, batching, bytes fetched.

    python bench/analyze.py [--quick] [--onnx-threads N] [--seed S]

Everything listens on 127.0.0.1 and runs in this one invocation:
  (1) for every shipped annotating model (kind classifier/detector/watermark/recognizer in
      onnx_models/), p50/p95 of `POST /analyze` (real gunicorn, 1 worker x 4 threads, a temp
      SQLite database, persist false, batching on as shipped, one client) on seeded random
      regions of a generated 6000x4000 JPEG served by the IIIF reference server
      (iiif_testserver.py, a separate process); and, in this process on the same regions,
      interleaved with the requests, the IIIF fetch (`fetch_region` with the target the
      server uses) plus the raw `session.run` on the model kind's preprocessed input (only
      `session.run` timed). Ratio = server p50 /
      (fetch + run) p50; "extra" is the median over regions of server - (fetch + run);
  (2) for every classifier, images/s of 8 concurrent clients against gunicorn 1 worker x 8
      threads with dynamic batching on and off (same ONNX Runtime threads; four rounds
      off/on, on/off, off/on, on/off, one with --quick), each request one random tile of the
      level-0 static tile set (v2) of a 1500x1000 image, so the fetch is one small JPEG; the
      CPU time per image of gunicorn, the tile server and the clients; and beside it the
      bare session's images/s for 8 threads x batch 1 against 1 thread x batch 8;
  (3) bytes fetched for each model's input size against the 6000x4000 JPEG's file size;
  (4) the ONNX Runtime execution provider used (this process, and the server's /models).
ONNX Runtime's intra-op threads are --onnx-threads (default: the CPU count) everywhere.
The last line is `ratio: X`, the worst (highest) latency ratio of (1) over the models.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The target the server asks for: imported, not copied, so the two cannot drift apart.
from annoserver.analysis import ANNOTATING_KINDS, _target_for  # noqa: E402
from annoserver.config import SHIPPED_MODELS  # noqa: E402
from annoserver.iiif import IIIFSession, fetch_region, load_service, make_session  # noqa: E402
from annoserver.inference import Runtime  # noqa: E402
from annoserver.inference.runtime import Model  # noqa: E402
from tests.iiif.fixtures import make_image, write_rgb  # noqa: E402
from tests.iiif.servers import ReferenceServer, StaticServer  # noqa: E402
from tests.services import GunicornServer  # noqa: E402

PAGE = (6000, 4000)
SMALL = (1500, 1000)
CLIENTS = 8
WARMUP = 5


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[round(fraction * (len(ordered) - 1))]


def textured(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """The tests' position-coded image plus sensor-like noise, so the JPEG is not trivially
    small (a smooth ramp would flatter the bytes-fetched ratio)."""
    image = make_image(width, height, period=240).astype(np.int16)
    image += rng.integers(-6, 7, size=image.shape, dtype=np.int16)
    return image.clip(0, 255).astype(np.uint8)


def random_regions(rng: np.random.Generator, size: tuple[int, int], count: int,
                   smallest: int = 224) -> list[str]:
    """``x,y,w,h`` regions, each side uniform between ``smallest`` and the image's side."""
    width, height = size
    regions = []
    for _ in range(count):
        w = int(rng.integers(smallest, width + 1))
        h = int(rng.integers(smallest, height + 1))
        x = int(rng.integers(0, width - w + 1))
        y = int(rng.integers(0, height - h + 1))
        regions.append(f"{x},{y},{w},{h}")
    return regions


def tile_regions(rng: np.random.Generator, size: tuple[int, int], count: int,
                 tile: int = 256, factors: tuple[int, ...] = (1, 2, 4)) -> list[str]:
    """Regions that are exactly one tile of a level-0 tile set (random scale factor and
    position), so each analysis fetches one small JPEG and the model dominates."""
    width, height = size
    regions = []
    for _ in range(count):
        side = tile * int(rng.choice(factors))
        x = side * int(rng.integers(0, -(-width // side)))
        y = side * int(rng.integers(0, -(-height // side)))
        regions.append(f"{x},{y},{min(side, width - x)},{min(side, height - y)}")
    return regions


def server_env(threads: int, batching: bool = True) -> dict[str, str]:
    return {"ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1", "ANNOSERVER_ONNX_THREADS": str(threads),
            "ANNOSERVER_BATCHING": "true" if batching else "false",
            "ANNOSERVER_FETCH_PER_HOST": str(CLIENTS), "ANNOSERVER_MODELS_DIR": str(SHIPPED_MODELS),
            "ANNOSERVER_PRIVATE_READS": "false"}


def analyze(http: requests.Session, server: GunicornServer, info: str, region: str,
            model_id: str) -> float:
    """One ``POST /analyze``; its wall time in seconds."""
    body = {"image": info, "region": region, "models": [model_id], "persist": False}
    started = time.perf_counter()
    response = http.post(server.url + "/analyze", json=body, timeout=120)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{region}: {response.status_code} {response.text[:300]}")
    return elapsed


def latency(model: Model, server: GunicornServer, info: str, regions: list[str],
            iiif: IIIFSession) -> dict:
    """Server wall time against fetch + session.run, region by region (interleaved)."""
    service = load_service(info, session=iiif)
    target = _target_for(model)
    kind = model.kind()
    outputs = [kind.roles[role] for role in kind.roles]
    ort_session = model.session.session  # built here, with the server's thread settings
    http = requests.Session()
    server_s, fetch_s, run_s, fetched = [], [], [], []
    for index, region in enumerate(regions[:WARMUP] + regions):
        wall = analyze(http, server, info, region, model.id)
        started = time.perf_counter()
        image = fetch_region(service, region, target, session=iiif)
        fetch = time.perf_counter() - started
        feeds, _ = kind.preprocess([image.pixels])
        started = time.perf_counter()
        ort_session.run(outputs, feeds)
        run = time.perf_counter() - started
        if index >= WARMUP:
            server_s.append(wall)
            fetch_s.append(fetch)
            run_s.append(run)
            fetched.append(image.bytes_fetched)
    parts = [f + r for f, r in zip(fetch_s, run_s, strict=True)]
    overhead = [w - p for w, p in zip(server_s, parts, strict=True)]
    return {"server_p50": statistics.median(server_s), "server_p95": percentile(server_s, .95),
            "fetch_p50": statistics.median(fetch_s), "run_p50": statistics.median(run_s),
            "parts_p50": statistics.median(parts), "parts_p95": percentile(parts, .95),
            "ratio": statistics.median(server_s) / statistics.median(parts),
            "overhead_p50": statistics.median(overhead),
            "bytes_max": max(fetched), "bytes_median": statistics.median(fetched),
            "provider": ort_session.get_providers()[0], "target": target}


def raw_batching(model: Model, seconds: float) -> tuple[float, float, float, float]:
    """Images/s of the bare session: CLIENTS threads running batch-1 inputs at once, against
    one thread running batches of CLIENTS (the most dynamic batching could gain)."""
    kind = model.kind()
    outputs = [kind.roles[role] for role in kind.roles]
    ort_session = model.session.session
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (300, 400, 3), dtype=np.uint8) for _ in range(CLIENTS)]
    single, _ = kind.preprocess(crops[:1])
    batch, _ = kind.preprocess(crops)

    def loop(feeds: dict, per_run: int) -> int:
        done, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            ort_session.run(outputs, feeds)
            done += per_run
        return done

    loop(batch, CLIENTS)
    started, cpu = time.perf_counter(), own_cpu_seconds()
    with ThreadPoolExecutor(CLIENTS) as pool:
        alone = sum(pool.map(lambda _: loop(single, 1), range(CLIENTS)))
    alone_rate = alone / (time.perf_counter() - started)
    alone_cpu = (own_cpu_seconds() - cpu) / alone
    started, cpu = time.perf_counter(), own_cpu_seconds()
    batched = loop(batch, CLIENTS)
    batched_rate = batched / (time.perf_counter() - started)
    return alone_rate, batched_rate, alone_cpu, (own_cpu_seconds() - cpu) / batched


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and its children (Linux /proc; 0 else)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, _, rest = stat.read_text().partition(" (")
            fields = rest.rsplit(") ", 1)[1].split()  # fields[1]: the parent's pid
        except (OSError, IndexError):
            continue
        if root in (int(pid), int(fields[1])):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def throughput(model_id: str, info: str, regions: list[str], threads: int, batching: bool,
               database: Path, tile_server: int) -> dict:
    """Images/s of ``CLIENTS`` concurrent clients against 1 worker x ``CLIENTS`` threads."""
    server = GunicornServer(f"sqlite:///{database}", workers=1, threads=CLIENTS,
                            extra_env=server_env(threads, batching))
    sessions = [requests.Session() for _ in range(CLIENTS)]

    def one(job: tuple[int, str]) -> float:
        index, region = job
        return analyze(sessions[index % CLIENTS], server, info, region, model_id)

    with server, ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, enumerate(regions[:4 * CLIENTS])))  # sessions, batchers, pools
        processes = (server.process.pid, tile_server)
        cpu_before = [cpu_seconds(pid) for pid in processes] + [own_cpu_seconds()]
        started = time.perf_counter()
        latencies = list(pool.map(one, enumerate(regions)))
        wall = time.perf_counter() - started
        cpu_after = [cpu_seconds(pid) for pid in processes] + [own_cpu_seconds()]
    return {"images": len(regions), "wall": wall, "latencies": latencies,
            "cpu": [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer regions and requests")
    parser.add_argument("--onnx-threads", type=int, default=os.cpu_count() or 1,
                        help="ANNOSERVER_ONNX_THREADS everywhere (default: the CPU count)")
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args()
    regions_per_model = 40 if args.quick else 200
    throughput_requests = 160 if args.quick else 480
    rounds = 1 if args.quick else 4
    threads = args.onnx_threads
    rng = np.random.default_rng(args.seed)
    began = time.perf_counter()
    print(f"annoserver analysis benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()}, {os.cpu_count()} CPUs, onnxruntime {onnxruntime.__version__}, "
          f"ONNX threads {threads}{' (quick)' if args.quick else ''}, load average "
          f"{os.getloadavg()[0]:.2f}")
    available = onnxruntime.get_available_providers()
    runtime = Runtime(SHIPPED_MODELS, settings={"intra_op_threads": threads})
    models = [m for m in runtime.models() if m.config.kind in ANNOTATING_KINDS]
    classifiers = [m for m in models if m.config.kind == "classifier"]
    print(f"  models: {', '.join(f'{m.id} ({m.config.kind})' for m in models) or 'none'}")
    if not models:
        raise SystemExit("no annotating model in onnx_models/")

    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as temp:
        temp_dir = Path(temp)
        images = temp_dir / "images"
        images.mkdir()
        page = images / "page.jpg"
        write_rgb(page, textured(*PAGE, rng))
        small = temp_dir / "small.jpg"
        write_rgb(small, textured(*SMALL, rng))
        page_bytes = page.stat().st_size
        print(f"  page: {PAGE[0]}x{PAGE[1]} JPEG, {page_bytes:,} bytes")
        page_regions = random_regions(rng, PAGE, regions_per_model)
        small_regions = tile_regions(rng, SMALL, throughput_requests)
        results, full_bytes, rates = {}, {}, {}
        with make_session(allowed_hosts=["127.0.0.1"]) as iiif:
            with ReferenceServer(images, temp_dir) as reference, \
                    GunicornServer(f"sqlite:///{temp_dir / 'latency.sqlite3'}", workers=1,
                                   threads=4, extra_env=server_env(threads)) as server:
                info = reference.info_url("3.0", "page")
                for model in models:
                    results[model.id] = latency(model, server, info, page_regions, iiif)
                listed = requests.get(server.url + "/models", timeout=30).json()["models"]
                for entry in listed:  # after the runs: sessions are built, so this is real
                    if entry["id"] in results:
                        results[entry["id"]]["server_provider"] = entry["provider"]
                    full = fetch_region(info, "full", _target_for(model), session=iiif)
                    full_bytes[model.id] = (full.bytes_fetched, full.pixels.shape)
            (temp_dir / "static").mkdir()
            with StaticServer({"small": small}, temp_dir / "static") as static:
                info = static.info_url(2, "small")  # v2: tiles spelt `w,` as asked first
                for model in classifiers:
                    totals = {False: [0, 0.0, 0.0, 0.0, 0.0], True: [0, 0.0, 0.0, 0.0, 0.0]}
                    latencies: dict[bool, list[float]] = {False: [], True: []}
                    for round_number in range(rounds):
                        order = (False, True) if round_number % 2 == 0 else (True, False)
                        for batching in order:
                            database = temp_dir / f"tp-{model.id}-{batching}-{round_number}.db"
                            run = throughput(model.id, info, small_regions, threads, batching,
                                             database, static.process.pid)
                            latencies[batching] += run["latencies"]
                            for index, value in enumerate([run["images"], run["wall"],
                                                           *run["cpu"]]):
                                totals[batching][index] += value
                    rates[model.id] = (totals, latencies,
                                       raw_batching(model, 2.0 if args.quick else 4.0))

    print(f"\n(1) POST /analyze on {regions_per_model} random regions of the {PAGE[0]}x{PAGE[1]}"
          f" page (IIIF reference server), gunicorn 1x4, sequential:")
    print(f"  {'model':22s} {'server p50':>10s} {'p95':>8s} {'fetch p50':>10s} "
          f"{'run p50':>8s} {'f+r p50':>8s} {'f+r p95':>8s} {'extra':>7s} {'ratio':>6s}")
    for model_id, r in results.items():
        print(f"  {model_id:22s} {r['server_p50'] * 1e3:8.1f}ms {r['server_p95'] * 1e3:6.1f}ms"
              f" {r['fetch_p50'] * 1e3:8.1f}ms {r['run_p50'] * 1e3:6.1f}ms"
              f" {r['parts_p50'] * 1e3:6.1f}ms {r['parts_p95'] * 1e3:6.1f}ms"
              f" {r['overhead_p50'] * 1e3:5.1f}ms {r['ratio']:6.3f}"
              f"  {'met' if r['ratio'] <= 1.15 else 'NOT met'} (<= 1.15)")
    print(f"\n(2) {CLIENTS} concurrent clients, gunicorn 1 worker x {CLIENTS} threads, "
          f"{throughput_requests} random tiles of a {SMALL[0]}x{SMALL[1]} level-0 tile set"
          f" x {rounds} round(s), ANNOSERVER_ONNX_THREADS={threads}, "
          f"ANNOSERVER_FETCH_PER_HOST={CLIENTS}:")
    for model_id, (totals, latencies, raw) in rates.items():
        rate = {b: total[0] / total[1] for b, total in totals.items()}
        gain = rate[True] / rate[False]
        print(f"  {model_id:22s} batching off {rate[False]:6.1f} img/s (p50 "
              f"{statistics.median(latencies[False]) * 1e3:.0f} ms), on {rate[True]:6.1f} img/s "
              f"(p50 {statistics.median(latencies[True]) * 1e3:.0f} ms): x{gain:.2f}  "
              f"{'met' if gain >= 1.5 else 'NOT met'} (>= 1.5)")
        for batching, (images, _, server_cpu, tiles_cpu, client_cpu) in totals.items():
            print(f"  {'':22s} CPU ms per image, batching {'on ' if batching else 'off'}: "
                  f"gunicorn {server_cpu / images * 1e3:.1f}, tile server "
                  f"{tiles_cpu / images * 1e3:.1f}, clients (this process) "
                  f"{client_cpu / images * 1e3:.1f}")
        print(f"  {'':22s} bare session.run, same threads: {CLIENTS} threads x batch 1 "
              f"{raw[0]:.0f} img/s ({raw[2] * 1e3:.1f} CPU ms/img), 1 thread x batch "
              f"{CLIENTS} {raw[1]:.0f} img/s ({raw[3] * 1e3:.1f} CPU ms/img): "
              f"x{raw[1] / raw[0]:.2f} (what batching can gain at most here)")
    if not classifiers:
        print("  no classifier installed: skipped")
    print(f"\n(3) bytes fetched against the page JPEG ({page_bytes:,} bytes):")
    for model_id, r in results.items():
        nbytes, shape = full_bytes[model_id]
        share = nbytes / page_bytes
        model_input = runtime.get(model_id).config.input.size
        verdict = (f"{'met' if share <= 0.10 else 'NOT met'} (<= 10%)" if model_input
                   else "(no fixed input size: full resolution)")
        print(f"  {model_id:22s} input {model_input}: full page {nbytes:,} B "
              f"({shape[1]}x{shape[0]} px) = {share:.2%}  {verdict}; random regions median "
              f"{r['bytes_median'] / page_bytes:.2%}, max {r['bytes_max'] / page_bytes:.2%}")
    providers = sorted({f"{r['provider']} here, {r['server_provider']} in the server"
                        for r in results.values()})
    if "CUDAExecutionProvider" in available:
        print(f"\n(4) CUDAExecutionProvider available; sessions ran on {', '.join(providers)}")
    else:
        print(f"\n(4) no CUDAExecutionProvider (available: {', '.join(available)}): the CPU "
              f"provider was used ({', '.join(providers)})")
    print(f"  total {time.perf_counter() - began:.0f} s, load average now "
          f"{os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min)")
    print(f"ratio: {max(r['ratio'] for r in results.values()):.3f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
