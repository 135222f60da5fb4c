"""Composed overlays: a random grammar of marks, for training the watermark classifier only.

The named styles in ``scripts/synth_watermarks.py`` are a dozen particular designs; a network
trained on them learns those designs and misses marks drawn differently. ``composed`` draws a
mark from parts instead: one to four elements (a line of text, an irregular shape, a rule, text
on an arc), arranged in a row, a column, inside a shape or scattered; then a treatment
(outline, shadow, ink texture, soft edge, fading), a placement (anywhere, a corner, an edge,
tiled in a grid or on a diagonal) and a blend (a light, dark or random colour, stamp ink, an
embossed relief). So the network learns "something was composited on top", not a catalogue.

Kept out, so the held-out test styles stay unseen: no rectangular frame around text (the
test's rectangular stamps) and no circle, square or regular polygon with letters in it (the
test's logos). Shapes here are irregular (``synth_watermarks._blob``, random polygons) or ovals.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from synth_pages import word
from synth_watermarks import (
    INKS,
    MARKS,
    _blob,
    brand,
    fit,
    ink_texture,
    light_or_dark,
    paste,
    rotate,
    text_layer,
)


def _phrase(rng) -> str:
    """Short text as marks carry it: a brand, a notice word, a year, a URL or a few words."""
    roll = rng.random()
    if roll < 0.4:
        return brand(rng)
    if roll < 0.55:
        return str(rng.choice(MARKS))
    if roll < 0.65:
        return str(int(rng.integers(1800, 2030)))
    if roll < 0.75:
        return "www." + (word(rng).strip(".,;:") or "foto") + str(rng.choice([".com", ".org"]))
    text = " ".join(word(rng) for _ in range(int(rng.integers(1, 4))))
    return text.upper() if rng.random() < 0.4 else text


def _polygon(rng, s: int) -> np.ndarray:
    """An irregular polygon (3-10 vertices at random radii), filled or outlined."""
    n = int(rng.integers(3, 11))
    t = np.sort(rng.uniform(0, 2 * math.pi, n))
    rad = (s / 2 - 2) * rng.uniform(0.45, 1.0, n)
    pts = np.stack([s / 2 + rad * np.cos(t), s / 2 + rad * np.sin(t)], 1).astype(np.int32)
    m = np.zeros((s, s), np.float32)
    if rng.random() < 0.5:
        cv2.fillPoly(m, [pts], 1.0)
    else:
        cv2.polylines(m, [pts], True, 1.0, max(1, s // 16))
    return m


def _oval(rng, s: int) -> np.ndarray:
    """An oval ring or disc, at least 1.3 times as wide as high (never a circle)."""
    m = np.zeros((int(s / rng.uniform(1.3, 2.2)) + 4, s), np.float32)
    h, w = m.shape
    cv2.ellipse(m, (w // 2, h // 2), (w // 2 - 2, h // 2 - 2), 0, 0, 360, 1.0,
                -1 if rng.random() < 0.4 else max(1, s // 20))
    return m


def _shape(rng, s: int) -> np.ndarray:
    roll = rng.random()
    if roll < 0.5:
        return _blob(rng, s)
    return _polygon(rng, s) if roll < 0.8 else _oval(rng, s)


def _rule(rng, s: int) -> np.ndarray:
    """One or two horizontal rules, or a row of dots."""
    lw = max(1, int(s * rng.uniform(0.01, 0.04)))
    m = np.zeros((6 * lw + 2, s), np.float32)
    if rng.random() < 0.25:
        for x in range(lw, s, 4 * lw):
            cv2.circle(m, (x, 3 * lw), lw, 1.0, -1)
        return m
    m[lw:2 * lw] = 1.0
    if rng.random() < 0.4:
        m[4 * lw:5 * lw] = 1.0
    return m


def _arc_text(rng, fonts, s: int) -> np.ndarray:
    """Text set along an open arc (upper or lower half of a circle)."""
    text = _phrase(rng).upper()
    size = max(6, int(s * rng.uniform(0.08, 0.14)))
    glyphs = [text_layer(rng, fonts, ch, size) if ch.strip() else None for ch in text]
    radius = s * rng.uniform(0.35, 0.5)
    span = min(math.pi * 0.95, len(text) * size * 0.7 / radius)
    m = np.zeros((s, s), np.float32)
    sign = 1 if rng.random() < 0.5 else -1
    for i, glyph in enumerate(glyphs):
        if glyph is None:
            continue
        a = -math.pi / 2 * sign - span / 2 + span * i / max(1, len(text) - 1)
        a = a if sign > 0 else -a
        paste(m, rotate(glyph, -math.degrees(a) - 90 * sign), s / 2 + radius * math.cos(a),
              s / 2 + radius * math.sin(a))
    return m


def _element(rng, fonts, size: float) -> np.ndarray:
    """One part of a mark, ``size`` pixels across at most."""
    roll = rng.random()
    if roll < 0.5:
        layer = text_layer(rng, fonts, _phrase(rng), size * rng.uniform(0.12, 0.35),
                           stroke=int(rng.random() < 0.15))
        return fit(layer, size, size)
    s = max(8, int(size * rng.uniform(0.4, 1.0)))
    if roll < 0.8:
        return _shape(rng, s)
    return _rule(rng, s) if roll < 0.9 else _arc_text(rng, fonts, s)


def _arrange(rng, parts: list[np.ndarray]) -> np.ndarray:
    """Parts side by side, stacked, or scattered over a box."""
    gap = int(rng.integers(1, 12))
    layout = rng.random()
    if layout < 0.35:  # a row, centred vertically
        h = max(p.shape[0] for p in parts)
        out = np.zeros((h, sum(p.shape[1] for p in parts) + gap * len(parts)), np.float32)
        x = 0
        for p in parts:
            paste(out, p, x + p.shape[1] / 2, h / 2)
            x += p.shape[1] + gap
        return out
    if layout < 0.75:  # a column, centred or left-aligned
        w = max(p.shape[1] for p in parts)
        out = np.zeros((sum(p.shape[0] for p in parts) + gap * len(parts), w), np.float32)
        y, centred = 0, rng.random() < 0.7
        for p in parts:
            paste(out, p, w / 2 if centred else p.shape[1] / 2, y + p.shape[0] / 2)
            y += p.shape[0] + gap
        return out
    side = int(max(max(p.shape) for p in parts) * rng.uniform(1.2, 2.0))
    out = np.zeros((side, side), np.float32)
    for p in parts:
        paste(out, p, rng.uniform(0.2, 0.8) * side, rng.uniform(0.2, 0.8) * side)
    return out


def _inside(rng, fonts, size: float) -> np.ndarray:
    """A large irregular shape with text in it: drawn over an outline, knocked out of a fill."""
    s = max(12, int(size))
    shape = _blob(rng, s) if rng.random() < 0.5 else _oval(rng, s)
    text = fit(text_layer(rng, fonts, _phrase(rng), s * rng.uniform(0.12, 0.25)),
               shape.shape[1] * 0.7, shape.shape[0] * 0.6)
    layer = np.zeros_like(shape)
    paste(layer, text, shape.shape[1] / 2, shape.shape[0] / 2)
    filled = shape.mean() > 0.3
    return np.clip(shape - layer, 0, 1) if filled else np.maximum(shape, layer)


def _treat(rng, mark: np.ndarray) -> np.ndarray:
    """Outline, drop shadow, uneven ink, soft edges or a fade across the mark."""
    roll = rng.random()
    if roll < 0.15:
        mark = np.clip(cv2.dilate(mark, np.ones((3, 3), np.uint8)) - mark, 0, 1)
    elif roll < 0.27:
        k = int(rng.integers(1, 4))
        mark = np.maximum(mark, rng.uniform(0.3, 0.7) * np.roll(mark, (k, k), axis=(0, 1)))
    elif roll < 0.45:
        mark = ink_texture(rng, mark)
    if rng.random() < 0.15:
        mark = cv2.GaussianBlur(mark, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.15:
        ramp = np.linspace(rng.uniform(0.2, 1), rng.uniform(0.2, 1), mark.shape[1],
                           dtype=np.float32)
        mark = mark * ramp[None, :]
    return mark


def _place(rng, mark: np.ndarray, h: int, w: int) -> np.ndarray:
    """The mark on an h x w canvas: once anywhere, in a corner or at an edge, or tiled."""
    canvas = np.zeros((h, w), np.float32)
    roll = rng.random()
    if roll < 0.2:  # tiled, in a grid or on a diagonal
        mark = fit(mark, w * rng.uniform(0.15, 0.4), h * rng.uniform(0.15, 0.4))
        sx = mark.shape[1] * rng.uniform(1.2, 2.5)
        sy = mark.shape[0] * rng.uniform(1.5, 4.0)
        shear = rng.uniform(0, 0.5) * sx
        for row, y in enumerate(np.arange(-sy, h + sy, sy)):
            for x in np.arange(-sx, w + sx, sx):
                paste(canvas, mark, x + (row * shear) % sx, y)
        return canvas
    mark = fit(mark, w * rng.uniform(0.2, 0.95), h * rng.uniform(0.15, 0.8))
    mh, mw = mark.shape
    if roll < 0.45:  # a corner or an edge
        cx = rng.choice([mw / 2 + 2, w / 2, w - mw / 2 - 2])
        cy = rng.choice([mh / 2 + 2, h - mh / 2 - 2])
    else:
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    paste(canvas, mark, cx, cy)
    return canvas


def composed(rng, fonts, h, w):
    """A mark drawn from the grammar above: (alpha mask, colour, blend mode, opacity)."""
    size = rng.uniform(0.15, 0.6) * min(h, w) * 1.5
    if rng.random() < 0.25:
        mark = _inside(rng, fonts, size)
    else:
        parts = [_element(rng, fonts, size) for _ in range(int(rng.integers(1, 5)))]
        mark = parts[0] if len(parts) == 1 else _arrange(rng, parts)
    if rng.random() < 0.5:
        mark = rotate(mark, rng.uniform(-45, 45))
    canvas = _place(rng, _treat(rng, mark), h, w)
    roll = rng.random()
    if roll < 0.2:
        return canvas, INKS[int(rng.integers(len(INKS)))], "multiply", rng.uniform(0.35, 0.95)
    if roll < 0.28:
        soft = cv2.GaussianBlur(canvas, (0, 0), max(0.6, 0.004 * min(h, w)))
        k = max(1, int(0.004 * min(h, w)))
        return np.roll(soft, (k, k), axis=(0, 1)) - soft, (255, 255, 255), "emboss", \
            rng.uniform(0.35, 0.8)
    return canvas, light_or_dark(rng), "normal", rng.uniform(0.12, 0.9)
