#!/usr/bin/env python3
"""Train, export and evaluate the ESPCN-class super-resolution models (x2, x4).

Reproduce (the model-building virtualenv, ``scripts/requirements-models.txt``):

    make .venv-models/.installed
    .venv-models/bin/python scripts/train_superres.py --scale 2   # ~11 min, 1 thread
    .venv-models/bin/python scripts/train_superres.py --scale 4   # ~7 min, 1 thread
    .venv-models/bin/python scripts/train_superres.py --scale 2 --eval   # re-evaluate

Training writes ``build/superres/espcn-x{s}.pt`` (weights, git-ignored), then exports and
evaluates. ``--eval`` re-evaluates the committed ``model.onnx`` only (no torch needed for
the figures); ``--weights FILE`` exports and evaluates saved weights without training.

Everything lands in ``onnx_models/espcn-x{s}/``: model.onnx, model.toml, eval.json,
MODEL_CARD.md and two small held-out fixture images for the regression test.

Data (``scripts/superres_data.py``): scikit-image's bundled sample images and synthetic
document pages rendered with OpenCV; a fixed, named held-out set never enters training.
Training pairs: random crops, flips and transposes, downscaled by box (area), antialiased
bicubic, Lanczos or a slightly blurred area filter, with light Gaussian noise and JPEG
(quality 70-95). The network works on luma (``scripts/superres_model.py``); the ONNX graph is
RGB in, RGB out.

Evaluation (held-out images, each cropped to a multiple of the scale): the low-resolution
input is the exact box-average downscale (OpenCV INTER_AREA), i.e. a clean derivative; a
second condition re-encodes that input as JPEG quality 90 (what IIIF image servers send).
Metrics on studio-swing BT.601 Y with ``scale`` border pixels cropped: PSNR-Y and SSIM-Y
(scikit-image, Gaussian window sigma 1.5) of the ONNX model's output (quantised to uint8, as
served), of bicubic (OpenCV INTER_CUBIC) and of Lanczos (OpenCV INTER_LANCZOS4). Latency:
onnxruntime on this CPU, 256x256 tiles (the server's tile size), median of repeated runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import superres_data as data  # noqa: E402

SEED = 0
DEFAULTS = {  # scale -> (steps, batch, LR patch side)
    2: (9000, 16, 48),
    4: (8000, 16, 40),
}
OUTPUT_NAME = "enhanced"  # ONNX output; model.toml maps the role "image" to it
TILE = 256
# fixtures for tests/models/test_superres.py: (file, held-out source, crop rows, crop cols)
FIXTURES = (
    ("heldout_page.png", "page", (0, 96), (0, 192)),
    ("heldout_coffee.jpg", "coffee", (40, 168), (96, 224)),
)


def model_dir(scale: int) -> Path:
    return REPO / "onnx_models" / f"espcn-x{scale}"


def weights_path(scale: int) -> Path:
    return REPO / "build" / "superres" / f"espcn-x{scale}.pt"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- training -----------------------------------------------------------------------------

def train(scale: int, steps: int, batch: int, patch: int, seed: int, lr: float):
    import torch
    from superres_model import ESPCN, n_params

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed)
    t0 = time.time()
    photos, documents = data.training_images()
    sampler = data.PairSampler(photos, documents, scale, patch, seed=seed + 1)
    model = ESPCN(scale)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.05, final_div_factor=100.0)
    print(f"x{scale}: {n_params(model)} parameters, {len(photos)} photos, {len(documents)} "
          f"document images ({time.time() - t0:.1f} s to prepare); {steps} steps of {batch} x "
          f"{patch}x{patch} LR patches", flush=True)
    log, running, t_train = [], 0.0, time.time()
    for step in range(1, steps + 1):
        lr_np, hr_np = sampler.batch(batch)
        x, y = torch.from_numpy(lr_np), torch.from_numpy(hr_np)
        loss = (model(x) - y).abs().mean()  # L1 on luma
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += loss.item()
        if step % 500 == 0 or step == steps:
            n = 500 if step % 500 == 0 else step % 500
            with torch.no_grad():
                base = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic",
                                                       align_corners=False)
                bic = float((base.clamp(0, 1) - y).abs().mean())
            entry = {"step": step, "l1": round(running / n, 5), "l1_bicubic_last_batch":
                     round(bic, 5), "seconds": round(time.time() - t_train, 1)}
            log.append(entry)
            print(json.dumps(entry), flush=True)
            running = 0.0
    seconds = time.time() - t_train
    info = {
        "scale": scale, "seed": seed, "steps": steps, "batch": batch, "lr_patch": patch,
        "hr_patch": patch * scale, "optimizer": f"Adam, one-cycle lr max {lr}",
        "loss": "L1 on luma", "parameters": n_params(model), "arch": model.arch,
        "train_seconds": round(seconds, 1), "torch": torch.__version__, "threads": 1,
        "cpu": platform.processor() or platform.machine(), "log": log,
        "train_photos": list(data.TRAIN_PHOTOS), "train_documents": list(data.TRAIN_DOCUMENTS),
        "train_synthetic_pages": f"{data.N_TRAIN_PAGES} pages, seeds {data.TRAIN_PAGE_SEED0}.."
                                 f"{data.TRAIN_PAGE_SEED0 + data.N_TRAIN_PAGES - 1}",
    }
    path = weights_path(scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "info": info}, path)
    print(f"trained in {seconds / 60:.1f} min -> {path}", flush=True)
    return model, info


def load_weights(scale: int, path: Path):
    import torch
    from superres_model import ESPCN

    saved = torch.load(path, map_location="cpu", weights_only=False)
    info = saved["info"]
    model = ESPCN(scale, **info["arch"])
    model.load_state_dict(saved["state_dict"])
    return model, info


# --- export -------------------------------------------------------------------------------

def export(model, scale: int, out: Path) -> dict:
    import onnxruntime as ort
    import torch
    from superres_model import build_onnx

    model.eval()
    doc = (f"ESPCN-class x{scale} super-resolution trained by annoserver "
           f"scripts/train_superres.py. Input 'image' float32 RGB [N,3,H,W] in [0,1]; output "
           f"'{OUTPUT_NAME}' RGB [N,3,{scale}H,{scale}W] in [0,1]. Machine-enhanced: not the "
           "original image.")
    meta = {"scale": str(scale), "license": "Apache-2.0",
            "source": "annoserver scripts/train_superres.py"}
    proto = build_onnx(model, OUTPUT_NAME, doc, meta)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.onnx"
    path.write_bytes(proto.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    diffs = []
    rng = np.random.default_rng(7)
    for h, w in ((17, 31), (64, 48), (101, 77)):
        x = rng.random((2, 3, h, w), dtype=np.float32)
        got = session.run(None, {"image": x})[0]
        with torch.no_grad():
            want = model.forward_rgb(torch.from_numpy(x)).numpy()
        assert got.shape == (2, 3, h * scale, w * scale), got.shape
        diffs.append(float(np.abs(got - want).max()))
    print(f"exported {path} ({path.stat().st_size} bytes); torch vs onnxruntime max abs diff "
          f"{max(diffs):.2e}", flush=True)
    return {"torch_onnx_max_abs_diff": max(diffs)}


# --- evaluation ---------------------------------------------------------------------------

def upscale(session, lr_rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> model -> uint8 RGB (rounded, as the server serves it)."""
    x = (lr_rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    y = session.run(None, {"image": x})[0][0].transpose(1, 2, 0)
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


def ssim_y(a: np.ndarray, b: np.ndarray, border: int) -> float:
    from skimage.metrics import structural_similarity

    ya, yb = data.y_bt601(a), data.y_bt601(b)
    ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    return float(structural_similarity(ya, yb, data_range=255.0, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False))


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def compare(session, hr: np.ndarray, lr: np.ndarray, scale: int, with_ssim: bool) -> dict:
    size = (hr.shape[1], hr.shape[0])
    outputs = {
        "model": upscale(session, lr),
        "bicubic": cv2.resize(lr, size, interpolation=cv2.INTER_CUBIC),
        "lanczos": cv2.resize(lr, size, interpolation=cv2.INTER_LANCZOS4),
    }
    row = {}
    for method, image in outputs.items():
        row[f"psnr_y_{method}"] = round(data.psnr_y(image, hr, scale), 3)
        if with_ssim:
            row[f"ssim_y_{method}"] = round(ssim_y(image, hr, scale), 4)
    row["gain_vs_bicubic_db"] = round(row["psnr_y_model"] - row["psnr_y_bicubic"], 3)
    row["gain_vs_lanczos_db"] = round(row["psnr_y_model"] - row["psnr_y_lanczos"], 3)
    return row


def mean(rows: list[dict], key: str) -> float:
    return round(float(np.mean([r[key] for r in rows])), 3)


def latency(path: Path, scale: int) -> dict:
    import onnxruntime as ort

    out = {"tile": [TILE, TILE], "output_pixels": (TILE * scale) ** 2,
           "load_average_1min_before": round(os.getloadavg()[0], 2)}
    x = np.random.default_rng(0).random((1, 3, TILE, TILE), dtype=np.float32)
    for threads in (1, 2):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        for _ in range(3):
            session.run(None, {"image": x})
        times = []
        for _ in range(20):
            t = time.perf_counter()
            session.run(None, {"image": x})
            times.append(time.perf_counter() - t)
        med, best = statistics.median(times), min(times)
        out[f"threads_{threads}"] = {  # 1 us per output pixel = 1 s per output megapixel
            "ms_per_tile": round(med * 1e3, 1),
            "us_per_output_pixel": round(med * 1e6 / out["output_pixels"], 3),
            "us_per_output_pixel_best": round(best * 1e6 / out["output_pixels"], 3),
        }
    return out


def save_fixtures(scale: int, out: Path, images: dict) -> list[dict]:
    rows = []
    for name, source, (y0, y1), (x0, x1) in FIXTURES:
        crop = images[source][1][y0:y1, x0:x1]
        assert crop.shape[0] % scale == 0 and crop.shape[1] % scale == 0
        path = out / name
        if name.endswith(".png"):
            grey = crop[:, :, 0] if np.array_equal(crop[:, :, 0], crop[:, :, 2]) else None
            cv2.imwrite(str(path), grey if grey is not None else crop[:, :, ::-1],
                        [cv2.IMWRITE_PNG_COMPRESSION, 9])
        else:
            cv2.imwrite(str(path), crop[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        size = path.stat().st_size
        assert size <= 30_000, (name, size)
        rows.append({"file": name, "source": source, "rows": [y0, y1], "cols": [x0, x1],
                     "bytes": size, "licence": data.SKIMAGE_IMAGES[source][1]})
    return rows


def fixture_gain(session, path: Path, scale: int) -> float:
    """What the test computes: area-downscale the fixture, upscale, PSNR-Y gain over bicubic."""
    hr = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]
    hr = data.crop_to_multiple(np.ascontiguousarray(hr), scale)
    lr = data.downscale_area(hr, scale)
    return compare(session, hr, lr, scale, with_ssim=False)["gain_vs_bicubic_db"]


def evaluate(scale: int, training: dict | None, export_info: dict | None) -> dict:
    import onnxruntime as ort

    out = model_dir(scale)
    path = out / "model.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = data.heldout_images()
    clean, jpeg90 = [], []
    for name, (kind, rgb) in images.items():
        hr = data.crop_to_multiple(rgb, scale)
        lr = data.downscale_area(hr, scale)
        row = {"image": name, "kind": kind, "hr_size": [hr.shape[1], hr.shape[0]],
               **compare(session, hr, lr, scale, with_ssim=True)}
        clean.append(row)
        print(json.dumps(row), flush=True)
        jrow = {"image": name, "kind": kind,
                **compare(session, hr, jpeg(lr, 90), scale, with_ssim=False)}
        jpeg90.append(jrow)
    summary = {}
    for key in ("psnr_y_model", "psnr_y_bicubic", "psnr_y_lanczos", "ssim_y_model",
                "ssim_y_bicubic", "ssim_y_lanczos", "gain_vs_bicubic_db", "gain_vs_lanczos_db"):
        summary[key] = mean(clean, key)
    for kind in ("photo", "document"):
        rows = [r for r in clean if r["kind"] == kind]
        summary[f"gain_vs_bicubic_db_{kind}s"] = mean(rows, "gain_vs_bicubic_db")
        summary[f"gain_vs_lanczos_db_{kind}s"] = mean(rows, "gain_vs_lanczos_db")
    real = [r for r in clean if not r["image"].startswith("synthetic-")]
    summary["gain_vs_bicubic_db_real_images"] = mean(real, "gain_vs_bicubic_db")
    summary["gain_vs_lanczos_db_real_images"] = mean(real, "gain_vs_lanczos_db")
    summary["beats_bicubic"] = f"{sum(r['gain_vs_bicubic_db'] > 0 for r in clean)}/{len(clean)}"
    summary["beats_lanczos"] = f"{sum(r['gain_vs_lanczos_db'] > 0 for r in clean)}/{len(clean)}"
    jsummary = {"gain_vs_bicubic_db": mean(jpeg90, "gain_vs_bicubic_db"),
                "gain_vs_lanczos_db": mean(jpeg90, "gain_vs_lanczos_db")}
    fixtures = save_fixtures(scale, out, images)
    for f in fixtures:
        f["gain_vs_bicubic_db"] = fixture_gain(session, out / f["file"], scale)
    import onnx
    import onnxruntime
    import skimage

    previous = {}
    if (out / "eval.json").exists():
        previous = json.loads((out / "eval.json").read_text())
    result = {
        "model": f"onnx_models/espcn-x{scale}/model.onnx",
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "scale": scale,
        "command": f"python scripts/train_superres.py --scale {scale} --eval (export venv)",
        "versions": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
                     "opencv": cv2.__version__, "scikit-image": skimage.__version__,
                     "numpy": np.__version__},
        "protocol": {
            "heldout": list(data.HELDOUT),
            "degradation": f"HR cropped to a multiple of {scale}; LR = OpenCV INTER_AREA "
                           f"(box average) by {scale}; jpeg90: LR re-encoded as JPEG q90 "
                           "(OpenCV, 4:2:0)",
            "metric": f"BT.601 studio-swing Y, {scale}-pixel border cropped; model output "
                      "rounded to uint8; SSIM: scikit-image, Gaussian sigma 1.5, "
                      "data_range 255",
            "baselines": "OpenCV INTER_CUBIC (bicubic, a=-0.75), INTER_LANCZOS4",
        },
        "per_image": clean,
        "mean": summary,
        "jpeg90_per_image": jpeg90,
        "jpeg90_mean": jsummary,
        "latency": latency(path, scale),
        "fixtures": fixtures,
        "export": export_info or previous.get("export", {}),
        "training": training or previous.get("training", {}),
    }
    (out / "eval.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"mean": summary, "jpeg90_mean": jsummary,
                      "latency": result["latency"]}, indent=1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, choices=sorted(DEFAULTS), default=2)
    parser.add_argument("--steps", type=int, help="training steps (default per scale)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval", action="store_true",
                        help="only re-evaluate the committed model.onnx and rewrite the files")
    parser.add_argument("--weights", type=Path, help="export saved weights instead of training")
    args = parser.parse_args()
    from superres_card import write_card, write_toml

    scale = args.scale
    out = model_dir(scale)
    training = export_info = None
    if not args.eval:
        if args.weights:
            model, training = load_weights(scale, args.weights)
        else:
            steps, batch, patch = DEFAULTS[scale]
            model, training = train(scale, args.steps or steps, batch, patch, args.seed, args.lr)
        export_info = export(model, scale, out)
    result = evaluate(scale, training, export_info)
    write_toml(out, result)
    write_card(out, result)
    print(f"wrote {out}/model.toml and MODEL_CARD.md; sha256 {result['sha256']}")


if __name__ == "__main__":
    main()
