"""Enhancing an image of any size in overlapping tiles, blended without seams.

A super-resolution graph sees each input on its own, with zero padding at its edges, so cutting
an image into tiles and enhancing them separately leaves seams. :func:`enhance_tiled` gives each
tile ``pad`` pixels of context on every side (cropped away afterwards: with ``pad`` at least the
receptive field's radius, a tile's kept pixels equal the untiled result), and cross-fades
neighbouring tiles linearly over ``overlap`` pixels, so what differences remain (a model with a
wider field, rounding) fade instead of stepping. Memory is the output plus one tile: tiles are
written in raster order and blended into the already written neighbours in place, never
accumulated into a full-size float buffer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Enhance = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TileSettings:
    """Input-pixel sizes of the tiling.

    Attributes:
        tile: Largest core of a tile (the input is cut into equal cores of at most this).
        pad: Context on every side of a tile, enhanced and then cropped away.
        overlap: How far a tile reaches into its predecessor (left or above) to blend.
    """

    tile: int = 320  # a 512-px IIIF tile at ×2 with its context (256 + 2 × 8) is one window
    pad: int = 8
    overlap: int = 8


DEFAULT_TILES = TileSettings()


def enhance_tiled(image: np.ndarray, enhance: Enhance, scale: int,
                  settings: TileSettings = DEFAULT_TILES) -> np.ndarray:
    """Enhance an RGB ``uint8`` image ``scale`` × in tiles; the same size as one run would give.

    Args:
        image: ``H × W × 3`` RGB ``uint8``.
        enhance: The model on one tile: ``h × w × 3`` → ``scale·h × scale·w × 3``.
        scale: The model's factor.
        settings: Tile, context and blending sizes, in input pixels.
    """
    height, width = image.shape[:2]
    out = np.zeros((height * scale, width * scale, 3), np.uint8)
    for y0, y1, fade_y in _spans(height, settings.tile, settings.overlap):
        for x0, x1, fade_x in _spans(width, settings.tile, settings.overlap):
            tile = _enhanced_window(image, enhance, scale, (x0, y0, x1, y1), settings.pad)
            _blend_into(out, tile, x0 * scale, y0 * scale, fade_x * scale, fade_y * scale)
    return out


def _spans(length: int, tile: int, overlap: int) -> list[tuple[int, int, int]]:
    """``(start, end, overlap with the previous)`` of the fewest tiles of about ``tile``.

    ``length`` is cut into equal cores of at most ``tile``; each but the first reaches back
    ``overlap`` pixels into its predecessor, where the two are cross-faded.
    """
    count = max(1, -(-length // max(1, tile)))
    bounds = [round(i * length / count) for i in range(count + 1)]
    spans = []
    for index in range(count):
        start = max(0, bounds[index] - (overlap if index else 0))
        spans.append((start, bounds[index + 1], bounds[index] - start))
    return spans


def _enhanced_window(image: np.ndarray, enhance: Enhance, scale: int,
                     box: tuple[int, int, int, int], pad: int) -> np.ndarray:
    """Enhance ``box`` (x0, y0, x1, y1) with ``pad`` pixels of context, then drop the context."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    px0, py0 = max(0, x0 - pad), max(0, y0 - pad)
    px1, py1 = min(width, x1 + pad), min(height, y1 + pad)
    result = enhance(np.ascontiguousarray(image[py0:py1, px0:px1]))
    expected = ((py1 - py0) * scale, (px1 - px0) * scale)
    if result.shape[:2] != expected:
        raise ValueError(f"the model gave {result.shape[:2]} for a {expected} window at "
                         f"scale {scale}: not a super-resolution graph of that factor")
    top, left = (y0 - py0) * scale, (x0 - px0) * scale
    return result[top:top + (y1 - y0) * scale, left:left + (x1 - x0) * scale]


def _blend_into(out: np.ndarray, tile: np.ndarray, x: int, y: int, fade_x: int,
                fade_y: int) -> None:
    """Write ``tile`` at (x, y), cross-faded into the tiles already written.

    The tile's weight rises from 0 over its first ``fade_x`` columns and ``fade_y`` rows,
    where the previous tiles (left and above) lie.
    """
    h, w = tile.shape[:2]
    weight_x = np.ones(w, np.float32)
    weight_y = np.ones(h, np.float32)
    fade_x, fade_y = min(fade_x, w), min(fade_y, h)
    weight_x[:fade_x] = (np.arange(fade_x, dtype=np.float32) + 0.5) / max(fade_x, 1)
    weight_y[:fade_y] = (np.arange(fade_y, dtype=np.float32) + 0.5) / max(fade_y, 1)
    target = out[y:y + h, x:x + w]
    if not fade_x and not fade_y:
        target[...] = tile
        return
    weight = (weight_y[:, None] * weight_x[None, :])[..., None]
    mixed = tile.astype(np.float32) * weight + target.astype(np.float32) * (1 - weight)
    target[...] = np.clip(mixed.round(), 0, 255).astype(np.uint8)
