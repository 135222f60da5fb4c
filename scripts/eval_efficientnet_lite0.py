#!/usr/bin/env python3
"""Honest, rerunnable evaluation of onnx_models/efficientnet-lite0/model.onnx.

There is no ImageNet validation set on this machine, so this measures what can
be measured with images that PyPI packages ship (scikit-image's ``skimage.data``):

(a) torch vs onnxruntime agreement on the sample photographs (max |diff| of
    logits and embedding, top-5 identical) -- skipped if torch is missing;
(b) top-1 / top-5 plausibility on the few labelled sample photographs (n is
    tiny -- 4 scenes -- and says nothing about ImageNet accuracy), plus what
    the model says on out-of-domain samples (text page, microscopy, ...);
(c) embedding sanity: cosine similarity of L2-normalised embeddings between
    views of the same image (flip, crops, half-size JPEG q=30 derivative, the
    other camera of a stereo pair) vs different images, and nearest-neighbour
    recall@1 over all views;
(d) onnxruntime CPU latency: median per image at batch 1, throughput at batch 8.

Run in the model-building venv (see scripts/export_efficientnet_lite0.py):

    .venv-models/bin/python scripts/eval_efficientnet_lite0.py

Prints a report, writes onnx_models/efficientnet-lite0/eval.json and replaces
the [quality] table of model.toml with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from export_efficientnet_lite0 import OUT_DIR, REPO, preprocess, sample_images  # noqa: E402

EVAL_CMD = "python scripts/eval_efficientnet_lite0.py (in the export venv)"

# Labelled scenes: acceptable ImageNet class indices (what a person would accept
# as a correct tag). ImageNet has no "motorcycle" or "rocket" class; its nearest
# classes are accepted.
LABELLED = {
    "chelsea": (
        "cat",
        {281, 282, 283, 284, 285},
    ),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "coffee": ("cup of coffee", {967, 968, 504}),  # espresso, cup, coffee mug
    "rocket": ("rocket launch", {657, 744, 812}),  # missile, projectile, space shuttle
    "motorcycle": ("motorcycle", {665, 670}),  # moped, motor scooter
}
# Out of ImageNet's domain: reported, not scored.
UNSCORED = [
    "astronaut",
    "camera",
    "page",
    "text",
    "coins",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "moon",
    "clock",
    "brick",
    "grass",
    "gravel",
]


def to_rgb(im: np.ndarray) -> np.ndarray:
    if im.dtype == bool:
        im = im.astype(np.uint8) * 255
    if im.ndim == 2:
        im = np.stack([im] * 3, axis=-1)
    if im.shape[-1] == 4:
        a = im[..., 3:4].astype(np.float32) / 255.0
        im = (im[..., :3] * a + 255 * (1 - a)).astype(np.uint8)
    return np.ascontiguousarray(im)


def all_images() -> dict[str, np.ndarray]:
    import skimage.data as d

    ims = dict(sample_images())
    ims["motorcycle_right"] = d.stereo_motorcycle()[1]
    for name in UNSCORED:
        if name not in ims:
            ims[name] = getattr(d, name)()
    return {k: to_rgb(v) for k, v in ims.items()}


def views(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Derivatives of one image a collection would hold or a user would crop."""
    import cv2

    h, w = rgb.shape[:2]
    ch, cw = int(h * 0.75), int(w * 0.75)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    half = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    ok, jpg = cv2.imencode(
        ".jpg", cv2.cvtColor(half, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 30]
    )
    assert ok
    return {
        "orig": rgb,
        "hflip": rgb[:, ::-1],
        "crop75_center": rgb[y0 : y0 + ch, x0 : x0 + cw],
        "crop80_topleft": rgb[: int(h * 0.8), : int(w * 0.8)],
        "half_jpeg_q30": cv2.cvtColor(cv2.imdecode(jpg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB),
    }


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def l2n(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def run_batched(sess, x: np.ndarray, bs: int = 8):
    outs = [
        sess.run(["logits", "embedding"], {"image": x[i : i + bs]}) for i in range(0, len(x), bs)
    ]
    return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])


def eval_agreement(sess, labels) -> dict:
    try:
        import torch
        from efficientnet_lite import build_model
    except ImportError:
        print("(a) skipped: torch is not installed here")
        return {}
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    ims = sample_images()
    x = np.stack([preprocess(v) for v in ims.values()])
    with torch.no_grad():
        tl, te = (t.numpy() for t in build_model()(torch.from_numpy(x)))
    ol, oe = sess.run(["logits", "embedding"], {"image": x})
    same = sum(list(np.argsort(-tl[i])[:5]) == list(np.argsort(-ol[i])[:5]) for i in range(len(x)))
    res = {
        "n_images": len(x),
        "max_abs_diff_logits": float(np.abs(tl - ol).max()),
        "max_abs_diff_embedding": float(np.abs(te - oe).max()),
        "max_abs_diff_probs": float(np.abs(softmax(tl) - softmax(ol)).max()),
        "top5_identical": int(same),
    }
    print(
        f"(a) torch vs onnxruntime on {len(x)} sample photos: max|diff| logits "
        f"{res['max_abs_diff_logits']:.2e}, embedding {res['max_abs_diff_embedding']:.2e}, "
        f"probabilities {res['max_abs_diff_probs']:.2e}; top-5 identical {same}/{len(x)}"
    )
    return res


