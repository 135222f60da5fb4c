"""Write model.toml and MODEL_CARD.md of a super-resolution model from its eval.json figures.

Used by ``bench/superres.py --write``, whose measurements (through the server's own enhance
path) are the card's figures, and by ``scripts/train_superres.py`` right after training; the
card's numbers always come from the result it is given, never typed in.
"""

from __future__ import annotations

import json
from pathlib import Path

import superres_data as data

VERSION = "1.0.0"
PY = ".venv-models/bin/python"
OPS = "Conv, Relu, DepthToSpace, Resize, Add, Clip"
DATA_LICENCE = ("CC0 / public domain / BSD-3-Clause (scikit-image samples, listed below); "
                "synthetic pages made here")
VENV = "make .venv-models/.installed   # scripts/requirements-models.txt; never add torchvision"


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def quality(result: dict) -> dict:
    """The [quality] table: measured held-out figures (see eval.json for every number)."""
    m, lat = result["mean"], result["latency"]
    q = {
        "heldout_images": len(result["per_image"]),
        "heldout": ", ".join(data.HELDOUT),
        "psnr_y_gain_vs_bicubic_db": m["gain_vs_bicubic_db"],
        "psnr_y_gain_vs_lanczos_db": m["gain_vs_lanczos_db"],
        "psnr_y_gain_vs_bicubic_db_photos": m["gain_vs_bicubic_db_photos"],
        "psnr_y_gain_vs_bicubic_db_documents": m["gain_vs_bicubic_db_documents"],
        "psnr_y_gain_vs_lanczos_db_photos": m["gain_vs_lanczos_db_photos"],
        "psnr_y_gain_vs_lanczos_db_documents": m["gain_vs_lanczos_db_documents"],
        "psnr_y_gain_vs_bicubic_db_real_images": m["gain_vs_bicubic_db_real_images"],
        "psnr_y_gain_vs_lanczos_db_real_images": m["gain_vs_lanczos_db_real_images"],
        "psnr_y_model_db": m["psnr_y_model"],
        "psnr_y_bicubic_db": m["psnr_y_bicubic"],
        "psnr_y_lanczos_db": m["psnr_y_lanczos"],
        "ssim_y_model": m["ssim_y_model"],
        "ssim_y_bicubic": m["ssim_y_bicubic"],
        "ssim_y_lanczos": m["ssim_y_lanczos"],
        "beats_bicubic": m["beats_bicubic"],
        "beats_lanczos": m["beats_lanczos"],
        "jpeg90_psnr_y_gain_vs_bicubic_db": result["jpeg90_mean"]["gain_vs_bicubic_db"],
        "latency_us_per_output_pixel": lat["threads_2"]["us_per_output_pixel"],
        "latency_us_per_output_pixel_best": lat["threads_2"]["us_per_output_pixel_best"],
        "latency_us_per_output_pixel_1_thread": lat["threads_1"]["us_per_output_pixel"],
        "latency_ms_per_256_tile": lat["threads_2"]["ms_per_tile"],
    }
    for f in result["fixtures"]:
        q["fixture_" + f["file"].split(".")[0] + "_gain_db"] = f["gain_vs_bicubic_db"]
    if result.get("training"):
        q["train_minutes"] = round(result["training"]["train_seconds"] / 60, 1)
    q["note"] = (f"Held-out images never used in training; LR = INTER_AREA downscale by "
                 f"{result['scale']}; PSNR-Y/SSIM-Y (BT.601), border {result['scale']}; "
                 f"latency: onnxruntime, this 2-core CPU, 2 threads. Reproduce: python "
                 f"bench/superres.py --write")
    service = lat.get("service_threads_2")
    if service:
        q["service_s_per_output_megapixel"] = service["s_per_output_megapixel"]
    return q


def _service_latency(result: dict) -> str:
    """The IIIF service path's speed (bench/superres.py measures it), else nothing."""
    lines = []
    for label, lat in (("CPU", result["latency"]), ("GPU", result.get("latency_gpu"))):
        service = (lat or {}).get("service_threads_2")
        if service:
            side = service["input"][0] * result["scale"]
            lines.append(
                f"The IIIF service's path on the {label} (a {service['input'][0]}-px input → "
                f"{side}×{side}, overlapping tiles with context and blending, 2 threads): "
                f"**{service['s_per_output_megapixel']} s per output megapixel** (median; best "
                f"{service['s_per_output_megapixel_best']}).")
    return "\n".join(lines)


