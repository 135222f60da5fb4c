"""Synthetic watermarked / clean image pairs for the watermark classifier.

Used by ``scripts/train_watermark.py``. Needs numpy, OpenCV, Pillow and scikit-image;
torch-free.

Every sample is a *pair* made from one base crop: the clean crop and the same crop with one
watermark, both put through the same degradation (JPEG, blur, noise, greyscale) and stretched
to 224 x 224 as the server does. Pairs make the only difference between the classes the mark
itself, so the network cannot learn "photos are clean" or "pages are clean".

Base images (``BaseImages``): scikit-image's bundled sample photographs (split by name, as in
``scripts/superres_data.py``), synthetic pages in OpenCV's Hershey fonts
(``superres_data.render_page``) and in TrueType fonts (``synth_pages.render_page``, some
with printed pictures) -- clean pages with ordinary text are negatives -- and procedural
textures. The held-out split uses other photographs, other page seeds, held-out Hershey
fonts and held-out TrueType families. Training alone adds variety the other splits do not
get: three photographs from scikit-learn and matplotlib (``EXTRA_TRAIN_PHOTOS``) and
zoomed-in page crops (large clean type).

Watermark styles (``STYLES``): centred stock-photo text, tiled diagonal text, round
institutional stamps, rectangular stamps, logos, corner marks, banners, embossed text and a
stock-photo line grid, with varied opacity, size, position, angle, font and colour.
Training also draws ``EXTRA_TRAIN_STYLES`` (oval / double-ring stamps, irregular symbols,
stripes and hatching, multi-line notices, signatures) for variety; validation and the
seen-styles test keep to ``TRAIN_STYLES``. ``HELDOUT_STYLES`` (rectangular stamps and logos)
never appear in training.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import superres_data
import synth_pages
from PIL import Image, ImageDraw
from synth_pages import font, word

SIZE = 224
TRAIN_STYLES = ("centre_text", "tiled_diagonal", "round_stamp", "corner_mark", "banner",
                "emboss", "stock_grid")
# Training-only extra styles (variety); the validation split and the seen-styles test keep to
# TRAIN_STYLES, so their figures stay comparable across recipes.
EXTRA_TRAIN_STYLES = ("oval_stamp", "shape_mark", "hatch", "text_block", "signature")
HELDOUT_STYLES = ("rect_stamp", "logo")
# Validation-only styles: how a recipe copes with styles it never saw, without the test's.
VAL_STYLES = ("seal", "monogram")
STYLES = TRAIN_STYLES + EXTRA_TRAIN_STYLES + HELDOUT_STYLES + VAL_STYLES

BRANDS = ("stock", "photo", "images", "archive", "library", "museum", "collection", "studio",
          "press", "pictures", "agency", "gallery", "media", "foto", "bild", "depot", "shot")
MARKS = ("SAMPLE", "PREVIEW", "PROOF", "COPY", "DRAFT", "WATERMARK", "COPYRIGHT", "SPECIMEN",
         "DO NOT COPY", "CONFIDENTIAL", "ARCHIVE COPY", "NOT FOR SALE")
INKS = ((185, 30, 35), (30, 50, 160), (100, 40, 140), (25, 25, 25), (20, 110, 60),
        (150, 60, 20))


# --- watermark text ----------------------------------------------------------------------

def brand(rng: np.random.Generator) -> str:
    """A stock-agency / institution-like name: a pseudo-word plus a brand word."""
    name = word(rng).strip(".,;:").capitalize() or "Foto"
    roll = rng.random()
    if roll < 0.3:
        return f"{name}{rng.choice(BRANDS)}".lower() + str(rng.choice([".com", ".net", ""]))
    if roll < 0.55:
        return f"{name} {str(rng.choice(BRANDS)).capitalize()}"
    if roll < 0.75:
        return f"\u00a9 {name} {int(rng.integers(1950, 2030))}"
    if roll < 0.9:
        return str(rng.choice(MARKS))
    return name.upper()


def text_layer(rng, fonts, text: str, height_px: int, stroke: int = 0) -> np.ndarray:
    """``text`` rendered as a float32 alpha mask in [0, 1], cropped to its ink."""
    f = font(fonts[int(rng.integers(len(fonts)))], max(6, int(height_px)))
    left, top, right, bottom = f.getbbox(text, stroke_width=stroke)
    im = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(im).text((2 - left, 2 - top), text, fill=255, font=f, stroke_width=stroke,
                            stroke_fill=255 if stroke else None)
    return np.asarray(im, np.float32) / 255.0


def rotate(mask: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a mask about its centre, growing the canvas so nothing is cut."""
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos) + 2, int(h * cos + w * sin) + 2
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR)


