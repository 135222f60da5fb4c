"""Three classifiers on one region: fused graphs (a backbone each) against heads sharing one.

    python bench/heads.py [--images 60]

Trains three classifiers with ``annoserver train classifier`` on the synthetic shapes of
``tests/training/synthetic.py`` (three seeds, so three different heads), twice: fused (the
default, one graph of backbone + head each) and ``--shared-backbone`` (the head alone, on the
EfficientNet-Lite0 installed beside it). Then, on ``--images`` new drawings no head saw:

(1) runtime: each image through the three models in turn, as ``/analyze`` runs them
    (``Runtime.infer``, ONNX Runtime's default threads); milliseconds per image, the median
    of three rounds on different thirds of the images, the storages taking turns;
(2) HTTP: ``POST /analyze`` with the three models, each image served by the IIIF reference
    server (a separate process); requests per second (fetch, inference, annotations), in
    rounds as in (1).

Both storages must give the same labels and confidences (checked). The last line is
``ratio: X``, the runtime time per image fused ÷ shared. Above 3 means more than the
backbone runs saved: three sessions, each with its own ONNX Runtime thread pool, taking turns
on few cores (one fused model alone is timed for comparison).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annoserver.app import create_app  # noqa: E402
from annoserver.config import SHIPPED_MODELS  # noqa: E402
from annoserver.training import HeadSettings, TrainingRequest, train_classifier  # noqa: E402
from tests.iiif.servers import ReferenceServer  # noqa: E402
from tests.training.synthetic import CLASSES, draw, write_dataset, write_rgb  # noqa: E402

BACKBONE = "efficientnet-lite0"
SEEDS = (0, 1, 2)
WARM_UP = 3
ROUNDS = 3


def train(app, data: Path, models: Path) -> dict[str, list[str]]:
    """The three classifiers in both storages; their ids by storage."""
    ids: dict[str, list[str]] = {"fused": [], "shared": []}
    for storage in ids:
        for seed in SEEDS:
            name = f"{storage}-{seed}"
            train_classifier(TrainingRequest(data, name, models, models / BACKBONE,
                                             head=HeadSettings(seed=seed),
                                             shared_backbone=storage == "shared"),
                             app.extensions["annoserver.iiif"])
            ids[storage].append(name)
    return ids


def seconds_per_image(ids: dict[str, list[str]], count: int,
                      step: Callable[[str, int], None]) -> dict[str, float]:
    """Median seconds per image for each storage; ``step(storage, index)`` does one image.

    The first ``WARM_UP`` images build sessions outside the timing. Then ``ROUNDS`` rounds,
    each on its own third of the other images (the runtime keeps recent outputs: a repeated
    image would measure that, not the models); the storages take turns and swap who goes
    first, so neither always meets a warmer machine.
    """
    for index in range(WARM_UP):
        for storage in ids:
            step(storage, index)
    rounds: dict[str, list[float]] = {storage: [] for storage in ids}
    for number in range(ROUNDS):
        indices = range(WARM_UP + number, count, ROUNDS)
        for storage in list(ids) if number % 2 == 0 else list(reversed(ids)):
            started = time.perf_counter()
            for index in indices:
                step(storage, index)
            rounds[storage].append((time.perf_counter() - started) / len(indices))
    return {storage: statistics.median(seconds) for storage, seconds in rounds.items()}


def runtime_ms(runtime, ids: dict[str, list[str]], images: list[np.ndarray]
               ) -> tuple[dict[str, float], dict[str, dict[int, list]]]:
    """Milliseconds per image for each storage's models in turn, and their results by image."""
    results: dict[str, dict[int, list]] = {storage: {} for storage in ids}

    def infer(storage: str, index: int) -> None:
        results[storage][index] = [runtime.infer(name, [images[index]])[0]
                                   for name in ids[storage]]

    seconds = seconds_per_image(ids, len(images), infer)
    return {storage: 1000 * value for storage, value in seconds.items()}, results


def http_rates(client, server, ids: dict[str, list[str]], count: int) -> dict[str, float]:
    """``POST /analyze`` requests per second with each storage's models, image by image."""
    def post(storage: str, index: int) -> None:
        response = client.post("/analyze", json={"image": server.info_url("3.0", f"q{index}"),
                                                 "models": ids[storage]})
        assert response.status_code == 200, response.get_data(as_text=True)

    return {storage: 1 / value
            for storage, value in seconds_per_image(ids, count, post).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(99)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = tmp / "models"
        shutil.copytree(SHIPPED_MODELS / BACKBONE, models / BACKBONE)
        images = [draw(CLASSES[i % len(CLASSES)], rng) for i in range(args.images + WARM_UP)]
        served = tmp / "images"
        served.mkdir()
        for index, image in enumerate(images):
            write_rgb(served / f"q{index}.png", image)
        settings = {"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "DATA_DIR": str(tmp),
                    "ALLOWED_HOSTS": ["127.0.0.1"], "PUBLIC_URL": "http://bench/",
                    "MODELS_DIR": str(models)}
        trainer = create_app(settings)  # the repository holds only the backbone yet
        started = time.perf_counter()
        ids = train(trainer, write_dataset(tmp / "shapes", per_class=30, seed=0), models)
        print(f"trained 6 classifiers in {time.perf_counter() - started:.1f} s")
        trainer.extensions["annoserver.db"].dispose()

        app = create_app(settings)
        runtime = app.extensions["annoserver.runtime"]
        ms, results = runtime_ms(runtime, ids, images)
        fused_ms, shared_ms = ms["fused"], ms["shared"]
        fused, shared = (list(results[storage].values()) for storage in ("fused", "shared"))
        others = [draw(CLASSES[i % len(CLASSES)], rng) for i in range(len(images))]
        alone_ms = runtime_ms(runtime, {"one": ids["fused"][:1]}, others)[0]["one"]
        bone = runtime.get(BACKBONE).shared
        diff = max(abs(a[0].score - b[0].score) for fa, sa in zip(fused, shared, strict=True)
                   for a, b in zip(fa, sa, strict=True))
        same = all(a[0].label == b[0].label for fa, sa in zip(fused, shared, strict=True)
                   for a, b in zip(fa, sa, strict=True))
        app.extensions["annoserver.db"].dispose()
        print(f"runtime, {len(images) - WARM_UP} images x 3 classifiers: fused {fused_ms:.1f} "
              f"ms per image, shared backbone {shared_ms:.1f} ms per image (one fused model "
              f"alone: {alone_ms:.1f} ms); backbone rows "
              f"computed {bone.computed}, reused {bone.reused}; same labels {same}, max "
              f"|confidence difference| {diff:.1e}")
        assert same and diff < 1e-4

        with ReferenceServer(served, tmp) as server:
            # a fresh app: no output kept from the runtime phase
            app = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp}/bench-http.db"})
            rates = http_rates(app.test_client(), server, ids, len(images))
            app.extensions["annoserver.db"].dispose()
        gain = rates["shared"] / rates["fused"]
        print(f"POST /analyze with 3 classifiers: fused {rates['fused']:.1f} req/s, shared "
              f"backbone {rates['shared']:.1f} req/s (ratio {gain:.2f})")
        print(f"ratio: {fused_ms / shared_ms:.2f}")


if __name__ == "__main__":
    main()
