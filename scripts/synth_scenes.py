"""Cluttered synthetic scenes: clean base images full of busy, man-made-looking structure.

Used by ``scripts/synth_watermarks.py`` for training only. The training photographs are few
and mostly natural textures (cells, grass, the moon); on unseen photographs of machines,
shelves or launch towers the watermark classifier took chrome, beams and clutter for
overlaid strokes. These scenes put that kind of structure in the *clean* image (and so in both
halves of a pair): patches of the training photographs as overlapping objects ("dead leaves"),
beams and lattices in perspective, shelves of boxes, cables, specular highlights, metal-like
banded gradients and small labels with printed text, all opaque and part of the scene, then
blurred in places as a lens would. Needs numpy, OpenCV and Pillow; torch-free.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image, ImageDraw
from synth_pages import font, word


def _colour(rng) -> np.ndarray:
    return rng.uniform(0, 255, 3).astype(np.float32)


def _patch(rng, photos, h: int, w: int) -> np.ndarray:
    """A random crop of a random photograph, resized to h x w (float32 RGB)."""
    src = photos[int(rng.integers(len(photos)))]
    sh, sw = src.shape[:2]
    ch = int(rng.integers(max(8, sh // 10), sh + 1))
    cw = int(rng.integers(max(8, sw // 10), sw + 1))
    y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
    return cv2.resize(src[y:y + ch, x:x + cw], (w, h)).astype(np.float32)


def _leaves(rng, img: np.ndarray, photos) -> None:
    """Overlapping objects: shapes filled with photo patches, flat paint or banded metal."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(4, 30))):
        mask = np.zeros((h, w), np.uint8)
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.uniform(0.04, 0.35) * min(h, w)) + 2
        roll = rng.random()
        if roll < 0.4:
            cv2.ellipse(mask, (cx, cy), (r, int(r * rng.uniform(0.3, 1.0))), rng.uniform(0, 180),
                        0, 360, 1, -1)
        elif roll < 0.8:
            top = cy - int(r * rng.uniform(0.2, 1.5))
            cv2.rectangle(mask, (cx - r, top), (cx + r, cy + r), 1, -1)
        else:
            t = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(3, 8))))
            pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1).astype(np.int32)
            cv2.fillPoly(mask, [pts], 1)
        fill = rng.random()
        if fill < 0.45:
            paint = _patch(rng, photos, h, w)
        elif fill < 0.75:
            paint = np.broadcast_to(_colour(rng), (h, w, 3))
        else:  # chrome: hard light and dark bands across the object
            bands = np.sin(np.linspace(0, rng.uniform(3, 30), w) + rng.uniform(0, 6))[None, :, None]
            paint = np.clip(128 + 127 * np.sign(bands) * np.abs(bands) ** 0.3, 0, 255) * \
                np.ones((h, 1, 1), np.float32)
        shade = np.linspace(rng.uniform(0.6, 1.2), rng.uniform(0.6, 1.2), h, dtype=np.float32)
        m = mask.astype(bool)
        img[m] = (paint * shade[:, None, None])[m]
        if rng.random() < 0.4:  # a dark or bright edge round the object
            edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
            img[edge.astype(bool)] = 20 if rng.random() < 0.6 else 235