def paste(canvas: np.ndarray, mask: np.ndarray, cx: float, cy: float) -> None:
    """Max-combine ``mask`` into ``canvas`` centred at (cx, cy), clipped at the edges."""
    h, w = mask.shape
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    H, W = canvas.shape
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    region = mask[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    np.maximum(canvas[ay0:ay1, ax0:ax1], region, out=canvas[ay0:ay1, ax0:ax1])


def fit(mask: np.ndarray, max_w: float, max_h: float) -> np.ndarray:
    h, w = mask.shape
    s = min(1.0, max_w / w, max_h / h)
    if s >= 1.0:
        return mask
    return cv2.resize(mask, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)


# --- styles: each returns (alpha mask HxW in [0, 1], colour RGB, blend mode) ------------------

def light_or_dark(rng) -> tuple[int, int, int]:
    roll = rng.random()
    if roll < 0.45:
        return (255, 255, 255)
    if roll < 0.75:
        return (0, 0, 0)
    if roll < 0.88:
        g = int(rng.integers(90, 200))
        return (g, g, g)
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def centre_text(rng, fonts, h, w):
    mask = np.zeros((h, w), np.float32)
    text = brand(rng)
    layer = text_layer(rng, fonts, text, rng.uniform(0.06, 0.22) * min(h, w) * 1.3,
                       stroke=int(rng.random() < 0.25) * 2)
    layer = fit(rotate(layer, rng.uniform(-40, 40) if rng.random() < 0.5 else 0), 0.95 * w, 0.9 * h)
    paste(mask, layer, w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7))
    return mask, light_or_dark(rng), "normal", rng.uniform(0.2, 0.75)


def tiled_diagonal(rng, fonts, h, w):
    text = brand(rng)
    layer = text_layer(rng, fonts, text, rng.uniform(0.035, 0.09) * min(h, w) * 1.3)
    angle = rng.uniform(20, 50) * rng.choice([-1, 1])
    d = int(math.hypot(h, w)) + 2
    big = np.zeros((d, d), np.float32)
    step_x = layer.shape[1] * rng.uniform(1.2, 2.2)
    step_y = layer.shape[0] * rng.uniform(2.0, 5.0)
    for row, y in enumerate(np.arange(0, d, step_y)):
        shift = (row % 2) * step_x / 2
        for x in np.arange(-step_x, d + step_x, step_x):
            paste(big, layer, x + shift, y)
    big = rotate(big, angle)
    bh, bw = big.shape
    mask = big[(bh - h) // 2:(bh - h) // 2 + h, (bw - w) // 2:(bw - w) // 2 + w]
    return np.ascontiguousarray(mask), light_or_dark(rng), "normal", rng.uniform(0.12, 0.45)


def ink_texture(rng, mask):
    """Uneven stamp ink: multiplicative blotchy noise."""
    h, w = mask.shape
    noise = cv2.resize(rng.uniform(0.35, 1.0, (max(2, h // 6), max(2, w // 6))).astype(np.float32),
                       (w, h), interpolation=cv2.INTER_LINEAR)
    return mask * np.clip(noise * rng.uniform(1.0, 1.6), 0, 1)


def round_stamp(rng, fonts, h, w):
    r = int(rng.uniform(0.12, 0.3) * min(h, w))
    side = 2 * r + 8
    im = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(im)
    c = side / 2
    lw = max(1, r // 25)
    draw.ellipse((c - r, c - r, c + r, c + r), outline=255, width=lw + 1)
    inner = r * rng.uniform(0.62, 0.75)
    if rng.random() < 0.8:
        draw.ellipse((c - inner, c - inner, c + inner, c + inner), outline=255, width=lw)
    text = (brand(rng) + " * " + word(rng)).upper()
    f = font(fonts[int(rng.integers(len(fonts)))], max(6, int((r - inner) * 0.6)))
    ring = (r + inner) / 2
    start = rng.uniform(0, 360)
    span = min(340.0, len(text) * (r - inner) * 0.62 / ring * 180 / math.pi)
    for i, ch in enumerate(text):
        a = math.radians(start + span * i / max(1, len(text) - 1))
        glyph = Image.new("L", (f.size * 2, f.size * 2), 0)
        ImageDraw.Draw(glyph).text((f.size, f.size), ch, fill=255, font=f, anchor="mm")
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.BILINEAR)
        gx, gy = c + ring * math.cos(a) - f.size, c + ring * math.sin(a) - f.size
        im.paste(255, (int(gx), int(gy)), glyph)
    centre = str(rng.choice([word(rng).upper(), str(int(rng.integers(1, 2030))), "*", "LIB"]))
    f2 = font(fonts[int(rng.integers(len(fonts)))], max(6, int(inner * 0.45)))
    draw.text((c, c), centre, fill=255, font=f2, anchor="mm")
    mask = ink_texture(rng, np.asarray(im, np.float32) / 255.0)
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, rotate(mask, rng.uniform(-30, 30)), rng.uniform(r, max(r + 1, w - r)),
          rng.uniform(r, max(r + 1, h - r)))
    return canvas, INKS[int(rng.integers(len(INKS)))], "multiply", rng.uniform(0.4, 0.95)


def rect_stamp(rng, fonts, h, w):
    lines = [brand(rng).upper() for _ in range(int(rng.integers(1, 4)))]
    size = rng.uniform(0.03, 0.07) * min(h, w) * 1.3
    layers = [text_layer(rng, fonts, t, size) for t in lines]
    tw = max(la.shape[1] for la in layers)
    pad = int(size * 0.5)
    th = sum(la.shape[0] for la in layers) + pad * (len(layers) + 1)
    box = np.zeros((th, tw + 2 * pad), np.float32)
    y = pad
    for la in layers:
        box[y:y + la.shape[0], pad:pad + la.shape[1]] = la
        y += la.shape[0] + pad
    lw = max(1, int(size / 8))
    cv2.rectangle(box, (0, 0), (box.shape[1] - 1, box.shape[0] - 1), 1.0, lw)
    if rng.random() < 0.5:
        cv2.rectangle(box, (2 * lw, 2 * lw), (box.shape[1] - 1 - 2 * lw, box.shape[0] - 1 - 2 * lw),
                      1.0, max(1, lw // 2))
    box = fit(rotate(ink_texture(rng, box), rng.uniform(-25, 25)), 0.8 * w, 0.6 * h)
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, box, rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h)
    return canvas, INKS[int(rng.integers(len(INKS)))], "multiply", rng.uniform(0.4, 0.95)


def logo(rng, fonts, h, w):
    s = int(rng.uniform(0.08, 0.25) * min(h, w))
    sym = np.zeros((s, s), np.float32)
    c, r = s // 2, s // 2 - 2
    kind = int(rng.integers(4))
    thick = -1 if rng.random() < 0.5 else max(1, s // 12)
    if kind == 0:
        cv2.circle(sym, (c, c), r, 1.0, thick)
    elif kind == 1:
        pts = np.array([[c, 2], [s - 2, s - 2], [2, s - 2]], np.int32)
        cv2.fillPoly(sym, [pts], 1.0) if thick < 0 else cv2.polylines(sym, [pts], True, 1.0, thick)
    elif kind == 2:
        n = int(rng.integers(5, 9))
        t = 2 * math.pi * np.arange(n) / n
        pts = np.stack([c + r * np.cos(t), c + r * np.sin(t)], axis=1).astype(np.int32)
        cv2.fillPoly(sym, [pts], 1.0) if thick < 0 else cv2.polylines(sym, [pts], True, 1.0, thick)
    else:
        cv2.rectangle(sym, (2, 2), (s - 3, s - 3), 1.0, thick)
    letter = text_layer(rng, fonts, word(rng)[:2].upper() or "A", s * 0.5)
    letter = fit(letter, s * 0.7, s * 0.7)
    lh, lw = letter.shape
    y0, x0 = (s - lh) // 2, (s - lw) // 2
    part = sym[y0:y0 + lh, x0:x0 + lw]
    sym[y0:y0 + lh, x0:x0 + lw] = np.abs(part - letter) if thick < 0 else np.maximum(part, letter)
    if rng.random() < 0.6:
        name = text_layer(rng, fonts, brand(rng), s * 0.45)
        gap = s // 6
        full = np.zeros((max(s, name.shape[0]), s + gap + name.shape[1]), np.float32)
        full[:s, :s] = sym
        full[(full.shape[0] - name.shape[0]) // 2:][:name.shape[0], s + gap:] = name
        sym = full
    sym = fit(sym, 0.9 * w, 0.9 * h)
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, sym, rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.25, 0.8)


def corner_mark(rng, fonts, h, w):
    layer = fit(text_layer(rng, fonts, brand(rng), rng.uniform(0.03, 0.07) * h * 1.3,
                           stroke=int(rng.random() < 0.2)), 0.6 * w, 0.2 * h)
    lh, lw = layer.shape
    m = rng.uniform(0.01, 0.05) * min(h, w)
    cx = m + lw / 2 if rng.random() < 0.5 else w - m - lw / 2
    cy = m + lh / 2 if rng.random() < 0.35 else h - m - lh / 2
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, layer, cx, cy)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.45, 0.95)


def banner(rng, fonts, h, w):
    band_h = int(rng.uniform(0.07, 0.16) * h)
    y = int(rng.choice([rng.uniform(0, 0.05), rng.uniform(0.4, 0.5), rng.uniform(0.82, 0.9)]) * h)
    canvas = np.zeros((h, w), np.float32)
    canvas[y:y + band_h] = rng.uniform(0.35, 0.6)
    layer = fit(text_layer(rng, fonts, brand(rng), band_h * 0.6), 0.9 * w, band_h * 0.8)
    paste(canvas, layer, w * rng.uniform(0.3, 0.7), y + band_h / 2)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.6, 1.0)


def emboss(rng, fonts, h, w):
    mask, _, _, _ = centre_text(rng, fonts, h, w)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.6, 0.004 * min(h, w)))
    k = max(1, int(0.004 * min(h, w)))
    relief = np.roll(mask, (k, k), axis=(0, 1)) - mask
    return relief, (255, 255, 255), "emboss", rng.uniform(0.35, 0.8)