def write_toml(out: Path, result: dict) -> None:
    s = result["scale"]
    training = result.get("training") or {}
    seed = training.get("seed", 0)
    lines = [
        'kind = "superres"',
        f'version = "{VERSION}"',
        "description = " + _fmt(
            f"ESPCN-class x{s} super-resolution trained here (luma residual over bicubic, "
            f"{training.get('parameters', '?')} parameters): a machine-enhanced, "
            f"{s}x larger view of a region — never the original image."),
        'license = "Apache-2.0"',
        "source = " + _fmt(
            f"trained in this repository: python scripts/train_superres.py --scale {s} "
            f"(seed {seed}; CPU torch 2.13.0) on scikit-image 0.26.0 sample images "
            "(CC0 / public domain / BSD-3-Clause) and synthetic document pages rendered by "
            "scripts/superres_data.py"),
        f'sha256 = "{result["sha256"]}"',
        "max_batch_size = 1",
        "",
        "[input]",
        "size = [256, 256]",
        'resize = "longest-side"',
        'color = "RGB"',
        "mean = [0.0, 0.0, 0.0]",
        "std = [1.0, 1.0, 1.0]",
        'layout = "NCHW"',
        "",
        "[output]",
        'image = "enhanced"',
        "",
        "[thresholds]",
        "",
        "[options]",
        f"scale = {s}",
        "",
        "[quality]",
    ]
    lines += [f"{k} = {_fmt(v)}" for k, v in quality(result).items()]
    (out / "model.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _table(rows: list[dict], ssim: bool) -> list[str]:
    head = ("| image | kind | HR size | model | bicubic | Lanczos | gain vs bicubic "
            "| gain vs Lanczos |")
    if ssim:
        head += " SSIM model | SSIM bicubic | SSIM Lanczos |"
    out = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in rows:
        size = f"{r['hr_size'][0]}×{r['hr_size'][1]}" if "hr_size" in r else ""
        line = (f"| {r['image']} | {r['kind']} | {size} | {r['psnr_y_model']:.2f} | "
                f"{r['psnr_y_bicubic']:.2f} | {r['psnr_y_lanczos']:.2f} | "
                f"{r['gain_vs_bicubic_db']:+.2f} | {r['gain_vs_lanczos_db']:+.2f} |")
        if ssim:
            line += (f" {r['ssim_y_model']:.4f} | {r['ssim_y_bicubic']:.4f} | "
                     f"{r['ssim_y_lanczos']:.4f} |")
        out.append(line)
    return out


def write_card(out: Path, result: dict) -> None:
    s = result["scale"]
    t = result.get("training") or {}
    m, lat, j = result["mean"], result["latency"], result["jpeg90_mean"]
    params = t.get("parameters", "?")
    arch = t.get("arch", {})
    minutes = round(t.get("train_seconds", 0) / 60, 1)
    licences = "\n".join(
        f"  - `{name}`: {data.SKIMAGE_IMAGES[name][1]}"
        for name in data.TRAIN_PHOTOS + data.TRAIN_DOCUMENTS)
    held = "\n".join(
        f"- `{name}` ({data.SKIMAGE_IMAGES[name][0]}): {data.SKIMAGE_IMAGES[name][1]}"
        for name in data.HELDOUT_PHOTOS + data.HELDOUT_DOCUMENTS)
    pages = "\n".join(
        f"- `{name}` (document, 512×640, seed {seed}, cap height {lo:g}–{hi:g} px, fonts "
        "Hershey Triplex, Triplex italic, Script Complex): rendered here, no third-party content"
        for name, seed, (lo, hi) in data.HELDOUT_PAGES)
    fixtures = "\n".join(
        f"- `{f['file']}` ({f['bytes']} bytes): rows {f['rows'][0]}–{f['rows'][1]}, columns "
        f"{f['cols'][0]}–{f['cols'][1]} of held-out `{f['source']}` ({f['licence']}); "
        f"gain over bicubic {f['gain_vs_bicubic_db']:+.2f} dB"
        for f in result["fixtures"])
    log = t.get("log", [])
    log_line = ", ".join(f"{e['step']}: {e['l1']:.4f}" for e in log[:: max(1, len(log) // 6)])
    text = f"""# ESPCN ×{s} — super-resolution (machine-enhanced views)

A small convolutional network that makes a **{s}× larger, sharper-looking view** of an image
region, trained in this repository on the CPU. Its output is a **machine-enhanced
derivative**: pixels are estimated, not recovered. Label it as such wherever it is shown and
never present it as the original or as a faithful higher-resolution scan.

| | |
| --- | --- |
| file | `model.onnx`, {result['bytes']:,} bytes, {params:,} parameters |
| sha256 | `{result['sha256']}` |
| format | ONNX opset 17, IR version 9; {OPS} only |
| runtime | onnxruntime ≥ 1.17 (same outputs, bit for bit, in 1.17.3 and 1.32.0) |
| input | `image`: float32 RGB [N, 3, H, W] in [0, 1]; N, H, W dynamic (any size) |
| output | `enhanced`: float32 RGB [N, 3, {s}H, {s}W] in [0, 1] (clipped in the graph) |
| model version | {VERSION} |
| license (weights, code) | Apache-2.0 (trained here) |
| license (training data) | {DATA_LICENCE} |

## What it is

ESPCN-class (Shi et al., 2016, sub-pixel convolution), working on **luma only**:
`y = 0.299 R + 0.587 G + 0.114 B`; a 5×5 convolution ({arch.get('c1', '?')} channels), a
3×3 convolution to {arch.get('c', '?')} channels, {arch.get('mid', '?')} more 3×3
convolutions, a 3×3 convolution to {s * s} channels, all at the low resolution, ReLU between
them, then PixelShuffle (DepthToSpace) ×{s}. The result is a luma residual added to the
**bicubic** ×{s} upsampling of the RGB input (ONNX `Resize`, cubic a = −0.75, half-pixel) and
clipped to [0, 1]. Adding the same residual to R, G and B changes only the luma, so colour
(CbCr) is plain bicubic: "super-resolve Y, upsample chroma bicubically", RGB in and RGB out.
The graph is written node by node (`scripts/superres_model.py`), not by a torch exporter.

The graph accepts any size. The IIIF super-resolution service (`/iiif/sr/espcn-x{s}/…`, an
Image API 3 level-2 service over any upstream image service) feeds it the upstream region at
1/{s} of the requested size, in overlapping tiles with context, blended; `/analyze` with this
model answers with an annotation whose `Image` body is that service's URL for the region.
Through the plain runtime (`Runtime.infer`) a region is resized so that its longest side is
256 px (`[input] size = [256, 256]`, `resize = "longest-side"`) and comes back {256 * s} px.
`[options] scale = {s}` gives the factor.

## Intended use

- Enhanced *views* of heritage images for reading and browsing: small derivatives,
  thumbnails, low-resolution legacy scans, zoom levels beyond the upstream's resolution
  (served as a separate IIIF image service, `/iiif/sr/`).
- Always labelled as machine-enhanced, with the model name and version in the annotation's
  provenance. Not for measurement, palaeography, forensic or conservation decisions.
- **Hallucination risk for text**: at low resolution, sharpening can make a blurred letter
  look like a *different*, crisp letter (e.g. c/e, rn/m, 1/l). Transcribe from the original
  pixels, not from the enhanced view. On photographs it can exaggerate noise, JPEG blocks
  and halftone screens.

## Training data and how it was produced

All images are carried by a PyPI package or rendered here (no model hub, no download):

- **Photographs and textures** (scikit-image 0.26.0 bundled samples, as their `skimage.data`
  docstrings state):
{licences}
- **Synthetic document pages**: {data.N_TRAIN_PAGES} pages of 700×900 px, seeds
  {data.TRAIN_PAGE_SEED0}–{data.TRAIN_PAGE_SEED0 + data.N_TRAIN_PAGES - 1}, rendered by
  `scripts/superres_data.py:render_page` with OpenCV `putText` (Hershey Simplex, Plain,
  Duplex, Complex, Complex Small, Script Simplex, Complex italic, Simplex italic; 2×
  supersampled, anti-aliased), cap heights 6–18 px, one or two columns, headings, rules;
  paper tones (cream, yellowed, grey), uneven illumination, stains, grain noise,
  show-through of a mirrored verso, printed monochrome plates cut from the training photos
  `camera`, `chelsea`, `coins`, `moon`; ink black, brown or blue-black; scanner blur.
- **Pairs**: half the crops from documents, half from photos; random {t.get('hr_patch', '?')}-px
  HR crops (preferring crops with structure), flips and transposes, luma only; LR by
  box/area (45 %), antialiased bicubic (Pillow, 30 %), Lanczos (10 %) or Gaussian blur σ =
  0.3–0.6·{s} then area (15 %); Gaussian noise σ 0.5–3 grey levels (25 %); JPEG quality 70–95
  (30 %).
- **Training**: L1 loss on luma, Adam with a one-cycle learning rate (max 2e-3),
  {t.get('steps', '?')} steps of {t.get('batch', '?')} × {t.get('lr_patch', '?')}² LR patches,
  seed {t.get('seed', '?')}, torch {t.get('torch', '?')} on 1 CPU thread: **{minutes} min**.
  L1 by step: {log_line}.

Exact commands (the model-building virtualenv of `make models`):

```
{VENV}
# train, export, evaluate (writes every file of the model folder):
{PY} scripts/train_superres.py --scale {s}
# re-measure the committed model.onnx (this card's figures; the repository's .venv with
# scikit-image==0.26.0): writes eval.json, model.toml and MODEL_CARD.md of both models
.venv/bin/python bench/superres.py --write
```

With the same versions and one thread the training is deterministic on this machine; the
ONNX file is written node by node from the weights, so the same weights give the same bytes.
Another CPU or library version gives slightly different weights (and a different sha256,
which the script writes into model.toml).

## Held-out evaluation

Held out by name, never used in training (no crop, no plate, no font):

{held}
{pages}

Protocol: each image cropped to a multiple of {s}; the low-resolution input is the exact
box-average downscale by {s} (OpenCV `INTER_AREA`, one of the training degradations).
PSNR and SSIM on studio-swing BT.601 Y
with a {s}-pixel border cropped; the model's output is rounded to uint8 as the server serves
it; SSIM is scikit-image's (Gaussian window σ 1.5). Baselines: OpenCV `INTER_CUBIC`
(bicubic) and `INTER_LANCZOS4` (Lanczos). PSNR-Y in dB:

{chr(10).join(_table(result['per_image'], ssim=True))}

**Means**: model {m['psnr_y_model']:.2f} dB, bicubic {m['psnr_y_bicubic']:.2f} dB, Lanczos
{m['psnr_y_lanczos']:.2f} dB: **{m['gain_vs_bicubic_db']:+.2f} dB over bicubic**,
{m['gain_vs_lanczos_db']:+.2f} dB over Lanczos; photographs {m['gain_vs_bicubic_db_photos']:+.2f}
dB, documents {m['gain_vs_bicubic_db_documents']:+.2f} dB over bicubic; on the four real
images alone (no synthetic page) {m['gain_vs_bicubic_db_real_images']:+.2f} dB over bicubic and
{m['gain_vs_lanczos_db_real_images']:+.2f} dB over Lanczos. SSIM-Y
{m['ssim_y_model']:.4f} vs {m['ssim_y_bicubic']:.4f} (bicubic) and {m['ssim_y_lanczos']:.4f}
(Lanczos). Better than bicubic on {m['beats_bicubic']} images, than Lanczos on
{m['beats_lanczos']}.

When the low-resolution input is a JPEG (quality 90, as IIIF servers send derivatives), the
mean gain is {j['gain_vs_bicubic_db']:+.2f} dB over bicubic and {j['gain_vs_lanczos_db']:+.2f}
dB over Lanczos (per image in `eval.json`).

Six images are a small sample: read the figures as an indication, not a benchmark. The two
synthetic held-out pages come from the same renderer as the training pages (other seeds, other
fonts), so they are not an independent test of real print (the book-print page's large gain
says more about the renderer than about books); the real scan `page` is the better guide for
documents, and the real-images mean above the better headline.

**Latency** (onnxruntime {result['versions']['onnxruntime']}, this shared 2-core CPU, 256×256
tile → {256 * s}×{256 * s}): {lat['threads_2']['ms_per_tile']} ms per tile with 2 threads =
**{lat['threads_2']['us_per_output_pixel']} µs per output pixel** (median of 20 runs; = s per
output megapixel), best run {lat['threads_2']['us_per_output_pixel_best']} µs; 1 thread
{lat['threads_1']['us_per_output_pixel']} µs (best {lat['threads_1']['us_per_output_pixel_best']}).
The machine is shared with other work (load average {lat['load_average_1min_before']} before
measuring): expect the best figures on an idle machine and 2–4× the median on a busy one.
{_service_latency(result)}

torch vs onnxruntime, same weights: max abs difference
{result.get('export', {}).get('torch_onnx_max_abs_diff', float('nan')):.1e}.

## Test fixtures

For `tests/models/test_superres.py` (torch-free): crops of held-out images, never trained on.

{fixtures}

The test downsamples each fixture by {s} (area), upscales it with the model and checks the
PSNR-Y gain over bicubic against these measured values.

## Limits

- Trained on a few dozen images: sample photographs, textures, microscopy, astronomy and
  synthetic Hershey-font pages. Real heritage material (manuscripts, engravings, halftone
  prints, maps, colour plates) is under-represented; expect smaller gains there.
- Only the degradations above (area/bicubic/Lanczos downscale, mild blur, light noise,
  JPEG ≥ 70). Heavy JPEG, strong blur, motion blur, moiré or halftone screens are outside
  what it learned; it can sharpen artefacts instead of removing them.
- Colour is bicubic: chroma edges stay as soft as bicubic ones.
- PSNR/SSIM reward fidelity, not perceived sharpness; the model is conservative (no GAN,
  no texture synthesis), so it invents little, but any learned sharpening can turn an
  ambiguous glyph into a wrong one.
- Each input is processed on its own with zero padding at its edges: a large image cut into
  tiles needs overlapping tiles, blended, to avoid seams at tile borders (the receptive
  field is 13 low-resolution pixels: 8 px of context per side is plenty). The IIIF service
  does this (`annoserver/superres/tiling.py`: tiled equals untiled within ±2 grey levels).
"""
    (out / "MODEL_CARD.md").write_text(text, encoding="utf-8")
