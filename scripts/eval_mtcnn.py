#!/usr/bin/env python3
"""Evaluate the shipped MTCNN face detector (onnx_models/mtcnn-faces) on what this machine has.

torch-free: the model runs through annoserver's own config loading and the ``faces``
plugin on ONNX Runtime. Needs scikit-image for the data, so it runs in the model-building
venv (``make models``; see scripts/export_mtcnn.py):

    .venv-models/bin/python scripts/eval_mtcnn.py [--write]

A SMALL evaluation, by necessity: no face benchmark (WIDER FACE, FDDB) can be fetched
here. Everything comes from scikit-image 0.26.0's wheel:

* ``astronaut``: one frontal face, boxed by hand (:data:`ASTRONAUT_FACE`).
* ``camera``: the cameraman, his face turned to the camera's eyepiece (profile): boxed by
  hand, reported apart as a hard case.
* LFW collages: ``lfw_subset``'s 100 face crops (25 × 25 grey, brows to chin, from
  Labeled Faces in the Wild) and its 100 non-face crops, enlarged to 16-112 px and pasted
  without overlap on backgrounds cut from the sample photographs; 10 collages of 10 faces
  and 10 non-faces each (seed 0). A face is found when a box overlaps it with IoU >= 0.5
  (one box per face). Upscaled 25-px crops are blurrier than real photographs.
* negatives: sample photographs without a human face (a cat, coffee, coins, a rocket, a
  page of text, textures, microscopy...): every box is a false alarm.
* astronaut variants as rough proxies for heritage material (grey, sepia with grain,
  halftone, a shaded pencil sketch, a line drawing of black strokes only, JPEG quality 10,
  a small face, rotations).

``--write`` stores the figures in eval.json (``evaluation``) and model.toml ([quality]).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

MODEL_DIR = REPO / "onnx_models" / "mtcnn-faces"
ASTRONAUT_FACE = (172, 64, 266, 176)  # x1, y1, x2, y2: hairline to chin, cheek to cheek
CAMERA_FACE = (185, 112, 255, 200)  # the cameraman's face, in profile behind the camera
COLLAGES, FACES_PER_COLLAGE = 10, 10
COLLAGE_SIZE = (480, 640)
FACE_SIDES = (16, 112)
SIZE_BINS = ((16, 24), (24, 40), (40, 64), (64, 113))
MIN_SCORES = (0.7, 0.8, 0.9, 0.95)  # what raising thresholds.min_score would cost
NEGATIVES = ("coffee", "chelsea", "rocket", "coins", "horse", "page", "text",
             "hubble_deep_field", "brick", "grass", "gravel", "immunohistochemistry",
             "retina", "moon", "cell", "clock", "logo", "colorwheel")


def rgb(image: np.ndarray) -> np.ndarray:
    """Any scikit-image sample as H x W x 3 uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def sample_photos() -> dict[str, np.ndarray]:
    """The photographs the export script runs the cascade on (and ships two of)."""
    import skimage.data as data

    collage, _ = lfw_collage(0)
    return {"astronaut": rgb(data.astronaut()), "coffee": rgb(data.coffee()),
            "chelsea": rgb(data.chelsea()), "camera": rgb(data.camera()),
            "lfw_collage_0": collage}


def backgrounds() -> list[np.ndarray]:
    import cv2
    import skimage.data as data

    sources = [data.coffee(), data.brick(), data.grass(), data.gravel(), data.page(),
               data.rocket(), data.horse(), data.text(), data.hubble_deep_field(),
               data.immunohistochemistry()]
    out = []
    for source in sources:
        image = rgb(source)
        scale = max(COLLAGE_SIZE[0] / image.shape[0], COLLAGE_SIZE[1] / image.shape[1])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        out.append(np.ascontiguousarray(image[:COLLAGE_SIZE[0], :COLLAGE_SIZE[1]]))
    return out