def _structures(rng, img: np.ndarray) -> None:
    """Beams and lattices in perspective, cables, shelves of boxes, specular highlights."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 5))):
        roll = rng.random()
        colour = tuple(float(v) for v in _colour(rng))
        if roll < 0.3:  # a lattice tower or truss: two rails and cross braces
            x0, x1 = rng.uniform(0, w, 2)
            spread = rng.uniform(0.03, 0.2) * w
            ys = np.linspace(rng.uniform(-0.2, 0.3) * h, rng.uniform(0.7, 1.2) * h,
                             int(rng.integers(4, 16)))
            ks = np.linspace(0, 1, len(ys))
            left = [(int(x0 + (x1 - x0) * k), int(y)) for k, y in zip(ks, ys, strict=True)]
            right = [(x + int(spread * (1 - 0.5 * k)), y)
                     for (x, y), k in zip(left, ks, strict=True)]
            lw = int(rng.integers(1, 4))
            for rail in (left, right):
                for a, b in zip(rail[:-1], rail[1:], strict=True):
                    cv2.line(img, a, b, colour, lw)
            for i in range(len(ys) - 1):
                cv2.line(img, left[i], right[i + 1], colour, max(1, lw - 1))
                cv2.line(img, right[i], left[i + 1], colour, max(1, lw - 1))
        elif roll < 0.5:  # cables and rods
            for _ in range(int(rng.integers(1, 6))):
                p = (int(rng.integers(-w // 4, w + w // 4)), int(rng.integers(-h // 4, h + h // 4)))
                q = (int(rng.integers(-w // 4, w + w // 4)), int(rng.integers(-h // 4, h + h // 4)))
                cv2.line(img, p, q, colour, int(rng.integers(1, 6)), cv2.LINE_AA)
        elif roll < 0.75:  # shelves with boxes
            y = rng.uniform(0, 0.6) * h
            for _ in range(int(rng.integers(1, 4))):
                shelf_h = rng.uniform(0.08, 0.25) * h
                x = rng.uniform(-0.1, 0.3) * w
                while x < w:
                    bw = rng.uniform(0.03, 0.15) * w
                    top = y + shelf_h * rng.uniform(0, 0.5)
                    cv2.rectangle(img, (int(x), int(top)), (int(x + bw), int(y + shelf_h)),
                                  tuple(float(v) for v in _colour(rng)), -1)
                    x += bw + rng.uniform(0, 0.02) * w
                cv2.line(img, (0, int(y + shelf_h)), (w, int(y + shelf_h)), colour, 3)
                y += shelf_h + 4
        else:  # specular highlights
            for _ in range(int(rng.integers(1, 8))):
                hl = np.zeros((h, w), np.float32)
                cv2.ellipse(hl, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                            (int(rng.integers(2, 20)), int(rng.integers(1, 8))),
                            rng.uniform(0, 180), 0, 360, 1.0, -1)
                hl = cv2.GaussianBlur(hl, (0, 0), rng.uniform(1, 4))[:, :, None]
                img[:] = img * (1 - hl) + 255 * hl


def _label(rng, img: np.ndarray, fonts) -> None:
    """A small sign or product label: opaque plate with printed text, slightly skewed."""
    h, w = img.shape[:2]
    text = " ".join(word(rng) for _ in range(int(rng.integers(1, 3)))).upper() or "A"
    f = font(fonts[int(rng.integers(len(fonts)))], int(rng.uniform(0.03, 0.1) * min(h, w)) + 6)
    left, top, right, bottom = f.getbbox(text)
    plate = Image.new("RGB", (right - left + 12, bottom - top + 10),
                      tuple(int(v) for v in _colour(rng)))
    ink = (0, 0, 0) if np.mean(plate.getpixel((0, 0))) > 128 else (255, 255, 255)
    ImageDraw.Draw(plate).text((6 - left, 5 - top), text, fill=ink, font=f)
    plate_np = np.asarray(plate, np.float32)
    ph, pw = plate_np.shape[:2]
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    x, y = rng.uniform(0, max(1, w - pw)), rng.uniform(0, max(1, h - ph))
    jitter = rng.uniform(-0.15, 0.15, (4, 2)) * [pw, ph]
    dst = np.float32(src + [x, y] + jitter)
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(plate_np, m, (w, h))
    cover = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, (w, h))[:, :, None]
    img[:] = img * (1 - cover) + warped * cover


def scene(rng, photos, fonts, h: int, w: int) -> np.ndarray:
    """A cluttered clean scene (uint8 RGB, h x w)."""
    img = _patch(rng, photos, h, w) if rng.random() < 0.6 else \
        np.broadcast_to(_colour(rng), (h, w, 3)).copy()
    _leaves(rng, img, photos)
    _structures(rng, img)
    for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.5 else 0):
        _label(rng, img, fonts)
    if rng.random() < 0.4:  # depth of field: part of the scene out of focus
        soft = cv2.GaussianBlur(img, (0, 0), rng.uniform(1.5, 5))
        ramp = np.clip(np.linspace(rng.uniform(-1, 1), rng.uniform(0, 2), h), 0, 1)
        img = img * (1 - ramp[:, None, None]) + soft * ramp[:, None, None]
    img += rng.normal(0, rng.uniform(0, 6), (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)
