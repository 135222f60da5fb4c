"""Render ``demo/images/stamped.jpg``: a printed letter with a library stamp and a watermark.

The demo's "page with a stamp or watermark" canvas. Drawn with OpenCV's built-in Hershey
fonts only, so the output is the same on every machine; the committed JPEG is this script's
output (``python manifests/make_stamped_page.py``). CC0, like the rest of the demo.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parent / "demo" / "images" / "stamped.jpg"
PAPER = (222, 236, 242)  # BGR: warm off-white
INK = (40, 38, 36)
STAMP = (48, 52, 178)  # BGR: faded red
TEXT = ["Sir,", "",
        "I have the honour to acknowledge the receipt of your letter of the",
        "fourteenth instant, together with the catalogue of the collection",
        "which the Society proposes to deposit in this Library.",
        "",
        "The Committee has examined the list with great interest, and will",
        "be glad to receive the volumes at the earliest convenience of the",
        "Society. They will be kept together in the north reading room,",
        "where readers may consult them on every weekday.",
        "",
        "I remain, Sir, your obedient servant,", "", "The Librarian"]


def _stamp(page: np.ndarray, centre: tuple[int, int]) -> None:
    """A round, slightly rotated rubber stamp, drawn on its own layer and blended in."""
    layer = np.zeros_like(page)
    cx, cy = centre
    cv2.circle(layer, centre, 120, STAMP, 6, cv2.LINE_AA)
    cv2.circle(layer, centre, 100, STAMP, 2, cv2.LINE_AA)
    for text, dy, scale in (("PUBLIC", -30, 1.3), ("LIBRARY", 15, 1.3), ("1897", 60, 1.1)):
        (w, _h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_TRIPLEX, scale, 3)
        cv2.putText(layer, text, (cx - w // 2, cy + dy), cv2.FONT_HERSHEY_TRIPLEX, scale,
                    STAMP, 3, cv2.LINE_AA)
    turn = cv2.getRotationMatrix2D((float(cx), float(cy)), 14, 1.0)
    layer = cv2.warpAffine(layer, turn, (page.shape[1], page.shape[0]))
    mask = layer.any(axis=2)
    page[mask] = (0.25 * page[mask] + 0.75 * layer[mask]).astype(np.uint8)


def _watermark(page: np.ndarray, text: str) -> None:
    """A faint diagonal word across the sheet, as a paper watermark shows through."""
    layer = np.zeros(page.shape[:2], np.uint8)
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 6, 18)
    cx, cy = page.shape[1] // 2, page.shape[0] // 2
    cv2.putText(layer, text, (cx - w // 2, cy + h // 2), cv2.FONT_HERSHEY_SIMPLEX, 6, 255, 18,
                cv2.LINE_AA)
    turn = cv2.getRotationMatrix2D((float(cx), float(cy)), 35, 1.0)
    layer = cv2.warpAffine(layer, turn, (page.shape[1], page.shape[0]))
    page[:] = (page - (layer[..., None] / 255.0) * 22).clip(0, 255).astype(np.uint8)


def render() -> np.ndarray:
    """The page, 1000 × 1400 pixels (BGR)."""
    page = np.full((1400, 1000, 3), PAPER, np.uint8)
    _watermark(page, "SPECIMEN")
    cv2.putText(page, "THE PUBLIC LIBRARY", (90, 130), cv2.FONT_HERSHEY_TRIPLEX, 1.6, INK, 2,
                cv2.LINE_AA)
    cv2.line(page, (90, 160), (910, 160), INK, 2, cv2.LINE_AA)
    cv2.putText(page, "Reading Room, 3rd March 1897", (560, 220), cv2.FONT_HERSHEY_COMPLEX,
                0.8, INK, 1, cv2.LINE_AA)
    for n, line in enumerate(TEXT):
        cv2.putText(page, line, (90, 320 + n * 48), cv2.FONT_HERSHEY_COMPLEX, 0.8, INK, 1,
                    cv2.LINE_AA)
    _stamp(page, (720, 1120))
    return page


if __name__ == "__main__":
    cv2.imwrite(str(OUT), render(), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {OUT}")