def eval_plausibility(sess, labels, ims) -> dict:
    names = list(LABELLED) + ["motorcycle_right"] + UNSCORED
    x = np.stack([preprocess(ims[n]) for n in names])
    logits, _ = run_batched(sess, x)
    probs = softmax(logits)
    rows, top1, top5 = [], 0, 0
    print(
        f"(b) top-5 plausibility, {len(LABELLED)} labelled scenes "
        "(tiny n: a sanity check, not an accuracy figure)"
    )
    for i, n in enumerate(names):
        order = np.argsort(-probs[i])[:5]
        top = [(labels[j], round(float(probs[i, j]), 3)) for j in order]
        key = "motorcycle" if n == "motorcycle_right" else n
        scored = n in LABELLED
        row = {"image": n, "top5": top, "scored": scored}
        if key in LABELLED:
            want = LABELLED[key][1]
            row.update(
                expected=LABELLED[key][0],
                top1_ok=bool(order[0] in want),
                top5_ok=bool(any(j in want for j in order)),
            )
            if scored:
                top1 += row["top1_ok"]
                top5 += row["top5_ok"]
        rows.append(row)
        mark = (
            ("top-1 ok" if row.get("top1_ok") else "top-5 ok" if row.get("top5_ok") else "MISS")
            if "expected" in row
            else "unscored"
        )
        print(f"    {n:21s} [{mark:8s}] " + ", ".join(f"{lab} {p:.2f}" for lab, p in top))
    n = len(LABELLED)
    print(f"    labelled scenes: top-1 {top1}/{n}, top-5 {top5}/{n}")
    ood = [r for r in rows if not r["scored"] and r["image"] != "motorcycle_right"]
    ood_max = [r["top5"][0][1] for r in ood]
    print(
        f"    out-of-domain samples: top-1 probability median {np.median(ood_max):.2f}, "
        f"max {max(ood_max):.2f} ({sum(p >= 0.05 for p in ood_max)}/{len(ood)} "
        "at or above min_score 0.05)"
    )
    return {
        "n_scenes": n,
        "top1": top1,
        "top5": top5,
        "rows": rows,
        "ood_top1_prob_median": float(np.median(ood_max)),
        "ood_top1_prob_max": float(max(ood_max)),
    }


def eval_embedding(sess, ims) -> dict:
    names = [n for n in ims if n != "motorcycle_right"]
    items, src = [], []
    for n in names:
        for v in views(ims[n]).values():
            items.append(preprocess(v))
            src.append(n)
    items.append(preprocess(ims["motorcycle_right"]))  # the other camera of the stereo pair
    src.append("motorcycle")
    _, emb = run_batched(sess, np.stack(items))
    e = l2n(emb)
    cos = e @ e.T
    src = np.array(src)
    same = src[:, None] == src[None, :]
    off = ~np.eye(len(src), dtype=bool)
    same_vals = cos[same & off]
    diff_vals = cos[~same]
    np.fill_diagonal(cos, -2)
    nn = cos.argmax(axis=1)
    r1 = float((src[nn] == src).mean())
    i_l = list(src).index("motorcycle")
    stereo = float(e[i_l] @ e[-1])
    cat_moto = float(e[list(src).index("chelsea")] @ e[i_l])
    res = {
        "n_images": len(names),
        "n_views_per_image": 5,
        "n_items": len(src),
        "cos_same_image_mean": float(same_vals.mean()),
        "cos_same_image_min": float(same_vals.min()),
        "cos_different_mean": float(diff_vals.mean()),
        "cos_different_max": float(diff_vals.max()),
        "cos_stereo_pair_motorcycle": stereo,
        "cos_motorcycle_vs_cat": cat_moto,
        "recall_at_1": r1,
    }
    print(
        f"(c) embedding ({len(names)} sample images x 5 views + stereo right view = "
        f"{len(src)} items, L2-normalised):"
    )
    print(
        f"    cosine same image: mean {res['cos_same_image_mean']:.3f}, "
        f"min {res['cos_same_image_min']:.3f}; "
        f"different images: mean {res['cos_different_mean']:.3f}, "
        f"max {res['cos_different_max']:.3f}"
    )
    print(
        f"    motorcycle left vs right camera {stereo:.3f}; motorcycle vs cat {cat_moto:.3f}; "
        f"nearest-neighbour recall@1 {r1:.3f}"
    )
    return res


