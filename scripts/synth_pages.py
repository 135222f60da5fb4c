"""Synthetic printed pages set in the machine's TrueType fonts, optionally with pictures.

Used by ``scripts/synth_watermarks.py`` (clean pages with ordinary printed text are the
negatives that stop the watermark classifier from learning "text present") and by
``scripts/train_illustrations.py`` (pages with pictures, and their boxes). Needs numpy,
OpenCV and Pillow; torch-free.

Fonts come from ``fc-list`` (DejaVu and Liberation on this machine). Whole font families are
held out (``HELDOUT_FAMILIES``) so evaluation pages are set in type the training never saw.
A page: paper tone with uneven light and grain, one or two columns of pseudo-English text
(English letter frequencies, no real content), headings, page number, and printed pictures
(with a caption) pasted from the images it is given. ``render_page`` returns the picture
boxes too, in page pixels.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# whole families never used for training (file-name prefixes)
HELDOUT_FAMILIES = ("LiberationSerif", "LiberationSansNarrow", "DejaVuSansMono")
_EXCLUDED = ("DejaVuMathTeXGyre",)  # symbols, not text

LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
_FREQ = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4,
                  2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])
_FREQ = _FREQ / _FREQ.sum()


@cache
def font_files() -> tuple[Path, ...]:
    """Every TrueType text font ``fc-list`` knows, sorted by file name (deterministic)."""
    out = subprocess.run(["fc-list", ":fontformat=TrueType", "file"], capture_output=True,
                         text=True, check=True).stdout
    paths = {Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip()}
    return tuple(sorted((p for p in paths if not p.name.startswith(_EXCLUDED)),
                        key=lambda p: p.name))


def split_fonts() -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(training fonts, held-out fonts) by family."""
    held = tuple(p for p in font_files() if p.name.startswith(HELDOUT_FAMILIES))
    train = tuple(p for p in font_files() if p not in held)
    if not train or not held:
        raise RuntimeError("need DejaVu and Liberation fonts (fonts-dejavu, fonts-liberation)")
    return train, held


@cache
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def word(rng: np.random.Generator) -> str:
    """A pseudo-English word (English letter frequencies), sometimes capitalised or a number."""
    n = int(rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8, 9, 10]))
    text = "".join(rng.choice(list(LETTERS), size=n, p=_FREQ))
    roll = rng.random()
    if roll < 0.12:
        text = text.capitalize()
    elif roll < 0.14:
        text = text.upper()
    elif roll < 0.17:
        text = str(int(rng.integers(1, 2000)))
    if rng.random() < 0.1:
        text += str(rng.choice(list(".,;:")))
    return text


def words(rng: np.random.Generator, n: int) -> str:
    return " ".join(word(rng) for _ in range(n))


def paper(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Paper background, float32 RGB 0..255: tone, low-frequency light, grain."""
    tone = np.sort(rng.uniform([215, 200, 165], [255, 248, 240]))[::-1]
    if rng.random() < 0.3:
        tone = np.full(3, rng.uniform(205, 252))
    page = np.ones((height, width, 3), np.float32) * tone.astype(np.float32)
    light = cv2.resize(rng.normal(0, 1, (4, 3)).astype(np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    page += light[:, :, None] * rng.uniform(2, 12)
    page += rng.normal(0, rng.uniform(1, 5), (height, width, 1)).astype(np.float32)
    return page


def line_drawing(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An engraving-like black-and-white rendering of a photograph (adaptive threshold)."""
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (0, 0), 1.0)
    block = int(rng.choice([9, 15, 21, 31]))
    ink = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block,
                                float(rng.uniform(2, 10)))
    return np.repeat(ink[:, :, None], 3, axis=2)


