"""Batch enrichment benchmark: a whole manifest through the job path against raw ONNX Runtime.

    python bench/enrich.py [--quick] [--canvases N] [--onnx-threads N] [--job-threads N]

Everything listens on 127.0.0.1 and runs in this one invocation:
  (0) a v3 manifest of N canvases (500; --quick 60), each painting one of the demo images
      (manifests/demo/images: a printed page, a stamped letter, photographs; cycled, every
      canvas its own id) through the IIIF reference server (iiif_testserver.py, a separate
      process, Image API 3.0), the manifest served by a small HTTP server; the models are the
      shipped classifier (efficientnet-lite0) and text-line detector (ppocr-det-v4);
  (1) raw ONNX Runtime: the input each model gets in a job (``fetch_region`` of the full
      image with the target the job asks for) is fetched, decoded and preprocessed once per
      canvas beforehand; then, one canvas after the other, ``session.run`` of each model on
      it (batch 1, one calling thread, the same intra-op threads), only the runs timed:
      raw canvases/s = N / the sum of the run times (also shown with preprocessing timed),
      measured before and after every mode below, each mode's ratio against the mean of the
      two measurements beside it (co-tenants' load drifts over minutes);
  (2) in-process: ``submit`` (what ``POST /manifests`` calls) and the in-process executor
      (--job-threads threads) until the job is done, on a fresh SQLite database, after a
      warm-up job; canvases/s = N / that wall time (fetching, decoding, preprocessing,
      inference, annotation building and storing all included);
  (3) the same job on Dramatiq with 1 and 2 ``annoserver worker`` processes (--job-threads
      threads each) on Redis 127.0.0.1:6379 (database 12, flushed), skipped when no Redis.
ONNX Runtime's intra-op threads are --onnx-threads (default: the CPU count) everywhere.
JOB_PER_HOST and FETCH_PER_HOST are set to the runner threads of each mode, so the cap on
one host never idles a thread (all canvases share one image host here).
The last line is `ratio: X`, in-process canvases/s divided by raw canvases/s (target >= 0.7).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import onnxruntime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The target a job asks for: imported, not copied, so the two cannot drift apart.
from annoserver.analysis import _target_for  # noqa: E402
from annoserver.app import create_app  # noqa: E402
from annoserver.config import SHIPPED_MODELS  # noqa: E402
from annoserver.iiif import fetch_region, make_session  # noqa: E402
from annoserver.inference import Runtime  # noqa: E402
from annoserver.jobs import submit  # noqa: E402
from annoserver.store.jobs import ACTIVE  # noqa: E402
from tests.iiif.servers import ReferenceServer  # noqa: E402
from tests.jobs.conftest import ManifestServer, canvas, manifest  # noqa: E402

MODELS = ("efficientnet-lite0", "ppocr-det-v4")
DEMO_IMAGES = ROOT / "manifests" / "demo" / "images"
REDIS_URL = "redis://127.0.0.1:6379/12"
BASE = "http://annoserver.bench/"


def publish(server: ManifestServer, reference: ReferenceServer,
            sizes: dict[str, tuple[int, int]], name: str, count: int) -> str:
    """A manifest of ``count`` canvases cycling through the images of ``sizes``; its URL."""
    manifest_id = f"{server.url}/{name}/manifest.json"
    names = list(sizes)
    canvases = []
    for n in range(count):
        image = names[n % len(names)]
        service = reference.info_url("3.0", image).removesuffix("/info.json")
        canvases.append(canvas(manifest_id, n, *sizes[image], service))
    return server.publish(f"/{name}/manifest.json", manifest(manifest_id, canvases))


def decoded_inputs(runtime: Runtime, reference: ReferenceServer,
                   names: list[str]) -> dict[str, dict[str, tuple]]:
    """Per image and model: the fetched pixels a job's unit gets, and their model feeds."""
    inputs: dict[str, dict[str, tuple]] = {}
    with make_session(allowed_hosts=["127.0.0.1"]) as iiif:
        for image in names:
            info = reference.info_url("3.0", image)
            inputs[image] = {}
            for model_id in MODELS:
                model = runtime.get(model_id)
                pixels = fetch_region(info, "full", _target_for(model), session=iiif).pixels
                inputs[image][model_id] = (pixels, *model.kind().preprocess([pixels]))
    return inputs


