"""Super-resolution benchmark: the shipped ESPCN ×2 and ×4 against bicubic and Lanczos, and speed.

    python bench/superres.py [--scales 2,4] [--threads 2] [--write]

Needs scikit-image (its bundled sample images are the held-out photographs; its SSIM):
``pip install scikit-image==0.26.0``. For each shipped model (``onnx_models/espcn-x{s}``):

  (1) quality on the held-out set the model cards name (``scripts/superres_data.py``:
      ``coffee``, ``rocket``, ``astronaut``, ``page`` and two synthetic pages never trained
      on): each image cropped to a multiple of ``s``, downscaled by exact box average
      (OpenCV ``INTER_AREA``), then upscaled by the model — through the server's own path,
      the ``superres`` plugin's :meth:`enhance` with its uint8 rounding — and by OpenCV
      bicubic and Lanczos; PSNR and SSIM (scikit-image, Gaussian σ 1.5) on studio-swing
      BT.601 Y with an ``s``-pixel border cropped, per image; again with the low-resolution
      input re-encoded as JPEG quality 90; and the gain on the two fixture crops
      ``tests/models/test_superres.py`` re-measures;
  (2) speed on this machine's CPU (and the GPU when ONNX Runtime has CUDA): one 256 × 256
      tile through the bare graph (median and best of 20 runs, 1 and ``--threads`` threads),
      and seconds per output megapixel of the IIIF service's path (a 512 × 512 input enhanced
      in overlapping 256-px tiles with context and blending, ``enhance_tiled``).

``--write`` writes ``eval.json`` and, through ``scripts/superres_card.py``, ``model.toml``
and ``MODEL_CARD.md`` of each model from exactly these figures (the training record is kept
from the previous ``eval.json``). The last line is ``ratio: X``: ``10 ** (g / 10)`` where ``g``
is the mean PSNR-Y gain over bicubic (dB) across both models' held-out images, i.e. how many
times smaller the model's luma mean squared error is than bicubic's (> 1: better).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import superres_data as data  # noqa: E402
import train_superres as training  # noqa: E402  (constants and metrics; torch is not imported)

from annoserver.inference import Runtime  # noqa: E402
from annoserver.superres import enhance_tiled  # noqa: E402

Enhance = Callable[[np.ndarray], np.ndarray]
SERVICE_INPUT = 512  # LR side of the service-path timing (a ×2 output of 1 MP)


def enhancer(model_id: str, threads: int, providers: list[str] | None = None) -> Enhance:
    """The server's enhance of a model, in a runtime with ``threads`` intra-op threads."""
    runtime = Runtime(ROOT / "onnx_models", settings={"intra_op_threads": threads,
                                                     "providers": providers})
    return runtime.get(model_id).kind("superres").enhance


def compare(enhance: Enhance, hr: np.ndarray, lr: np.ndarray, scale: int,
            with_ssim: bool) -> dict:
    """PSNR-Y (and SSIM-Y) of the model, bicubic and Lanczos against ``hr``; the gains."""
    size = (hr.shape[1], hr.shape[0])
    outputs = {"model": enhance(lr),
               "bicubic": cv2.resize(lr, size, interpolation=cv2.INTER_CUBIC),
               "lanczos": cv2.resize(lr, size, interpolation=cv2.INTER_LANCZOS4)}
    row = {}
    for method, image in outputs.items():
        row[f"psnr_y_{method}"] = round(data.psnr_y(image, hr, scale), 3)
        if with_ssim:
            row[f"ssim_y_{method}"] = round(training.ssim_y(image, hr, scale), 4)
    row["gain_vs_bicubic_db"] = round(row["psnr_y_model"] - row["psnr_y_bicubic"], 3)
    row["gain_vs_lanczos_db"] = round(row["psnr_y_model"] - row["psnr_y_lanczos"], 3)
    return row


def quality(enhance: Enhance, scale: int) -> dict:
    """Per-image and mean figures on the held-out set, clean and JPEG-90 inputs."""
    clean, jpeg90 = [], []
    for name, (kind, rgb) in data.heldout_images().items():
        hr = np.ascontiguousarray(data.crop_to_multiple(rgb, scale))
        lr = data.downscale_area(hr, scale)
        clean.append({"image": name, "kind": kind, "hr_size": [hr.shape[1], hr.shape[0]],
                      **compare(enhance, hr, lr, scale, with_ssim=True)})
        jpeg90.append({"image": name, "kind": kind,
                       **compare(enhance, hr, training.jpeg(lr, 90), scale, with_ssim=False)})
    return {"per_image": clean, "mean": _summary(clean), "jpeg90_per_image": jpeg90,
            "jpeg90_mean": {key: training.mean(jpeg90, key)
                            for key in ("gain_vs_bicubic_db", "gain_vs_lanczos_db")}}


