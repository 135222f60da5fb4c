"""What the model-building scripts share (run in the ``make models`` venv, not the server's)."""

from __future__ import annotations

import hashlib
import importlib.util
import statistics
import time
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The file's sha256, read in 1 MiB chunks (weights can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_dir(module: str, install: str) -> Path:
    """Where an installed package's files are, found without importing it.

    Importing facenet-pytorch or timm would pull in torchvision, which the build venv must
    not have; the scripts only need the files the wheels carry.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{module} is not installed: {install}")
    return Path(list(spec.submodule_search_locations)[0])


def latency_ms(path: Path, threads: int, size: int, runs: int) -> float:
    """Median milliseconds of one onnxruntime CPU run on a random [1, 3, size, size] image
    with ``threads`` intra-op threads, the first five runs discarded as warm-up."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    feed = {sess.get_inputs()[0].name: x}
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times[5:]), 1)


def latency_one_and_two_threads(path: Path, size: int, runs: int) -> dict[str, float]:
    """The ``latency_ms_batch1`` figures of a trainer's eval.json: one and two threads."""
    return {"1_thread": latency_ms(path, 1, size, runs),
            "2_threads": latency_ms(path, 2, size, runs)}