def lfw_collage(index: int) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Collage ``index``: 10 LFW faces and 10 non-faces on a background; the face boxes."""
    import cv2
    import skimage.data as data

    crops = (data.lfw_subset() * 255).round().astype(np.uint8)  # 100 faces, 100 non-faces
    rng = np.random.default_rng(1000 + index)
    canvas = backgrounds()[index % 10].copy()
    picks = [(crops[i], True) for i in range(index * 10, index * 10 + FACES_PER_COLLAGE)]
    picks += [(crops[100 + i], False) for i in range(index * 10, index * 10 + 10)]
    sides = rng.integers(FACE_SIDES[0], FACE_SIDES[1] + 1, len(picks))
    placed: list[tuple[int, int, int, int]] = []
    faces = []
    for k in np.argsort(-sides, kind="stable"):  # largest first, so all of them fit
        (crop, is_face), side = picks[k], int(sides[k])
        for _ in range(2000):
            x = int(rng.integers(0, COLLAGE_SIZE[1] - side))
            y = int(rng.integers(0, COLLAGE_SIZE[0] - side))
            box = (x, y, x + side, y + side)
            if all(box[0] >= b[2] + 6 or box[2] + 6 <= b[0] or box[1] >= b[3] + 6
                   or box[3] + 6 <= b[1] for b in placed):
                break
        else:
            raise RuntimeError("no room left on the collage")
        patch = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC)
        canvas[y:y + side, x:x + side] = patch[..., None]
        placed.append(box)
        if is_face:
            faces.append(box)
    return canvas, faces


def scaled(box, factor: float) -> tuple[float, ...]:
    return tuple(v * factor for v in box)


def variants(astronaut: np.ndarray) -> dict[str, tuple[np.ndarray, tuple[float, ...]]]:
    """The astronaut photograph degraded in ways heritage scans are, with its face box.

    A rotated face's box is the upright square of the face's side about its rotated centre.
    """
    import cv2

    rng = np.random.default_rng(5)
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    sepia = grey[..., None] * np.array([1.07, 0.74, 0.43]) + 20
    sepia = np.clip(cv2.GaussianBlur(sepia + rng.normal(0, 12, sepia.shape), (3, 3), 0), 0, 255)
    cell = 4  # a 4-px halftone screen
    yy, xx = np.mgrid[0:512, 0:512]
    dot = (np.hypot((xx % cell) - cell / 2 + 0.5, (yy % cell) - cell / 2 + 0.5)
           / (cell / np.sqrt(2)))
    halftone = np.where(1 - grey / 255.0 > dot, 0, 255).astype(np.uint8)
    sketch, _ = cv2.pencilSketch(astronaut, sigma_s=60, sigma_r=0.07, shade_factor=0.05)
    lines = cv2.adaptiveThreshold(cv2.medianBlur(grey, 5), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                  cv2.THRESH_BINARY, 9, 4)  # black strokes only: no shading
    _, jpeg = cv2.imencode(".jpg", astronaut[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 10])
    face = ASTRONAUT_FACE
    out = {"grey": (rgb(grey), face), "sepia_grain": (rgb(sepia.round().astype(np.uint8)), face),
           "halftone_4px": (rgb(halftone), face), "pencil_sketch": (rgb(sketch), face),
           "line_drawing": (rgb(lines), face),
           "jpeg_q10": (cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1].copy(), face),
           "mirrored": (astronaut[:, ::-1].copy(), (512 - face[2], face[1], 512 - face[0],
                                                    face[3]))}
    for side in (128, 96):  # the face becomes about 24 and 18 px wide
        small = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
        out[f"face_{round(94 * side / 512)}px"] = (small, scaled(face, side / 512))
    centre = np.array([(face[0] + face[2]) / 2, (face[1] + face[3]) / 2, 1.0])
    half = max(face[2] - face[0], face[3] - face[1]) / 2
    for angle in (20, 45, 90):
        matrix = cv2.getRotationMatrix2D((256, 256), angle, 1.0)
        cx, cy = matrix @ centre
        out[f"rotated_{angle}"] = (cv2.warpAffine(astronaut, matrix, (512, 512),
                                                  borderMode=cv2.BORDER_REFLECT),
                                   (cx - half, cy - half, cx + half, cy + half))
    return out


def load_detector(threads: int = 0):
    """The shipped model through annoserver's own loading (sha256s checked) and plugin."""
    from annoserver.inference import (
        ModelSession,
        SessionSettings,
        get_plugin_manager,
        load_model_config,
        model_kinds,
    )

    kinds = model_kinds(get_plugin_manager(load_entry_points=False))
    config = load_model_config(MODEL_DIR, kinds)
    settings = SessionSettings(providers=("CPUExecutionProvider",), intra_op_threads=threads)
    graphs = {role: ModelSession(file.path, settings) for role, file in config.files.items()}
    return kinds[config.kind](config, ModelSession(config.onnx_path, settings), graphs)


def iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def xyxy(box) -> tuple[float, float, float, float]:
    return (box.x, box.y, box.x + box.w, box.y + box.h)


def match(found, truth, threshold=0.5):
    """Greedy one-to-one matching, best score first: (matched truth indices, true-positive
    flags in ``found`` order)."""
    used, flags = set(), []
    for box in found:
        ious = [(iou(xyxy(box), t), i) for i, t in enumerate(truth) if i not in used]
        best = max(ious, default=(0.0, -1))
        flags.append(best[0] >= threshold)
        if best[0] >= threshold:
            used.add(best[1])
    return used, flags


def average_precision(scored: list[tuple[float, bool]], positives: int) -> float:
    """VOC-style all-point AP of (score, is-true-positive) pairs."""
    scored = sorted(scored, key=lambda s: -s[0])
    tp = np.cumsum([s[1] for s in scored])
    precision = tp / np.arange(1, len(scored) + 1)
    recall = tp / positives
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    previous = np.concatenate([[0.0], recall[:-1]])
    return float(np.sum((recall - previous) * envelope))


def one_face(detector, image, truth) -> dict:
    [found] = detector.infer([image])
    boxes = [[round(v, 1) for v in xyxy(b)] + [round(b.score, 4)] for b in found]
    best = max((iou(xyxy(b), truth) for b in found), default=0.0)
    return {"boxes": boxes, "best_iou": round(best, 3), "found": bool(best >= 0.5),
            "extra_boxes": int(sum(iou(xyxy(b), truth) < 0.5 for b in found))}


def evaluate_collages(detector) -> dict:
    scored, found_by_bin, total_by_bin = [], [0] * len(SIZE_BINS), [0] * len(SIZE_BINS)
    found_30 = false_alarms = on_non_faces = 0
    by_min_score = {t: [0, 0] for t in MIN_SCORES}  # faces found, false alarms
    for index in range(COLLAGES):
        canvas, faces = lfw_collage(index)
        [found] = detector.infer([canvas])
        for t, counts in by_min_score.items():
            used_t, flags_t = match([b for b in found if b.score >= t], faces)
            counts[0] += len(used_t)
            counts[1] += flags_t.count(False)
        used, flags = match(found, faces)
        used_30, _ = match(found, faces, 0.3)
        found_30 += len(used_30)
        scored += [(b.score, f) for b, f in zip(found, flags, strict=True)]
        false_alarms += flags.count(False)
        on_non_faces += sum(not f and all(iou(xyxy(b), t) < 0.3 for t in faces)
                            for b, f in zip(found, flags, strict=True))
        for i, (x1, _, x2, _) in enumerate(faces):
            side = x2 - x1
            k = next(k for k, (lo, hi) in enumerate(SIZE_BINS) if lo <= side < hi)
            total_by_bin[k] += 1
            found_by_bin[k] += i in used
    positives = COLLAGES * FACES_PER_COLLAGE
    found_50 = sum(found_by_bin)
    return {"collages": COLLAGES, "faces": positives, "non_face_crops": COLLAGES * 10,
            "found_iou50": found_50, "recall_iou50": round(found_50 / positives, 3),
            "found_iou30": found_30, "false_alarms": false_alarms,
            "false_alarms_away_from_faces": on_non_faces,
            "ap50": round(average_precision(scored, positives), 3),
            "found_and_false_alarms_by_min_score": {str(t): c for t, c in by_min_score.items()},
            "recall_by_face_side_px": {f"{lo}-{hi - 1}": f"{f}/{t}" for (lo, hi), f, t
                                       in zip(SIZE_BINS, found_by_bin, total_by_bin,
                                              strict=True)}}