def stock_grid(rng, fonts, h, w):
    canvas = np.zeros((h, w), np.float32)
    step = int(rng.uniform(0.15, 0.35) * min(h, w))
    lw = max(1, int(0.004 * min(h, w)))
    for off in range(-h, w + h, step):
        cv2.line(canvas, (off, 0), (off + h, h), 1.0, lw)
        if rng.random() < 0.9:
            cv2.line(canvas, (off + h, 0), (off, h), 1.0, lw)
    layer = text_layer(rng, fonts, brand(rng), step * 0.22)
    for y in range(step // 2, h, step):
        for x in range(0, w, step):
            paste(canvas, layer, x, y)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.15, 0.45)


# --- extra training-only styles: variety so the network learns "an overlay" rather than seven
# particular styles. None is a rectangle or a regular-polygon/circle logo (the held-out styles).

def _ring_text(im: Image.Image, rng, fonts, cx, cy, rx, ry, size, text) -> None:
    """``text`` drawn glyph by glyph along an ellipse (radii rx, ry) centred at (cx, cy)."""
    f = font(fonts[int(rng.integers(len(fonts)))], max(6, int(size)))
    start = rng.uniform(0, 360)
    span = min(340.0, len(text) * size * 0.75 / max(1.0, (rx + ry) / 2) * 180 / math.pi)
    for i, ch in enumerate(text):
        a = math.radians(start + span * i / max(1, len(text) - 1))
        glyph = Image.new("L", (f.size * 2, f.size * 2), 0)
        ImageDraw.Draw(glyph).text((f.size, f.size), ch, fill=255, font=f, anchor="mm")
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.BILINEAR)
        im.paste(255, (int(cx + rx * math.cos(a) - f.size), int(cy + ry * math.sin(a) - f.size)),
                 glyph)


