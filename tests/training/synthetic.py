"""Three visually distinct synthetic image classes drawn with OpenCV, varied in every other way.

``circles`` (filled discs), ``stripes`` (parallel bands at any angle) and ``checkerboard``
(rotated checks): random sizes, colours, scales, noise and blur, so only the pattern tells
the classes apart.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.iiif.fixtures import write_rgb

CLASSES = ("checkerboard", "circles", "stripes")
CELL = 160  # the sheet served for region tests: cells of CELL px, one row per SHEET_ROWS class
SHEET_ROWS = ("circles", "stripes")
SHEET_COLUMNS = 4


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    while True:
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if np.abs(a - b).sum() > 200:  # enough contrast for the pattern to show
            return a, b


def _circles(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    background, _ = _colours(rng)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = background
    for _ in range(rng.integers(1, 6)):
        _, colour = _colours(rng)
        radius = int(rng.uniform(0.1, 0.3) * min(height, width))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(image, centre, radius, [int(c) for c in colour], -1, cv2.LINE_AA)
    return image


def _bands(rng: np.random.Generator, height: int, width: int, checks: bool) -> np.ndarray:
    a, b = _colours(rng)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(10, 40)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u = x * np.cos(angle) + y * np.sin(angle)
    mask = (u // (period / 2)) % 2
    if checks:
        v = -x * np.sin(angle) + y * np.cos(angle)
        mask = (mask + (v // (period / 2)) % 2) % 2
    return np.where(mask[..., None] > 0, a, b).astype(np.uint8)


def draw(label: str, rng: np.random.Generator) -> np.ndarray:
    """One RGB image of class ``label``."""
    height, width = (int(v) for v in rng.integers(160, 360, 2))
    if label == "circles":
        image = _circles(rng, height, width)
    else:
        image = _bands(rng, height, width, checks=label == "checkerboard")
    noise = rng.normal(0, rng.uniform(0, 12), image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
    return image


def write_dataset(root: Path, per_class: int = 30, seed: int = 0) -> Path:
    """``root/<class>/<n>.png`` for every class."""
    rng = np.random.default_rng(seed)
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for number in range(per_class):
            write_rgb(root / label / f"{number:03d}.png", draw(label, rng))
    return root