def raw_rates(runtime: Runtime, inputs: dict[str, dict[str, tuple]],
              count: int) -> tuple[float, float, dict[str, float]]:
    """Raw canvases/s: session.run only, and preprocessing + session.run; per-model run ms."""
    names = list(inputs)
    kinds = {model_id: runtime.get(model_id).kind() for model_id in MODELS}
    sessions = {model_id: runtime.get(model_id).session.session for model_id in MODELS}
    outputs = {model_id: list(kind.roles.values()) for model_id, kind in kinds.items()}
    for image in names:  # warm-up: sessions built, first runs paid
        for model_id in MODELS:
            sessions[model_id].run(outputs[model_id], inputs[image][model_id][1])
    run_s = {model_id: 0.0 for model_id in MODELS}
    with_preprocess = 0.0
    for n in range(count):
        image = names[n % len(names)]
        for model_id in MODELS:
            pixels, feeds, _ = inputs[image][model_id]
            started = time.perf_counter()
            kinds[model_id].preprocess([pixels])
            prepared = time.perf_counter()
            sessions[model_id].run(outputs[model_id], feeds)
            finished = time.perf_counter()
            run_s[model_id] += finished - prepared
            with_preprocess += finished - started
    total = sum(run_s.values())
    return count / total, count / with_preprocess, {m: s / count * 1e3 for m, s in run_s.items()}


def wait_done(repository, job_id: int, timeout: float = 3600) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while (job := repository.job(job_id)).state in ACTIVE:
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {job.state} after {timeout} s")
        time.sleep(0.05)
    if job.state != "done" or job.failed:
        raise RuntimeError(f"job {job_id} {job.state}, {job.failed} failed: {job.errors[:3]}")


def timed_job(app, url: str) -> float:  # noqa: ANN001 - a Flask app
    """Seconds from submitting ``url`` to its job being done."""
    context = app.extensions["annoserver.jobs"]
    started = time.perf_counter()
    job_id = submit(context, url, list(MODELS), {}, BASE).job_id
    app.extensions["annoserver.executor"].start()
    wait_done(context.repository, job_id)
    return time.perf_counter() - started


def model_dir(temp: Path) -> Path:
    """A repository of just the two benchmarked shipped models (links, not copies)."""
    folder = temp / "models"
    folder.mkdir(exist_ok=True)
    for model_id in MODELS:
        if not (folder / model_id).exists():
            (folder / model_id).symlink_to(SHIPPED_MODELS / model_id, target_is_directory=True)
    return folder


def config(temp: Path, name: str, threads: int, runners: int) -> dict[str, object]:
    """The configuration of one mode's submitter and workers."""
    return {"DATABASE_URL": f"sqlite:///{temp / f'{name}.sqlite3'}",
            "MODELS_DIR": str(model_dir(temp)), "ALLOWED_HOSTS": ["127.0.0.1"],
            "ONNX_THREADS": threads, "JOB_PER_HOST": runners, "FETCH_PER_HOST": runners,
            "JOB_POLL_INTERVAL": 0.05}


def environment(settings: dict[str, object]) -> dict[str, str]:
    """``settings`` as ``ANNOSERVER_*`` variables, for a worker process."""
    return {f"ANNOSERVER_{key}": ",".join(value) if isinstance(value, list) else str(value)
            for key, value in settings.items()}


def in_process(temp: Path, urls: tuple[str, str], threads: int, job_threads: int) -> float:
    app = create_app(config(temp, "in-process", threads, job_threads)
                     | {"JOB_THREADS": job_threads})
    try:
        timed_job(app, urls[0])  # warm-up: sessions, batchers, connection pools
        return timed_job(app, urls[1])
    finally:
        app.extensions["annoserver.executor"].stop()
        app.extensions["annoserver.db"].dispose()


def dramatiq(temp: Path, urls: tuple[str, str], threads: int, job_threads: int,
             processes: int) -> float:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    settings = config(temp, f"dramatiq-{processes}", threads, job_threads * processes)
    settings["BROKER_URL"] = REDIS_URL
    app = create_app(settings)
    env = environment(settings)
    workers = []
    for n in range(processes):
        log = (temp / f"worker-{processes}-{n}.log").open("wb")
        workers.append(subprocess.Popen(
            [sys.executable, "-c", "from annoserver.cli import main; main()", "worker",
             "--processes", "1", "--threads", str(job_threads)],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True))
    try:
        timed_job(app, urls[0])  # warm-up: every worker booted and its sessions built
        return timed_job(app, urls[1])
    finally:
        for worker in workers:
            os.killpg(worker.pid, 15)
        for worker in workers:
            worker.wait(30)
        app.extensions["annoserver.db"].dispose()