def oval_stamp(rng, fonts, h, w):
    """Elliptical or double-ring stamp: ring text and/or horizontal lines of text inside."""
    ry = rng.uniform(0.1, 0.26) * min(h, w)
    rx = ry * rng.uniform(1.2, 2.0) if rng.random() < 0.7 else ry
    W, H = int(2 * rx + 10), int(2 * ry + 10)
    im = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(im)
    cx, cy = W / 2, H / 2
    lw = max(1, int(ry / 22))
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), outline=255, width=lw + 1)
    k = rng.uniform(0.6, 0.8)
    if rng.random() < 0.7:
        draw.ellipse((cx - rx * k, cy - ry * k, cx + rx * k, cy + ry * k), outline=255, width=lw)
        _ring_text(im, rng, fonts, cx, cy, rx * (1 + k) / 2, ry * (1 + k) / 2,
                   ry * (1 - k) * 0.6, (brand(rng) + " - " + word(rng)).upper())
    n = int(rng.integers(1, 3))
    inner = [text_layer(rng, fonts, brand(rng).upper() if j == 0 else
                        str(int(rng.integers(1800, 2030))), ry * 0.3 / n) for j in range(n)]
    mask = np.asarray(im, np.float32) / 255.0
    y = cy - sum(la.shape[0] for la in inner) / 2
    for la in inner:
        la = fit(la, 1.4 * rx * k, ry)
        paste(mask, la, cx, y + la.shape[0] / 2)
        y += la.shape[0]
    mask = ink_texture(rng, mask)
    canvas = np.zeros((h, w), np.float32)
    mask = fit(rotate(mask, rng.uniform(-35, 35)), 0.9 * w, 0.9 * h)
    paste(canvas, mask, rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h)
    return canvas, INKS[int(rng.integers(len(INKS)))], "multiply", rng.uniform(0.35, 0.95)