def evaluate_negatives(detector) -> dict:
    import skimage.data as data

    per_image = {}
    for name in NEGATIVES:
        [found] = detector.infer([rgb(getattr(data, name)())])
        per_image[name] = [[round(v, 1) for v in xyxy(b)] + [round(b.score, 4)]
                           for b in found]
    return {"images": len(NEGATIVES),
            "false_alarms": sum(len(v) for v in per_image.values()),
            "images_with_false_alarms": sorted(k for k, v in per_image.items() if v),
            "boxes": per_image}


def latency_ms(detector, image, runs=20) -> float:
    for _ in range(3):
        detector.infer([image])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detector.infer([image])
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def write_quality(results: dict) -> None:
    export = results.get("export", {})
    diffs = export.get("torch_vs_onnx_max_abs_diff", {})
    worst = max((v for net in diffs.values() for v in net.values()), default=None)
    ev = results["evaluation"]
    lines = [
        "[quality]",
        'note = "A SMALL evaluation (no face benchmark reachable here): scikit-image\'s '
        "astronaut, 100 LFW face crops pasted on 10 collages with 100 non-face crops, 18 "
        "sample images without people. Reproduce: python scripts/eval_mtcnn.py --write (make "
        'models venv)"',
    ]
    if worst is not None:
        lines.append(f"torch_onnx_max_abs_diff = {worst:.2e}")
    lines += [
        f"astronaut_face_iou = {ev['astronaut']['best_iou']:.3f}",
        f"collage_faces = {ev['collages']['faces']}",
        f"collage_recall_iou50 = {ev['collages']['recall_iou50']:.3f}",
        f"collage_ap50 = {ev['collages']['ap50']:.3f}",
        f"collage_false_alarms = {ev['collages']['false_alarms']}",
        f"negative_images = {ev['negatives']['images']}",
        f"negative_false_alarms = {ev['negatives']['false_alarms']}",
        f"latency_ms_512 = {ev['latency_ms_512']['astronaut']}",
    ]
    toml = MODEL_DIR / "model.toml"
    text = re.sub(r"\n*^\[quality\]\n.*?(?=^\[|\Z)", "", toml.read_text(), flags=re.S | re.M)
    toml.write_text(text.rstrip() + "\n\n" + "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update eval.json and model.toml")
    args = parser.parse_args()
    import skimage
    import skimage.data as data

    detector = load_detector()
    astronaut = rgb(data.astronaut())
    evaluation = {
        "command": "python scripts/eval_mtcnn.py --write",
        "data": f"scikit-image {skimage.__version__} sample data (see the script's docstring)",
        "astronaut_truth_xyxy": ASTRONAUT_FACE,
        "astronaut": one_face(detector, astronaut, ASTRONAUT_FACE),
        "camera_profile": one_face(detector, rgb(data.camera()), CAMERA_FACE),
        "collages": evaluate_collages(detector),
        "negatives": evaluate_negatives(detector),
    }
    evaluation["astronaut_variants"] = {name: one_face(detector, image, truth)
                                        for name, (image, truth) in variants(astronaut).items()}
    collage = np.ascontiguousarray(lfw_collage(0)[0][:512, :512])
    one_thread = load_detector(threads=1)
    evaluation["latency_ms_512"] = {
        "astronaut": latency_ms(one_thread, astronaut),
        "lfw_collage_512": latency_ms(one_thread, collage),
        "astronaut_default_threads": latency_ms(detector, astronaut),
        "how": "median of 20 runs after 3, one image per call, CPU provider, one intra-op "
               "thread (and ONNX Runtime's default), on this 2-core machine",
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(evaluation, indent=1))
    if args.write:
        path = MODEL_DIR / "eval.json"
        report = json.loads(path.read_text()) if path.exists() else {}
        report["evaluation"] = evaluation
        path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        write_quality(report)
        print("wrote eval.json (evaluation) and model.toml [quality]")


if __name__ == "__main__":
    main()