def eval_latency(sess, reps1: int, reps8: int) -> dict:
    rng = np.random.default_rng(0)
    x1 = rng.random((1, 3, 224, 224), dtype=np.float32)
    x8 = rng.random((8, 3, 224, 224), dtype=np.float32)
    for _ in range(5):
        sess.run(None, {"image": x1})
    sess.run(None, {"image": x8})
    t1 = []
    for _ in range(reps1):
        t = time.perf_counter()
        sess.run(None, {"image": x1})
        t1.append(time.perf_counter() - t)
    t8 = []
    for _ in range(reps8):
        t = time.perf_counter()
        sess.run(None, {"image": x8})
        t8.append(time.perf_counter() - t)
    res = {
        "batch1_ms_median": 1000 * float(np.median(t1)),
        "batch1_ms_p90": 1000 * float(np.percentile(t1, 90)),
        "batch8_images_per_s": 8 / float(np.median(t8)),
        "reps_batch1": reps1,
        "reps_batch8": reps8,
        "cpu_count": os.cpu_count(),
        "loadavg_1min": os.getloadavg()[0],
        "cpu": platform.processor() or platform.machine(),
    }
    print(
        f"(d) onnxruntime CPU ({os.cpu_count()} cores, 1-min load {res['loadavg_1min']:.2f}): "
        f"batch 1 median {res['batch1_ms_median']:.1f} ms (p90 {res['batch1_ms_p90']:.1f}), "
        f"batch 8 {res['batch8_images_per_s']:.0f} images/s"
    )
    return res


def toml_quality(r: dict) -> str:
    a, b, c, d = r.get("agreement", {}), r["plausibility"], r["embedding"], r["latency"]
    lines = [
        "[quality]",
        'note = "No ImageNet validation set here: sanity figures on scikit-image sample '
        "photos (tiny n), not accuracy. Reproduce: " + EVAL_CMD + '"',
    ]
    if a:
        lines += [
            f"torch_onnx_max_abs_diff_logits = {a['max_abs_diff_logits']:.2e}",
            f'torch_onnx_top5_identical = "{a["top5_identical"]}/{a["n_images"]}"',
        ]
    lines += [
        f"sample_scenes = {b['n_scenes']}",
        f'sample_top1 = "{b["top1"]}/{b["n_scenes"]}"',
        f'sample_top5 = "{b["top5"]}/{b["n_scenes"]}"',
        f"embedding_cos_same_image_mean = {c['cos_same_image_mean']:.3f}",
        f"embedding_cos_different_mean = {c['cos_different_mean']:.3f}",
        f"embedding_recall_at_1 = {c['recall_at_1']:.3f}",
        f"latency_ms_batch1 = {d['batch1_ms_median']:.1f}",
        f"throughput_images_per_s_batch8 = {d['batch8_images_per_s']:.0f}",
        "published_imagenet_top1 = 75.1  "
        "# TensorFlow authors' float EfficientNet-Lite0; not re-measured here",
    ]
    return "\n".join(lines) + "\n"


def write_quality(text: str) -> None:
    path = OUT_DIR / "model.toml"
    if not path.exists():
        print("model.toml missing: run scripts/export_efficientnet_lite0.py first")
        return
    body = (
        re.sub(r"^\[quality\]\n.*?(?=^\[|\Z)", "", path.read_text(), flags=re.S | re.M).rstrip()
        + "\n"
    )
    path.write_text(body + "\n" + text)
    print(f"updated [quality] in {path.relative_to(REPO)}")


def main() -> None:
    ap = argparse.ArgumentParser(description="evaluate the EfficientNet-Lite0 ONNX export")
    ap.add_argument("--reps", type=int, default=50, help="batch-1 timing runs (batch 8: reps/5)")
    ap.add_argument(
        "--no-write", action="store_true", help="print only; leave eval.json and model.toml"
    )
    args = ap.parse_args()

    import onnxruntime as ort

    labels = (OUT_DIR / "labels.txt").read_text().splitlines()
    sess = ort.InferenceSession(str(OUT_DIR / "model.onnx"), providers=["CPUExecutionProvider"])
    ims = all_images()
    report = {
        "model": "onnx_models/efficientnet-lite0/model.onnx",
        "onnxruntime": ort.__version__,
        "preprocess": "stretch to 224x224, cv2.INTER_AREA, RGB/255",
        "command": EVAL_CMD,
    }
    report["agreement"] = eval_agreement(sess, labels)
    report["plausibility"] = eval_plausibility(sess, labels, ims)
    report["embedding"] = eval_embedding(sess, ims)
    report["latency"] = eval_latency(sess, args.reps, max(5, args.reps // 5))
    if not args.no_write:
        (OUT_DIR / "eval.json").write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {(OUT_DIR / 'eval.json').relative_to(REPO)}")
        write_quality(toml_quality(report))


if __name__ == "__main__":
    main()
