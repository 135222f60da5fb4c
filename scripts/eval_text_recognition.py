"""Evaluate onnx_models/ppocr-rec-v4 (line finding + reading) on rendered English pages.

Nothing here was seen by the model (PaddleOCR trained it elsewhere), so every page is held
out. Pages are drawn with the TrueType faces this machine has (DejaVu and Liberation, via
PIL), 14–34 px text, English words, numbers and punctuation (ASCII only), on tinted paper
with noise, optional blur, a skew of up to ±1.5° and JPEG artefacts.

Metrics: **line recall** — a true line counts as found when a returned line overlaps it at
IoU >= 0.5 (one-to-one, best overlap first); **CER** — Levenshtein edits over all true
characters, a missed line costing its whole length (``cer``) or over found lines only
(``cer_found``); **exact** — found lines read without a single error; **latency** — median
seconds per page through the runtime on this CPU.

    python scripts/eval_text_recognition.py --pages 12 [--write]

``--write`` copies the figures into model.toml ``[quality]`` and eval.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from annoserver.inference import Runtime, get_plugin_manager

REPO = Path(__file__).resolve().parents[1]
MODEL_ID = "ppocr-rec-v4"
MODEL_DIR = REPO / "onnx_models" / MODEL_ID
COMMAND = "python scripts/eval_text_recognition.py --pages 12 --write"
SEED_BASE = 40_000
FONTS = [Path("/usr/share/fonts/truetype/dejavu") / n for n in
         ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf")] + \
        [Path("/usr/share/fonts/truetype/liberation") / n for n in
         ("LiberationSerif-Regular.ttf", "LiberationSans-Regular.ttf",
          "LiberationSerif-Italic.ttf", "LiberationMono-Regular.ttf")]
VOCABULARY = (
    "the of and to in a is that for it as was with be by on not he this are or his from "
    "at which but have an they you were her she there been one all we their has would "
    "when if so no will more what out up said about other into than its time only could "
    "new them man some these then two first may any like now my such make over our even "
    "most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very "
    "library museum archive manuscript printed volume chapter letter catalogue record "
    "collection plate figure engraving portrait parish register county society")
WORDS = tuple(VOCABULARY.split())


def sentence(rng: np.random.Generator, limit: int, font: ImageFont.FreeTypeFont) -> str:
    words: list[str] = []
    while True:
        roll = rng.random()
        word = str(rng.choice(WORDS))
        if roll < 0.08:
            word = str(rng.integers(1, 2000))
        elif roll < 0.2:
            word = word.capitalize()
        if rng.random() < 0.1:
            word += str(rng.choice(list(",.;:)")))
        if font.getlength(" ".join([*words, word])) > limit:
            return " ".join(words) if words else word
        words.append(word)


def render_page(seed: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A page, its line texts and their boxes ``x1, y1, x2, y2`` (after the skew)."""
    rng = np.random.default_rng(seed)
    width = int(rng.integers(900, 1500))
    height = int(width * 1.35)
    faces = [f for f in FONTS if f.is_file()]
    size = int(rng.integers(14, 35))
    font = ImageFont.truetype(str(faces[rng.integers(len(faces))]), size)
    page = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(page)
    margin, y = int(width * 0.08), int(height * 0.06)
    texts, boxes = [], []
    while y + 2 * size < height - margin:
        text = sentence(rng, int((width - 2 * margin) * rng.uniform(0.4, 1.0)), font)
        box = draw.textbbox((margin, y), text, font=font)
        draw.text((margin, y), text, fill=255, font=font)
        texts.append(text)
        boxes.append(box)
        y += int(size * rng.uniform(1.6, 2.4))
    ink = np.asarray(page, np.float32) / 255
    angle = float(rng.uniform(-1.5, 1.5))
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    ink = cv2.warpAffine(ink, rotation, (width, height), flags=cv2.INTER_LINEAR)
    turned = []
    for x1, y1, x2, y2 in boxes:
        corners = np.array([[x1, y1, 1], [x2, y1, 1], [x1, y2, 1], [x2, y2, 1]], np.float64)
        moved = corners @ rotation.T
        turned.append([*moved.min(axis=0), *moved.max(axis=0)])
    paper = np.array([rng.uniform(220, 255), rng.uniform(210, 250), rng.uniform(190, 240)])
    image = paper * (1 - ink[..., None]) + rng.uniform(0, 60) * ink[..., None]
    if rng.random() < 0.4:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.3, 0.9)))
    image = np.clip(image + rng.normal(0, rng.uniform(0, 8), image.shape), 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 95))])
    image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(image), texts, np.array(turned, np.float64)


def edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def score_page(texts: list[str], truth: np.ndarray, found) -> dict:
    """Match found lines to true lines one-to-one (best overlap first) and count edits."""
    boxes = [np.array([b.x, b.y, b.x + b.w, b.y + b.h]) for b in found]
    pairs = sorted(((iou(t, b), i, j) for i, t in enumerate(truth) for j, b in enumerate(boxes)),
                   reverse=True)
    taken_t, taken_f, matched = set(), set(), {}
    for overlap, i, j in pairs:
        if overlap >= 0.5 and i not in taken_t and j not in taken_f:
            taken_t.add(i)
            taken_f.add(j)
            matched[i] = found[j].text
    errors = [edits(matched[i], t) if i in matched else len(t) for i, t in enumerate(texts)]
    return {"lines": len(texts), "found": len(matched), "extra": len(boxes) - len(matched),
            "chars": sum(len(t) for t in texts), "edits": sum(errors),
            "chars_found": sum(len(texts[i]) for i in matched),
            "edits_found": sum(errors[i] for i in matched),
            "exact": sum(errors[i] == 0 for i in matched)}


def evaluate(pages: int) -> dict:
    runtime = Runtime(REPO / "onnx_models", get_plugin_manager(load_entry_points=False),
                      settings={"batching": False, "providers": ["CPUExecutionProvider"]})
    totals: dict[str, int] = {}
    seconds = []
    try:
        for seed in range(SEED_BASE, SEED_BASE + pages):
            image, texts, truth = render_page(seed)
            start = time.perf_counter()
            [found] = runtime.infer(MODEL_ID, [image])
            seconds.append(time.perf_counter() - start)
            page = score_page(texts, truth, found)
            print(f"seed {seed}: {image.shape[1]}x{image.shape[0]} {page}")
            for key, value in page.items():
                totals[key] = totals.get(key, 0) + value
    finally:
        runtime.close()
    return {"eval_pages": pages, "eval_lines": totals["lines"], "eval_chars": totals["chars"],
            "line_recall": round(totals["found"] / totals["lines"], 4),
            "extra_lines": totals["extra"],
            "cer": round(totals["edits"] / totals["chars"], 4),
            "cer_found": round(totals["edits_found"] / totals["chars_found"], 4),
            "exact_line_rate": round(totals["exact"] / max(1, totals["found"]), 4),
            "latency_s_page": round(statistics.median(seconds), 2)}


def write(report: dict) -> None:
    (MODEL_DIR / "eval.json").write_text(json.dumps({"command": COMMAND, **report}, indent=2)
                                         + "\n", "utf-8")
    toml = MODEL_DIR / "model.toml"
    text = toml.read_text("utf-8")
    text = re.sub(r"\n\[quality\]\n.*\Z", "\n", text, flags=re.S).rstrip("\n") + "\n"
    lines = [f'note = "Rendered English pages (DejaVu/Liberation, noise, skew, JPEG), all held '
             f'out. Reproduce: {COMMAND}"']
    lines += [f"{key} = {value}" for key, value in report.items()]
    toml.write_text(text + "\n[quality]\n" + "\n".join(lines) + "\n", "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--write", action="store_true", help="update model.toml and eval.json")
    args = parser.parse_args()
    report = evaluate(args.pages)
    print(json.dumps(report, indent=2))
    if args.write:
        write(report)


if __name__ == "__main__":
    main()