def _picture(rng, pictures, width, height, drawings):
    src = pictures[int(rng.integers(len(pictures)))]
    h, w = src.shape[:2]
    side = rng.uniform(0.5, 1.0)
    ch, cw = max(16, int(h * side)), max(16, int(w * side))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = src[y:y + ch, x:x + cw]
    if drawings and rng.random() < 0.35:
        return line_drawing(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA), rng)
    if rng.random() < 0.4:  # halftone-era plates are often monochrome
        crop = np.repeat(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


def render_page(rng: np.random.Generator, fonts: tuple[Path, ...], height: int = 1100,
                width: int = 800, pictures: tuple[np.ndarray, ...] = (),
                picture_rate: float = 0.0, drawings: bool = False
                ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A printed page (uint8 RGB) and its picture boxes (x1, y1, x2, y2).

    ``picture_rate`` is the chance that a block of the page is a picture from ``pictures``;
    with ``drawings``, some pictures are printed as line drawings (``line_drawing``).
    """
    body = fonts[int(rng.integers(len(fonts)))]
    head = fonts[int(rng.integers(len(fonts)))]
    size = int(rng.uniform(0.011, 0.024) * height)
    ink = rng.uniform(0, 70, 3) if rng.random() < 0.8 else np.array([90.0, 40, 30])
    ink_alpha = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(ink_alpha)
    page = paper(rng, height, width)
    boxes: list[tuple[int, int, int, int]] = []
    mx, my = int(rng.uniform(0.05, 0.12) * width), int(rng.uniform(0.04, 0.09) * height)
    columns = 2 if rng.random() < 0.35 else 1
    gutter = int(0.04 * width)
    col_w = (width - 2 * mx - (columns - 1) * gutter) // columns
    lead = int(size * rng.uniform(1.2, 1.6))
    f = font(body, size)
    for c in range(columns):
        x0, y = mx + c * (col_w + gutter), my
        if c == 0 and rng.random() < 0.6:  # heading
            hs = int(size * rng.uniform(1.4, 2.6))
            draw.text((x0, y), words(rng, int(rng.integers(1, 5))).title(), fill=255,
                      font=font(head, hs))
            y += int(hs * 1.8)
        while y < height - my - lead:
            if pictures and rng.random() < picture_rate and height - my - y > 0.2 * height:
                ph = int(rng.uniform(0.15, 0.45) * height)
                ph = min(ph, height - my - y - 2 * lead)
                pw = int(col_w * rng.uniform(0.5, 1.0))
                px = x0 + int(rng.integers(0, col_w - pw + 1))
                page[y:y + ph, px:px + pw] = _picture(rng, pictures, pw, ph, drawings)
                boxes.append((px, y, px + pw, y + ph))
                y += ph + lead // 2
                draw.text((px, y), words(rng, int(rng.integers(2, 7))).capitalize(),
                          fill=255, font=font(body, max(8, int(size * 0.85))))
                y += 2 * lead
                continue
            n_lines = int(rng.integers(3, 14))
            indent = int(size * rng.uniform(0, 2.5))
            for i in range(n_lines):
                if y >= height - my - lead:
                    break
                line, x = "", x0 + (indent if i == 0 else 0)
                limit = col_w - (indent if i == 0 else 0)
                if i == n_lines - 1:
                    limit = int(limit * rng.uniform(0.2, 0.9))
                while True:
                    candidate = (line + " " + word(rng)).strip()
                    if f.getlength(candidate) > limit:
                        break
                    line = candidate
                draw.text((x, y), line, fill=255, font=f)
                y += lead
            y += int(lead * rng.uniform(0.3, 1.2))
    if rng.random() < 0.7:
        draw.text((width // 2, height - my // 2), str(int(rng.integers(1, 600))), fill=255,
                  font=f, anchor="mm")
    alpha = np.asarray(ink_alpha, np.float32)[:, :, None] / 255.0
    alpha *= rng.uniform(0.75, 1.0)
    page = page * (1 - alpha) + ink.astype(np.float32) * alpha
    page = np.clip(page, 0, 255).astype(np.uint8)
    angle = rng.normal(0, 0.6)  # scan skew
    if abs(angle) > 0.05:
        m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        page = cv2.warpAffine(page, m, (width, height), borderMode=cv2.BORDER_REPLICATE)
        boxes = [_rotate_box(b, m) for b in boxes]
    return page, boxes


def _rotate_box(box, m):
    x1, y1, x2, y2 = box
    pts = np.array([[x1, y1, 1], [x2, y1, 1], [x1, y2, 1], [x2, y2, 1]], np.float64) @ m.T
    return (int(pts[:, 0].min()), int(pts[:, 1].min()), int(pts[:, 0].max()),
            int(pts[:, 1].max()))
