"""Images, synthetic document pages, degradations and metrics for the super-resolution models.

Used by ``scripts/train_superres.py`` (training, export, evaluation). Needs numpy, OpenCV,
Pillow and scikit-image (the export virtualenv); torch-free.

Every image comes from a package or is rendered here:

* ``skimage.data`` sample images bundled in the scikit-image 0.26.0 wheel (no download); each
  one's licence, as its ``skimage.data`` docstring states it, is in ``SKIMAGE_IMAGES``.
* synthetic document pages rendered with OpenCV's Hershey fonts (``render_page``): paper-like
  backgrounds (tone, uneven illumination, stains, grain, show-through), ink of several
  colours and weights, one or two columns, headings, rules, occasional printed plates made
  from *training* photographs, scanner blur. Produced here, no third-party content.

The held-out set (``HELDOUT``) is fixed by name and never enters training: three photographs,
the real scanned page ``page`` and two synthetic pages rendered with seeds and fonts that the
training pages never use.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

# name -> (kind, licence of the picture as scikit-image states it)
SKIMAGE_IMAGES: dict[str, tuple[str, str]] = {
    "astronaut": ("photo", "public domain (NASA)"),
    "camera": ("photo", "CC0 (Lav Varshney)"),
    "chelsea": ("photo", "CC0 (Stefan van der Walt)"),
    "coffee": ("photo", "CC0 (Rachel Michetti)"),
    "rocket": ("photo", "public domain (SpaceX)"),
    "brick": ("photo", "CC0 (CC0Textures)"),
    "grass": ("photo", "CC0 (CC0Textures)"),
    "gravel": ("photo", "CC0 (CC0Textures)"),
    "coins": ("photo", "no known copyright restrictions (Brooklyn Museum)"),
    "cell": ("photo", "CC0"),
    "immunohistochemistry": ("photo", "no known copyright restrictions"),
    "moon": ("photo", "no image-specific statement; scikit-image BSD-3-Clause"),
    "hubble_deep_field": ("photo", "public domain (NASA)"),
    "retina": ("photo", "CC0 1.0"),
    "text": ("document", "public domain (Wikimedia Commons File:Corner.png)"),
    "page": ("document", "no image-specific statement; scikit-image BSD-3-Clause"),
}

TRAIN_PHOTOS = (
    "camera", "chelsea", "brick", "grass", "gravel", "coins", "cell",
    "immunohistochemistry", "moon", "hubble_deep_field", "retina",
)
TRAIN_DOCUMENTS = ("text",)
HELDOUT_PHOTOS = ("coffee", "rocket", "astronaut")
HELDOUT_DOCUMENTS = ("page",)

F = cv2  # short alias for the font constants below
TRAIN_FONTS = (
    F.FONT_HERSHEY_SIMPLEX, F.FONT_HERSHEY_PLAIN, F.FONT_HERSHEY_DUPLEX, F.FONT_HERSHEY_COMPLEX,
    F.FONT_HERSHEY_COMPLEX_SMALL, F.FONT_HERSHEY_SCRIPT_SIMPLEX,
    F.FONT_HERSHEY_COMPLEX | F.FONT_ITALIC, F.FONT_HERSHEY_SIMPLEX | F.FONT_ITALIC,
)
HELDOUT_FONTS = (
    F.FONT_HERSHEY_TRIPLEX, F.FONT_HERSHEY_TRIPLEX | F.FONT_ITALIC, F.FONT_HERSHEY_SCRIPT_COMPLEX,
)
N_TRAIN_PAGES = 24
TRAIN_PAGE_SEED0 = 1000  # training pages use seeds 1000 .. 1000 + N_TRAIN_PAGES - 1
# held-out synthetic pages: (name, seed, cap height range in pixels); small print and book print
HELDOUT_PAGES = (
    ("synthetic-page-small-print", 90001, (7.0, 10.0)),
    ("synthetic-page-book-print", 90002, (11.0, 16.0)),
)
HELDOUT = HELDOUT_PHOTOS + HELDOUT_DOCUMENTS + tuple(name for name, _, _ in HELDOUT_PAGES)

# letter frequencies of English text, for pseudo-words
_LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
_FREQ = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4,
                  2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])
_FREQ = _FREQ / _FREQ.sum()


def _rgb(image: np.ndarray) -> np.ndarray:
    """Any skimage sample -> uint8 RGB."""
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        image = np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def skimage_image(name: str) -> np.ndarray:
    """One bundled scikit-image sample as uint8 RGB (grayscale ones replicated)."""
    from skimage import data

    return _rgb(getattr(data, name)())


def _word(rng: np.random.Generator) -> str:
    n = int(rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8, 9, 10, 11]))
    word = "".join(rng.choice(list(_LETTERS), size=n, p=_FREQ))
    roll = rng.random()
    if roll < 0.12:
        word = word.capitalize()
    elif roll < 0.14:
        word = word.upper()
    elif roll < 0.17:
        word = str(int(rng.integers(1, 1900)))
    if rng.random() < 0.12:
        word += str(rng.choice(list(".,;:!?")))
    return word


def _text_mask(rng, height, width, fonts, cap_px, ss, plates, plate_boxes):
    """Render a page's ink as a float mask (supersampled ``ss`` times) and list plate boxes."""
    hs, ws = height * ss, width * ss
    mask = np.zeros((hs, ws), np.uint8)
    margin_x = int(rng.uniform(0.06, 0.12) * width) * ss
    y = int(rng.uniform(0.05, 0.1) * height) * ss
    columns = 2 if rng.random() < 0.35 and width >= 400 else 1
    gutter = int(0.04 * width) * ss
    col_w = (ws - 2 * margin_x - (columns - 1) * gutter) // columns
    body_font = int(rng.choice(fonts))
    cap = rng.uniform(*cap_px)

    def scale_for(font, cap_height):
        (_, h), _ = cv2.getTextSize("H", font, 1.0, 1)
        return cap_height * ss / h

    # a heading, centred, in a larger size (sometimes a second font)
    head_font = int(rng.choice(fonts))
    head_scale = scale_for(head_font, cap * rng.uniform(1.4, 2.2))
    head_thick = max(1, int(round(head_scale * rng.uniform(1.0, 2.2))))
    heading = " ".join(_word(rng) for _ in range(int(rng.integers(1, 5)))).upper()
    (tw, th), _ = cv2.getTextSize(heading, head_font, head_scale, head_thick)
    y += th
    cv2.putText(mask, heading, ((ws - tw) // 2, y), head_font, head_scale, 255, head_thick,
                cv2.LINE_AA)
    y += int(th * rng.uniform(1.2, 2.0))
    if rng.random() < 0.5:  # a rule under the heading
        cv2.line(mask, (margin_x, y), (ws - margin_x, y), 255, max(1, ss), cv2.LINE_AA)
        y += int(th * 0.8)
    top = y
    scale = scale_for(body_font, cap)
    thick = max(1, int(round(scale * rng.uniform(0.8, 2.0))))
    (_, line_h), _ = cv2.getTextSize("Hg", body_font, scale, thick)
    leading = int(line_h * rng.uniform(1.5, 2.1))
    space = cv2.getTextSize(" ", body_font, scale, thick)[0][0]
    plate_box = None
    if plates and rng.random() < 0.5:  # a printed plate across the first column's middle
        ph = int(rng.uniform(0.2, 0.35) * hs)
        py = top + int(rng.uniform(0.1, 0.4) * (hs - top - ph))
        plate_box = (py, py + ph, margin_x, margin_x + col_w)
    for c in range(columns):
        x0 = margin_x + c * (col_w + gutter)
        y = top
        while y + leading < hs - int(0.06 * hs):
            if plate_box and c == 0 and plate_box[0] - leading <= y <= plate_box[1] + leading:
                y = plate_box[1] + 2 * leading
                continue
            x = x0 + (int(rng.uniform(1.5, 4) * space) if rng.random() < 0.15 else 0)
            line_end = x0 + col_w - (int(rng.uniform(0.2, 0.7) * col_w) if rng.random() < 0.1
                                     else 0)
            while True:
                word = _word(rng)
                (ww, _), _ = cv2.getTextSize(word, body_font, scale, thick)
                if x + ww > line_end:
                    break
                cv2.putText(mask, word, (x, y + line_h), body_font, scale, 255, thick,
                            cv2.LINE_AA)
                x += ww + space
            y += leading
    if plate_box:
        plate_boxes.append(tuple(v // ss for v in plate_box))
    return mask


def render_page(seed: int, fonts=TRAIN_FONTS, height: int = 900, width: int = 700,
                cap_px: tuple[float, float] = (6.0, 18.0),
                plates: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """A synthetic printed page (uint8 RGB, ``height`` x ``width``), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    ss = 2
    boxes: list[tuple[int, int, int, int]] = []
    mask = _text_mask(rng, height, width, fonts, cap_px, ss, plates, boxes)
    mask = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), rng.uniform(0.25, 0.5) * ss)
    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
    # paper: tone, low-frequency illumination, stains, grain
    tone = np.sort(rng.uniform([225, 205, 170], [252, 245, 238]))[::-1]
    if rng.random() < 0.25:
        tone = np.full(3, rng.uniform(200, 250))  # grey / white paper
    paper = np.ones((height, width, 3), np.float32) * tone.astype(np.float32)
    light = cv2.resize(rng.normal(0, 1, (5, 4)).astype(np.float32), (width, height),
                       interpolation=cv2.INTER_CUBIC)
    paper += light[:, :, None] * rng.uniform(2, 12)
    for _ in range(int(rng.integers(0, 4))):
        stain = np.zeros((height, width), np.float32)
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(10, width // 4)), int(rng.integers(10, height // 4)))
        cv2.ellipse(stain, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        stain = cv2.GaussianBlur(stain, (0, 0), rng.uniform(5, 25))
        paper -= stain[:, :, None] * rng.uniform(5, 25) * np.array([0.6, 0.8, 1.0], np.float32)
    if rng.random() < 0.5:  # show-through of the verso
        verso = _text_mask(rng, height, width, fonts, cap_px, ss, (), [])
        verso = cv2.resize(verso.astype(np.float32) / 255.0, (width, height),
                           interpolation=cv2.INTER_AREA)[:, ::-1]
        verso = cv2.GaussianBlur(verso, (0, 0), 1.5)
        paper -= verso[:, :, None] * rng.uniform(15, 45)
    for y0, y1, x0, x1 in boxes:  # printed plates: a training photo in monochrome
        plate = plates[int(rng.integers(0, len(plates)))]
        ph, pw = plate.shape[:2]
        aspect = (x1 - x0) / (y1 - y0)  # crop the photo to the box's aspect, then fit
        if pw / ph > aspect:
            cw = int(ph * aspect)
            plate = plate[:, (pw - cw) // 2 : (pw - cw) // 2 + cw]
        else:
            ch = int(pw / aspect)
            plate = plate[(ph - ch) // 2 : (ph - ch) // 2 + ch]
        plate = cv2.resize(plate, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(plate, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        paper[y0:y1, x0:x1] *= (0.15 + 0.85 * grey)[:, :, None]
    ink = np.array(rng.choice([[20, 18, 16], [45, 30, 20], [30, 30, 45], [70, 55, 40]]),
                   np.float32) + rng.uniform(-10, 10)
    alpha = mask[:, :, None] * rng.uniform(0.75, 1.0)
    page = paper * (1 - alpha) + ink * alpha
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.2, 0.5))  # scanner optics
    page += rng.normal(0, rng.uniform(1.0, 4.0), page.shape).astype(np.float32)
    return np.clip(page + 0.5, 0, 255).astype(np.uint8)


def heldout_images() -> dict[str, tuple[str, np.ndarray]]:
    """The fixed held-out set: name -> (kind, uint8 RGB)."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    for name in HELDOUT_PHOTOS + HELDOUT_DOCUMENTS:
        out[name] = (SKIMAGE_IMAGES[name][0], skimage_image(name))
    for name, seed, cap_px in HELDOUT_PAGES:
        out[name] = ("document", render_page(seed, HELDOUT_FONTS, 640, 512, cap_px))
    return out


def training_images() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(photos, documents) for training, uint8 RGB; never any held-out image or font."""
    assert not set(TRAIN_PHOTOS + TRAIN_DOCUMENTS) & set(HELDOUT)
    assert not set(TRAIN_FONTS) & set(HELDOUT_FONTS)
    photos = [skimage_image(name) for name in TRAIN_PHOTOS]
    documents = [skimage_image(name) for name in TRAIN_DOCUMENTS]
    colour_plates = tuple(p for p, name in zip(photos, TRAIN_PHOTOS, strict=True)
                          if name in ("camera", "chelsea", "coins", "moon"))
    for i in range(N_TRAIN_PAGES):
        documents.append(render_page(TRAIN_PAGE_SEED0 + i, TRAIN_FONTS, plates=colour_plates))
    return photos, documents


# --- colour and metrics -------------------------------------------------------------------

def luma(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 luma in [0, 1] (what the network sees), float32."""
    rgb = rgb.astype(np.float32) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def y_bt601(rgb_u8: np.ndarray) -> np.ndarray:
    """Studio-swing BT.601 Y in [16, 235] (the usual super-resolution PSNR-Y), float64."""
    rgb = rgb_u8.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def psnr_y(a_u8: np.ndarray, b_u8: np.ndarray, border: int) -> float:
    """PSNR on Y (BT.601) between two uint8 RGB images, ``border`` pixels cropped."""
    ya, yb = y_bt601(a_u8), y_bt601(b_u8)
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    mse = float(np.mean((ya - yb) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so both sides are multiples of ``scale``."""
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


def downscale_area(hr: np.ndarray, scale: int) -> np.ndarray:
    """The evaluation degradation: exact box average (OpenCV INTER_AREA) by ``scale``."""
    h, w = hr.shape[:2]
    return cv2.resize(hr, (w // scale, h // scale), interpolation=cv2.INTER_AREA)


# --- training pairs -----------------------------------------------------------------------

@dataclass
class PairSampler:
    """Random (LR, HR) luma patch pairs with the training degradations."""

    photos: list[np.ndarray]
    documents: list[np.ndarray]
    scale: int
    patch: int  # LR patch side
    seed: int
    doc_fraction: float = 0.5

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)
        self.photo_y = [(luma(p) * 255.0).astype(np.float32) for p in self.photos]
        self.doc_y = [(luma(d) * 255.0).astype(np.float32) for d in self.documents]

    def _crop(self) -> np.ndarray:
        rng, side = self.rng, self.patch * self.scale
        pool = self.doc_y if rng.random() < self.doc_fraction else self.photo_y
        best = None
        for _ in range(4):  # prefer crops with some structure (no blank margins or sky)
            image = pool[int(rng.integers(0, len(pool)))]
            h, w = image.shape
            if h < side or w < side:
                continue
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = image[y : y + side, x : x + side]
            if best is None or crop.std() > best.std():
                best = crop
            if crop.std() > 8.0:
                break
        if rng.random() < 0.5:
            best = best[:, ::-1]
        if rng.random() < 0.5:
            best = best[::-1]
        if rng.random() < 0.5:
            best = best.T
        return np.ascontiguousarray(best)

    def _degrade(self, hr: np.ndarray) -> np.ndarray:
        rng, s = self.rng, self.scale
        size = (hr.shape[1] // s, hr.shape[0] // s)
        roll = rng.random()
        if roll < 0.45:
            lr = cv2.resize(hr, size, interpolation=cv2.INTER_AREA)
        elif roll < 0.75:  # antialiased bicubic (Pillow, like MATLAB imresize)
            lr = np.asarray(Image.fromarray(hr).resize(size, Image.Resampling.BICUBIC))
        elif roll < 0.85:
            lr = np.asarray(Image.fromarray(hr).resize(size, Image.Resampling.LANCZOS))
        else:  # a slightly soft derivative
            blurred = cv2.GaussianBlur(hr, (0, 0), rng.uniform(0.3, 0.6) * s)
            lr = cv2.resize(blurred, size, interpolation=cv2.INTER_AREA)
        if rng.random() < 0.25:
            lr = lr + rng.normal(0, rng.uniform(0.5, 3.0), lr.shape).astype(np.float32)
        lr = np.clip(lr + 0.5, 0, 255).astype(np.uint8)
        if rng.random() < 0.3:
            buf = io.BytesIO()
            Image.fromarray(lr).save(buf, format="JPEG", quality=int(rng.integers(70, 96)))
            lr = np.asarray(Image.open(buf).convert("L"))
        return lr.astype(np.float32) / 255.0

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs: LR [n, 1, p, p] and HR [n, 1, p*s, p*s], float32 in [0, 1]."""
        hrs, lrs = [], []
        for _ in range(n):
            hr = self._crop()
            lrs.append(self._degrade(hr))
            hrs.append(np.clip(hr, 0, 255) / 255.0)
        return (np.stack(lrs)[:, None].astype(np.float32),
                np.stack(hrs)[:, None].astype(np.float32))