def redis_up() -> bool:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no Redis to use
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 canvases instead of 500")
    parser.add_argument("--canvases", type=int, default=None)
    parser.add_argument("--onnx-threads", type=int, default=os.cpu_count() or 1,
                        help="ANNOSERVER_ONNX_THREADS everywhere (default: the CPU count)")
    parser.add_argument("--job-threads", type=int, default=2,
                        help="runner threads of the in-process executor and of each worker")
    args = parser.parse_args()
    count = args.canvases or (60 if args.quick else 500)
    threads, job_threads = args.onnx_threads, args.job_threads
    began = time.perf_counter()
    print(f"annoserver enrichment benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()}, {os.cpu_count()} CPUs, onnxruntime {onnxruntime.__version__}, "
          f"ONNX threads {threads}, job threads {job_threads}, {count} canvases"
          f"{' (quick)' if args.quick else ''}, load average {os.getloadavg()[0]:.2f}")
    import cv2

    with tempfile.TemporaryDirectory(prefix="bench-enrich-") as temp:
        temp_dir = Path(temp)
        images = temp_dir / "images"
        shutil.copytree(DEMO_IMAGES, images)
        sizes = {}
        for path in sorted(images.glob("*.jpg")):
            height, width = cv2.imread(str(path)).shape[:2]
            sizes[path.stem] = (width, height)
        names = list(sizes)
        print(f"  images: {', '.join(f'{n} {w}x{h}' for n, (w, h) in sizes.items())}")
        runtime = Runtime(model_dir(temp_dir), settings={"intra_op_threads": threads})
        rates: dict[str, float] = {}
        beside: dict[str, list[float]] = {}
        raws = []
        with ReferenceServer(images, temp_dir) as reference, ManifestServer() as server:
            inputs = decoded_inputs(runtime, reference, names)
            raws.append(raw_rates(runtime, inputs, count))
            for mode in ("in-process", "dramatiq-1", "dramatiq-2"):
                urls = (publish(server, reference, sizes, f"{mode}-warm", 4 * job_threads),
                        publish(server, reference, sizes, mode, count))
                if mode == "in-process":
                    wall = in_process(temp_dir, urls, threads, job_threads)
                elif redis_up():
                    wall = dramatiq(temp_dir, urls, threads, job_threads, int(mode[-1]))
                else:
                    print(f"  {mode}: skipped, no Redis on 127.0.0.1:6379")
                    continue
                rates[mode] = count / wall
                before = raws[-1]
                raws.append(raw_rates(runtime, inputs, count))
                beside[mode] = [(a + b) / 2 for a, b in zip(before[:2], raws[-1][:2],
                                                               strict=True)]
                print(f"  {mode}: {count} canvases x {len(MODELS)} models in {wall:.1f} s; "
                      f"raw before {before[0]:.2f}, after {raws[-1][0]:.2f} canvases/s")
            runtime.close()

    run_ms = {m: statistics.median(raw[2][m] for raw in raws) for m in MODELS}
    print(f"\n(1) raw ONNX Runtime, batch 1, one thread, pre-decoded inputs: "
          f"{', '.join(f'{raw[0]:.2f}' for raw in raws)} canvases/s over the run (session.run "
          f"median {', '.join(f'{m} {ms:.1f} ms' for m, ms in run_ms.items())}); with "
          f"preprocessing {', '.join(f'{raw[1]:.2f}' for raw in raws)}")
    print(f"(2) in-process executor, {job_threads} threads: {rates['in-process']:.2f} "
          f"canvases/s = {rates['in-process'] / beside['in-process'][0]:.3f} x raw "
          f"({rates['in-process'] / beside['in-process'][1]:.3f} x raw with preprocessing)")
    for processes in (1, 2):
        mode = f"dramatiq-{processes}"
        if mode in rates:
            print(f"(3) Dramatiq, {processes} worker process(es) x {job_threads} threads: "
                  f"{rates[mode]:.2f} canvases/s = {rates[mode] / beside[mode][0]:.3f} x raw "
                  f"({rates[mode] / rates['in-process']:.2f} x in-process)")
    ratio = rates["in-process"] / beside["in-process"][0]
    print(f"  target >= 0.7: {'met' if ratio >= 0.7 else 'NOT met'}; total "
          f"{time.perf_counter() - began:.0f} s, load average now {os.getloadavg()[0]:.2f} "
          f"(1 min), {os.getloadavg()[1]:.2f} (5 min)")
    print(f"ratio: {ratio:.3f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    main()