def _blob(rng, s: int) -> np.ndarray:
    """An irregular shape: a star, a smooth random blob, a crescent, an arrow or a swoosh."""
    m = np.zeros((s, s), np.float32)
    c, r = s / 2, s / 2 - 2
    kind = int(rng.integers(5))
    fill = rng.random() < 0.5
    thick = max(1, s // 14)
    if kind == 0:  # star
        n = int(rng.integers(4, 9))
        t = math.pi * np.arange(2 * n) / n
        rad = np.where(np.arange(2 * n) % 2 == 0, r, r * rng.uniform(0.35, 0.6))
        pts = np.stack([c + rad * np.cos(t), c + rad * np.sin(t)], 1).astype(np.int32)
    elif kind == 1:  # blob
        t = np.linspace(0, 2 * math.pi, 40, endpoint=False)
        rad = r * (0.7 + 0.3 * np.convolve(np.tile(rng.uniform(-1, 1, 40), 3), np.ones(7) / 7,
                                           "same")[40:80])
        pts = np.stack([c + rad * np.cos(t), c + rad * np.sin(t)], 1).astype(np.int32)
    elif kind == 2:  # crescent
        cv2.circle(m, (int(c), int(c)), int(r), 1.0, -1)
        cv2.circle(m, (int(c + r * 0.45), int(c - r * 0.2)), int(r * 0.85), 0.0, -1)
        return m
    elif kind == 3:  # arrow / chevron
        pts = np.array([[0.1, 0.4], [0.55, 0.4], [0.55, 0.15], [0.95, 0.5], [0.55, 0.85],
                        [0.55, 0.6], [0.1, 0.6]]) * s
        pts = pts.astype(np.int32)
    else:  # swoosh: thick arcs
        for j in range(int(rng.integers(1, 4))):
            axes = (int(r * rng.uniform(0.5, 1.0)), int(r * rng.uniform(0.2, 0.6)))
            a0 = rng.uniform(0, 360)
            cv2.ellipse(m, (int(c), int(c + j * thick * 2)), axes, rng.uniform(-30, 30), a0,
                        a0 + rng.uniform(120, 250), 1.0, thick * 2)
        return m
    if fill:
        cv2.fillPoly(m, [pts], 1.0)
    else:
        cv2.polylines(m, [pts], True, 1.0, thick)
    return m


def shape_mark(rng, fonts, h, w):
    """A small or medium semi-transparent symbol anywhere, sometimes with a name beside or
    below it, sometimes repeated."""
    s = int(rng.uniform(0.06, 0.3) * min(h, w)) + 6
    sym = _blob(rng, s)
    if rng.random() < 0.5:
        name = text_layer(rng, fonts, brand(rng), s * rng.uniform(0.3, 0.5))
        if rng.random() < 0.5:  # beside
            full = np.zeros((max(s, name.shape[0]), s + s // 5 + name.shape[1]), np.float32)
            full[:s, :s] = sym
            full[(full.shape[0] - name.shape[0]) // 2:][:name.shape[0], s + s // 5:] = name
        else:  # below
            full = np.zeros((s + name.shape[0] + 2, max(s, name.shape[1])), np.float32)
            full[:s, (full.shape[1] - s) // 2:(full.shape[1] - s) // 2 + s] = sym
            full[s + 2:, (full.shape[1] - name.shape[1]) // 2:][:, :name.shape[1]] = name
        sym = full
    sym = fit(rotate(sym, rng.uniform(-30, 30) if rng.random() < 0.4 else 0), 0.9 * w, 0.9 * h)
    canvas = np.zeros((h, w), np.float32)
    for _ in range(1 if rng.random() < 0.75 else int(rng.integers(2, 6))):
        paste(canvas, sym, rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.2, 0.85)


def hatch(rng, fonts, h, w):
    """Stripes, cross-hatching or a dot screen over the image or a band, faint."""
    canvas = np.zeros((h, w), np.float32)
    step = int(rng.uniform(0.03, 0.12) * min(h, w)) + 3
    lw = max(1, int(step * rng.uniform(0.1, 0.4)))
    kind = int(rng.integers(3))
    if kind == 2:
        for y in range(0, h, step):
            for x in range((y // step % 2) * step // 2, w, step):
                cv2.circle(canvas, (x, y), max(1, lw // 2 + 1), 1.0, -1)
    else:
        angle = rng.uniform(0, 180)
        d = int(math.hypot(h, w)) + 2
        big = np.zeros((d, d), np.float32)
        for y in range(0, d, step):
            cv2.line(big, (0, y), (d, y), 1.0, lw)
        if kind == 1:
            big = np.maximum(big, big.T)
        big = rotate(big, angle)
        bh, bw = big.shape
        canvas = np.ascontiguousarray(big[(bh - h) // 2:(bh - h) // 2 + h,
                                          (bw - w) // 2:(bw - w) // 2 + w])
    if rng.random() < 0.35:  # only a band
        band = np.zeros_like(canvas)
        y0 = int(rng.uniform(0, 0.7) * h)
        band[y0:y0 + int(rng.uniform(0.15, 0.4) * h)] = 1
        canvas *= band
    if rng.random() < 0.4:
        layer = fit(text_layer(rng, fonts, brand(rng), rng.uniform(0.06, 0.15) * min(h, w)),
                    0.9 * w, 0.5 * h)
        paste(canvas, layer, w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7))
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.1, 0.4)


def text_block(rng, fonts, h, w):
    """Two to four lines of copyright-notice text (aligned left, centred or right), maybe
    underlined, shadowed or outlined, anywhere on the image."""
    lines = [brand(rng)] + [str(rng.choice(["All rights reserved", "Licensed image",
                                            "www." + word(rng).strip(".,;:") + ".org",
                                            "Image " + str(int(rng.integers(1, 99999))),
                                            "Reproduction prohibited", brand(rng)]))
                            for _ in range(int(rng.integers(1, 4)))]
    size = rng.uniform(0.03, 0.09) * min(h, w) * 1.3
    layers = [text_layer(rng, fonts, t, size * (1.3 if i == 0 else 1.0)) for i, t in
              enumerate(lines)]
    bw = max(la.shape[1] for la in layers)
    bh = sum(la.shape[0] for la in layers) + 2 * len(layers)
    block = np.zeros((bh + 4, bw + 4), np.float32)
    y, align = 2, int(rng.integers(3))
    for la in layers:
        x = 2 + (0 if align == 0 else (bw - la.shape[1]) // (2 if align == 1 else 1))
        block[y:y + la.shape[0], x:x + la.shape[1]] = la
        y += la.shape[0] + 2
    roll = rng.random()
    if roll < 0.2:  # outline only
        block = np.clip(cv2.dilate(block, np.ones((3, 3), np.uint8)) - block, 0, 1)
    elif roll < 0.35:  # drop shadow
        block = np.maximum(block, 0.6 * np.roll(block, (2, 2), axis=(0, 1)))
    block = fit(rotate(block, rng.uniform(-45, 45) if rng.random() < 0.4 else 0), 0.95 * w, 0.8 * h)
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, block, rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.2, 0.9)


def signature(rng, fonts, h, w):
    """A handwritten-like signature scribble (random smooth strokes), sometimes with a year."""
    s = int(rng.uniform(0.15, 0.45) * min(h, w)) + 10
    sh = max(8, int(s * rng.uniform(0.3, 0.5)))
    m = np.zeros((sh, s), np.float32)
    n = int(rng.integers(12, 40))
    xs = np.cumsum(rng.uniform(0.2, 1.0, n))
    xs = 2 + (xs - xs[0]) / (xs[-1] - xs[0] + 1e-6) * (s - 4)
    ys = sh / 2 + np.convolve(rng.uniform(-1, 1, n + 4), np.ones(3) / 3, "valid")[:n] * sh * 0.45
    t = np.linspace(0, n - 1, n * 8)
    pts = np.stack([np.interp(t, np.arange(n), xs), np.interp(t, np.arange(n), ys)], 1)
    cv2.polylines(m, [pts.astype(np.int32)], False, 1.0, max(1, s // 60), cv2.LINE_AA)
    if rng.random() < 0.5:
        year = text_layer(rng, fonts, str(int(rng.integers(1850, 2030))), sh * 0.4)
        year = fit(year, s * 0.4, sh)
        paste(m, year, s - year.shape[1] / 2 - 1, sh - year.shape[0] / 2 - 1)
    m = fit(rotate(m, rng.uniform(-20, 20)), 0.9 * w, 0.9 * h)
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, m, rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h)
    colour = light_or_dark(rng) if rng.random() < 0.6 else INKS[int(rng.integers(len(INKS)))]
    return canvas, colour, "normal", rng.uniform(0.4, 1.0)


# --- validation-only styles: in neither training nor the test. A recipe is chosen on how it
# scores these *unseen* styles, so the held-out test styles never steer a decision.

def seal(rng, fonts, h, w):
    """A scalloped rosette or starburst seal, outlined or filled with its text knocked out,
    one or two short lines of text inside."""
    r = rng.uniform(0.1, 0.25) * min(h, w) + 6
    side = int(2 * r) + 6
    n = int(rng.integers(12, 33))
    t = np.linspace(0, 2 * math.pi, 16 * n, endpoint=False)
    wave = np.cos(n * t) if rng.random() < 0.5 else np.abs(np.cos(n * t / 2)) * 2 - 1
    rad = r * (1 - rng.uniform(0.04, 0.14) * (0.5 + 0.5 * wave))
    pts = np.stack([side / 2 + rad * np.cos(t), side / 2 + rad * np.sin(t)], 1).astype(np.int32)
    m = np.zeros((side, side), np.float32)
    filled = rng.random() < 0.4
    if filled:
        cv2.fillPoly(m, [pts], 1.0)
    else:
        cv2.polylines(m, [pts], True, 1.0, max(1, int(r / 20)))
    lines = [word(rng).upper() or "OK" for _ in range(int(rng.integers(1, 3)))]
    y = side / 2 - r * 0.18 * (len(lines) - 1)
    for text in lines:
        layer = fit(text_layer(rng, fonts, text, r * 0.32), 1.3 * r, 0.5 * r)
        if filled:
            lh, lw = layer.shape
            y0, x0 = int(y - lh / 2), int(side / 2 - lw / 2)
            m[y0:y0 + lh, x0:x0 + lw] = np.clip(m[y0:y0 + lh, x0:x0 + lw] - layer, 0, 1)
        else:
            paste(m, layer, side / 2, y)
        y += r * 0.36
    m = fit(rotate(ink_texture(rng, m), rng.uniform(-30, 30)), 0.9 * w, 0.9 * h)
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, m, rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h)
    colour = INKS[int(rng.integers(len(INKS)))] if rng.random() < 0.5 else light_or_dark(rng)
    return canvas, colour, "multiply" if colour in INKS else "normal", rng.uniform(0.3, 0.9)


def monogram(rng, fonts, h, w):
    """One to three large overlapping capitals, filled or outlined, sometimes with a small
    name underneath."""
    size = rng.uniform(0.15, 0.4) * min(h, w)
    letters = [text_layer(rng, fonts, str(rng.choice(list("ABCDEFGHJKLMNPRSTVW"))), size)
               for _ in range(int(rng.integers(1, 4)))]
    step = int(max(la.shape[1] for la in letters) * rng.uniform(0.45, 0.75))
    lh = max(la.shape[0] for la in letters)
    mark = np.zeros((lh + 2, step * (len(letters) - 1) + max(la.shape[1] for la in letters) + 2),
                    np.float32)
    for i, la in enumerate(letters):
        paste(mark, la, i * step + la.shape[1] / 2 + 1, lh / 2 + 1)
    if rng.random() < 0.5:
        mark = np.clip(cv2.dilate(mark, np.ones((3, 3), np.uint8)) - mark, 0, 1)
    if rng.random() < 0.5:
        name = fit(text_layer(rng, fonts, brand(rng), size * 0.25), mark.shape[1] * 1.5, size)
        full = np.zeros((mark.shape[0] + name.shape[0] + 4, max(mark.shape[1], name.shape[1])),
                        np.float32)
        paste(full, mark, full.shape[1] / 2, mark.shape[0] / 2)
        paste(full, name, full.shape[1] / 2, full.shape[0] - name.shape[0] / 2)
        mark = full
    mark = fit(rotate(mark, rng.uniform(-30, 30) if rng.random() < 0.4 else 0), 0.9 * w, 0.9 * h)
    canvas = np.zeros((h, w), np.float32)
    paste(canvas, mark, rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.2, 0.8)


def composed(rng, fonts, h, w):
    """A mark from the training-only grammar in ``synth_overlays`` (imported late: that module
    builds on this one's helpers)."""
    import synth_overlays

    return synth_overlays.composed(rng, fonts, h, w)


STYLE_FUNCS: dict[str, Callable] = {
    "centre_text": centre_text, "tiled_diagonal": tiled_diagonal, "round_stamp": round_stamp,
    "rect_stamp": rect_stamp, "logo": logo, "corner_mark": corner_mark, "banner": banner,
    "emboss": emboss, "stock_grid": stock_grid, "oval_stamp": oval_stamp,
    "shape_mark": shape_mark, "hatch": hatch, "text_block": text_block, "signature": signature,
    "seal": seal, "monogram": monogram, "composed": composed,
}


def apply_watermark(rng, image: np.ndarray, style: str, fonts) -> np.ndarray:
    """``image`` (uint8 RGB) with one watermark of ``style`` composited on it."""
    h, w = image.shape[:2]
    mask, colour, mode, opacity = STYLE_FUNCS[style](rng, fonts, h, w)
    base = image.astype(np.float32)
    a = (mask * opacity)[:, :, None]
    col = np.array(colour, np.float32)
    if mode == "multiply":
        out = base * (1 - a * (1 - col / 255.0))
    elif mode == "emboss":
        out = base + a * 120.0
    else:
        out = base * (1 - a) + col * a
    return np.clip(out, 0, 255).astype(np.uint8)


# --- base images ------------------------------------------------------------------------

def texture(rng, h: int, w: int) -> np.ndarray:
    """Procedural background: gradients, blotches, shapes, noise (uint8 RGB)."""
    base = np.ones((h, w, 3), np.float32) * rng.uniform(0, 255, 3).astype(np.float32)
    low = cv2.resize(rng.uniform(-1, 1, (int(rng.integers(2, 8)), int(rng.integers(2, 8)), 3))
                     .astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    base += low * rng.uniform(20, 120)
    for _ in range(int(rng.integers(0, 12))):
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(base, centre, int(rng.integers(5, max(6, min(h, w) // 3))), colour, -1)
        else:
            corner = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.rectangle(base, centre, corner, colour, -1)
    base = cv2.GaussianBlur(base, (0, 0), rng.uniform(0.5, 4))
    base += rng.normal(0, rng.uniform(0, 12), (h, w, 1)).astype(np.float32)
    return np.clip(base, 0, 255).astype(np.uint8)


# Validation sources: seen by neither training nor the test (model selection, calibration and
# the threshold are chosen on images the network has not memorised).
VAL_PHOTOS = ("stereo_motorcycle", "clock")
VAL_TTF_FAMILY = "DejaVuSerifCondensed"
VAL_HERSHEY = (cv2.FONT_HERSHEY_COMPLEX_SMALL, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)


# Training-only photographs carried by other PyPI packages (more people, buildings and colour
# than scikit-image's mostly grey samples): (package module, file inside it, credit and
# licence, which the model card prints).
EXTRA_TRAIN_PHOTOS = (
    ("sklearn", "datasets/images/china.jpg", "CC BY 2.0, danielbuechele on Flickr"),
    ("sklearn", "datasets/images/flower.jpg", "CC BY 2.0, vultilion on Flickr"),
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "public domain, US Navy"),
)
# Share of training watermarks drawn from the composed-overlay grammar (``synth_overlays``)
# rather than from one of the named styles.
COMPOSED_RATE = 0.5
# Share of training base images that are cluttered synthetic scenes (``synth_scenes``): busy
# man-made structure as clean content.
SCENE_RATE = 0.15
# Share of training page crops taken zoomed in (2-15 % of the page): large clean type, as in
# headings, title pages and close-up scans, so that "big letters" alone is not a watermark.
ZOOMED_PAGE_RATE = 0.3


def package_photo(module: str, relative: str) -> np.ndarray:
    """A photograph shipped inside an installed package, as uint8 RGB."""
    import importlib

    folder = Path(importlib.import_module(module).__file__).parent
    return np.asarray(Image.open(folder / relative).convert("RGB"))


def val_photo(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    return superres_data._rgb(image[0] if isinstance(image, tuple) else image)


def appearance(rng, rgb: np.ndarray) -> np.ndarray:
    """Colour and orientation changes, so a few photographs look like many (no memorising)."""
    roll = rng.random()
    if roll < 0.2:
        rgb = rgb[:, :, rng.permutation(3)]
    elif roll < 0.4:
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + int(rng.integers(0, 180))) % 180
        hsv[:, :, 1] = np.clip(hsv[:, :, 1] * rng.uniform(0.3, 1.5), 0, 255)
        rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    elif roll < 0.5:
        rgb = 255 - rgb
    elif roll < 0.7:
        lut = (255 * (np.arange(256) / 255) ** rng.uniform(0.5, 2.0)).astype(np.uint8)
        rgb = lut[rgb]
    if rng.random() < 0.25:
        rgb = np.rot90(rgb, int(rng.integers(1, 4)))
    return np.ascontiguousarray(rgb)


class BaseImages:
    """Random clean base crops for one split: ``train``, ``val`` or ``heldout`` (test)."""

    def __init__(self, split: str):
        ttf, held_fonts = synth_pages.split_fonts()
        val_fonts = tuple(p for p in ttf if p.name.startswith(VAL_TTF_FAMILY))
        train_fonts = tuple(p for p in ttf if p not in val_fonts)
        if split == "train":
            self.photos = [superres_data.skimage_image(n) for n in superres_data.TRAIN_PHOTOS]
            self.photos += [package_photo(m, f) for m, f, _ in EXTRA_TRAIN_PHOTOS]
            docs = superres_data.TRAIN_DOCUMENTS
            self.hershey = tuple(f for f in superres_data.TRAIN_FONTS if f not in VAL_HERSHEY)
            self.page_seed0, self.ttf = 10_000, train_fonts
            self.styles = TRAIN_STYLES + EXTRA_TRAIN_STYLES
        elif split == "val":
            self.photos = [val_photo(n) for n in VAL_PHOTOS]
            docs = superres_data.TRAIN_DOCUMENTS
            self.hershey, self.page_seed0 = VAL_HERSHEY, 50_000
            self.ttf, self.styles = val_fonts, TRAIN_STYLES
        elif split == "heldout":
            self.photos = [superres_data.skimage_image(n) for n in superres_data.HELDOUT_PHOTOS]
            docs = superres_data.HELDOUT_DOCUMENTS
            self.hershey, self.page_seed0 = superres_data.HELDOUT_FONTS, 90_000
            self.ttf, self.styles = held_fonts, HELDOUT_STYLES
        else:
            raise ValueError(split)
        # validation and test keep their recipe: no zoomed-in pages
        self.zoomed_page_rate = ZOOMED_PAGE_RATE if split == "train" else 0.0
        self.composed_rate = COMPOSED_RATE if split == "train" else 0.0
        self.scene_rate = SCENE_RATE if split == "train" else 0.0
        self.wm_fonts = self.ttf
        self.documents = [superres_data.skimage_image(n) for n in docs]

    def page(self, rng) -> np.ndarray:
        """A freshly rendered page (Hershey or TrueType), sometimes with printed pictures."""
        if rng.random() < 0.4:
            seed = self.page_seed0 + int(rng.integers(0, 100_000))
            return superres_data.render_page(seed, fonts=self.hershey, cap_px=(5.0, 16.0))
        h = int(rng.uniform(700, 1200))
        w = int(h * rng.uniform(0.6, 0.8))
        page, _ = synth_pages.render_page(rng, self.ttf, height=h, width=w,
                                          pictures=tuple(self.photos), picture_rate=0.08)
        return page

    def photo(self, rng) -> np.ndarray:
        """A photograph, recoloured / rotated, sometimes a collage of two to four crops."""
        pick = lambda: appearance(rng, self.photos[int(rng.integers(len(self.photos)))])  # noqa: E731
        if rng.random() >= 0.25:
            return pick()
        tiles = [cv2.resize(pick(), (320, 320), interpolation=cv2.INTER_AREA)
                 for _ in range(int(rng.choice([2, 4])))]
        if len(tiles) == 2:
            return np.hstack(tiles) if rng.random() < 0.5 else np.vstack(tiles)
        return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])

    def sample(self, rng) -> tuple[np.ndarray, str]:
        """(uint8 RGB crop, source kind: photo | page | texture | scene)."""
        if self.scene_rate and rng.random() < self.scene_rate:
            import synth_scenes

            s = int(rng.integers(224, 700))
            return synth_scenes.scene(rng, self.photos, self.ttf, s,
                                      int(s * rng.uniform(0.6, 1.6))), "scene"
        roll = rng.random()
        if roll < 0.45:
            src, kind = self.photo(rng), "photo"
        elif roll < 0.55:
            src, kind = self.documents[int(rng.integers(len(self.documents)))], "page"
        elif roll < 0.88:
            src, kind = self.page(rng), "page"
        else:
            s = int(rng.integers(200, 600))
            return texture(rng, s, int(s * rng.uniform(0.6, 1.6))), "texture"
        h, w = src.shape[:2]
        area = rng.uniform(0.25, 1.0) if kind == "photo" else rng.uniform(0.15, 1.0)
        if kind == "page" and self.zoomed_page_rate and rng.random() < self.zoomed_page_rate:
            area = math.exp(rng.uniform(math.log(0.02), math.log(0.15)))
        aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.6)))
        ch = int(min(h, math.sqrt(area * h * w / aspect)))
        cw = int(min(w, ch * aspect))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = src[y:y + ch, x:x + cw]
        if kind == "photo" and rng.random() < 0.5:
            crop = crop[:, ::-1]
        if kind == "page" and rng.random() < 0.3:  # heavier or lighter type
            op = cv2.erode if rng.random() < 0.5 else cv2.dilate
            crop = op(crop, np.ones((2, 2), np.uint8))
        long_side = rng.uniform(224, 700)
        s = long_side / max(crop.shape[:2])
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (max(8, int(crop.shape[1] * s)), max(8, int(crop.shape[0] * s))),
                          interpolation=interp)
        return np.ascontiguousarray(crop), kind


def degrade(rng, size: int = SIZE) -> Callable[[np.ndarray], np.ndarray]:
    """One random degradation ending in a stretch to ``size`` x ``size``, returned as a
    function so both halves of a pair get the same one."""
    grey = rng.random() < 0.15
    sigma = rng.uniform(0.3, 1.5) if rng.random() < 0.3 else 0.0
    noise = rng.uniform(1, 6) if rng.random() < 0.3 else 0.0
    quality = int(rng.integers(35, 96)) if rng.random() < 0.75 else 0
    gain = rng.uniform(0.85, 1.15)
    noise_seed = int(rng.integers(1 << 31))

    def run(img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float32) * gain
        if grey:
            x = np.repeat(cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
                          [:, :, None].astype(np.float32), 3, axis=2)
        if sigma:
            x = cv2.GaussianBlur(x, (0, 0), sigma)
        if noise:
            x += np.random.default_rng(noise_seed).normal(0, noise, x.shape).astype(np.float32)
        x = np.clip(x, 0, 255).astype(np.uint8)
        if quality:
            x = jpeg(x, quality)
        return cv2.resize(x, (size, size), interpolation=cv2.INTER_AREA)

    return run


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def make_pair(rng, bases: BaseImages, styles: tuple[str, ...] | None = None
              ) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(clean 224x224, watermarked 224x224, style, source kind), both uint8 RGB."""
    crop, kind = bases.sample(rng)
    if styles is None and rng.random() < bases.composed_rate:
        style = "composed"
    else:
        styles = styles or bases.styles
        style = str(styles[int(rng.integers(len(styles)))])
    marked = apply_watermark(rng, crop, style, bases.wm_fonts)
    run = degrade(rng)
    return run(crop), run(marked), style, kind


def save_png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