def _summary(rows: list[dict]) -> dict:
    summary = {key: training.mean(rows, key) for key in (
        "psnr_y_model", "psnr_y_bicubic", "psnr_y_lanczos", "ssim_y_model", "ssim_y_bicubic",
        "ssim_y_lanczos", "gain_vs_bicubic_db", "gain_vs_lanczos_db")}
    groups = {"photos": [r for r in rows if r["kind"] == "photo"],
              "documents": [r for r in rows if r["kind"] == "document"],
              "real_images": [r for r in rows if not r["image"].startswith("synthetic-")]}
    for group, members in groups.items():
        for baseline in ("bicubic", "lanczos"):
            summary[f"gain_vs_{baseline}_db_{group}"] = training.mean(
                members, f"gain_vs_{baseline}_db")
    for baseline in ("bicubic", "lanczos"):
        wins = sum(r[f"gain_vs_{baseline}_db"] > 0 for r in rows)
        summary[f"beats_{baseline}"] = f"{wins}/{len(rows)}"
    return summary


def fixtures(enhance: Enhance, scale: int, folder: Path) -> list[dict]:
    """The fixture crops' gains, measured as ``tests/models/test_superres.py`` does."""
    rows = []
    for name, source, (y0, y1), (x0, x1) in training.FIXTURES:
        hr = cv2.cvtColor(cv2.imread(str(folder / name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        hr = np.ascontiguousarray(data.crop_to_multiple(hr, scale))
        gain = compare(enhance, hr, data.downscale_area(hr, scale), scale, False)
        rows.append({"file": name, "source": source, "rows": [y0, y1], "cols": [x0, x1],
                     "bytes": (folder / name).stat().st_size,
                     "licence": data.SKIMAGE_IMAGES[source][1],
                     "gain_vs_bicubic_db": gain["gain_vs_bicubic_db"]})
    return rows


def _timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and best seconds of ``repeats`` runs, after warm-up runs."""
    for _ in range(2):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def speed(model_id: str, scale: int, threads: int, providers: list[str] | None) -> dict:
    """Bare 256-px tile latency and the service path's seconds per output megapixel."""
    tile = training.TILE
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (tile, tile, 3), np.uint8)
    big = cv2.resize(data.skimage_image("astronaut"), (SERVICE_INPUT, SERVICE_INPUT),
                     interpolation=cv2.INTER_AREA)
    out = {"tile": [tile, tile], "output_pixels": (tile * scale) ** 2,
           "load_average_1min_before": round(os.getloadavg()[0], 2),
           "providers": providers}
    for count in sorted({1, threads}):
        enhance = enhancer(model_id, count, providers)
        median, best = _timed(lambda: enhance(image), 20)  # noqa: B023 - used at once
        # 1 µs per output pixel = 1 s per output megapixel
        out[f"threads_{count}"] = {
            "ms_per_tile": round(median * 1e3, 1),
            "us_per_output_pixel": round(median * 1e6 / out["output_pixels"], 3),
            "us_per_output_pixel_best": round(best * 1e6 / out["output_pixels"], 3)}
        median, best = _timed(lambda: enhance_tiled(big, enhance, scale), 5)  # noqa: B023
        megapixels = (SERVICE_INPUT * scale) ** 2 / 1e6
        out[f"service_threads_{count}"] = {
            "input": [SERVICE_INPUT, SERVICE_INPUT],
            "s_per_output_megapixel": round(median / megapixels, 3),
            "s_per_output_megapixel_best": round(best / megapixels, 3)}
    return out


def evaluate(scale: int, threads: int) -> dict:
    """Every figure of one model, in the shape ``scripts/superres_card.py`` renders."""
    import onnx
    import skimage

    folder = ROOT / "onnx_models" / f"espcn-x{scale}"
    model_id = folder.name
    previous = json.loads((folder / "eval.json").read_text()) if (
        folder / "eval.json").exists() else {}
    enhance = enhancer(model_id, threads)
    result = {
        "model": f"onnx_models/{model_id}/model.onnx",
        "sha256": training.sha256_file(folder / "model.onnx"),
        "bytes": (folder / "model.onnx").stat().st_size, "scale": scale,
        "command": "python bench/superres.py --write",
        "versions": {"onnxruntime": ort.__version__, "onnx": onnx.__version__,
                     "opencv": cv2.__version__, "scikit-image": skimage.__version__,
                     "numpy": np.__version__},
        "protocol": {
            "heldout": list(data.HELDOUT),
            "degradation": f"HR cropped to a multiple of {scale}; LR = OpenCV INTER_AREA "
                           f"(box average) by {scale}; jpeg90: LR re-encoded as JPEG q90 "
                           "(OpenCV, 4:2:0)",
            "metric": f"BT.601 studio-swing Y, {scale}-pixel border cropped; model output "
                      "as the server serves it (the superres plugin's enhance, uint8); SSIM: "
                      "scikit-image, Gaussian sigma 1.5, data_range 255",
            "baselines": "OpenCV INTER_CUBIC (bicubic, a=-0.75), INTER_LANCZOS4"},
        **quality(enhance, scale),
        "latency": speed(model_id, scale, threads, ["CPUExecutionProvider"]),
        "fixtures": fixtures(enhance, scale, folder),
        "export": previous.get("export", {}),
        "training": previous.get("training", {}),
    }
    if "CUDAExecutionProvider" in ort.get_available_providers():
        result["latency_gpu"] = speed(model_id, scale, threads, ["CUDAExecutionProvider"])
    return result


def report(result: dict) -> None:
    """Print one model's figures: a table per image, means, speed."""
    s = result["scale"]
    print(f"\n== espcn-x{s} (sha256 {result['sha256'][:12]}...) — PSNR-Y dB / SSIM-Y")
    print(f"{'image':28} {'model':>7} {'bicubic':>8} {'Lanczos':>8} {'gain':>7} "
          f"{'SSIM m':>7} {'SSIM b':>7} {'SSIM L':>7} {'jpeg90 gain':>12}")
    for row, jrow in zip(result["per_image"], result["jpeg90_per_image"], strict=True):
        print(f"{row['image']:28} {row['psnr_y_model']:7.2f} {row['psnr_y_bicubic']:8.2f} "
              f"{row['psnr_y_lanczos']:8.2f} {row['gain_vs_bicubic_db']:+7.2f} "
              f"{row['ssim_y_model']:7.4f} {row['ssim_y_bicubic']:7.4f} "
              f"{row['ssim_y_lanczos']:7.4f} {jrow['gain_vs_bicubic_db']:+12.2f}")
    m = result["mean"]
    print(f"mean: model {m['psnr_y_model']:.2f}, bicubic {m['psnr_y_bicubic']:.2f}, Lanczos "
          f"{m['psnr_y_lanczos']:.2f} dB; gain {m['gain_vs_bicubic_db']:+.3f} dB vs bicubic, "
          f"{m['gain_vs_lanczos_db']:+.3f} vs Lanczos; real images "
          f"{m['gain_vs_bicubic_db_real_images']:+.3f}; beats bicubic {m['beats_bicubic']}, "
          f"Lanczos {m['beats_lanczos']}; "
          f"jpeg90 {result['jpeg90_mean']['gain_vs_bicubic_db']:+.3f}")
    for f in result["fixtures"]:
        print(f"fixture {f['file']}: {f['gain_vs_bicubic_db']:+.3f} dB vs bicubic")
    for label, latency in (("CPU", result["latency"]), ("GPU", result.get("latency_gpu"))):
        if latency is None:
            continue
        for key, value in latency.items():
            if key.startswith(("threads_", "service_")):
                print(f"{label} {key}: {json.dumps(value)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="2,4", help="models to measure (default 2,4)")
    parser.add_argument("--threads", type=int, default=2,
                        help="ONNX Runtime intra-op threads (and 1); default 2")
    parser.add_argument("--write", action="store_true",
                        help="write eval.json, model.toml and MODEL_CARD.md of each model")
    args = parser.parse_args()
    from superres_card import write_card, write_toml

    gains = []
    for scale in (int(s) for s in args.scales.split(",")):
        result = evaluate(scale, args.threads)
        report(result)
        gains += [row["gain_vs_bicubic_db"] for row in result["per_image"]]
        if args.write:
            folder = ROOT / "onnx_models" / f"espcn-x{scale}"
            (folder / "eval.json").write_text(json.dumps(result, indent=1) + "\n")
            write_toml(folder, result)
            write_card(folder, result)
            print(f"wrote {folder}/eval.json, model.toml, MODEL_CARD.md")
    print(f"mean PSNR-Y gain over bicubic: {float(np.mean(gains)):+.3f} dB over "
          f"{len(gains)} image x model pairs")
    print(f"ratio: {10 ** (float(np.mean(gains)) / 10):.3f}")


if __name__ == "__main__":
    main()
