"""Decoding untrusted image bytes into RGB ``uint8`` arrays, refusing bombs and broken files.

OpenCV (``opencv-python-headless``) decodes; Pillow is not used on untrusted bytes. OpenCV reads
its own pixel cap, ``OPENCV_IO_MAX_IMAGE_PIXELS``, from the environment once, so it must be set
before ``cv2`` is first imported anywhere in the process: this module sets it (keeping a value
an operator already set) before its own ``import cv2``. Because some other module may have
imported ``cv2`` first, :func:`decode_image` also reads the dimensions the header declares
(PNG, JPEG, GIF, BMP, WebP) and refuses an image over the cap before decoding a single pixel,
and checks the decoded size too. A JPEG without its end-of-image marker is refused as
truncated: libjpeg would otherwise fill the missing part with grey and carry on.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

DEFAULT_MAX_PIXELS = 64_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(DEFAULT_MAX_PIXELS))

import cv2  # noqa: E402  (the environment must be set first; see the module docstring)
import numpy as np  # noqa: E402

from annoserver.iiif.errors import ImageTooLarge, UndecodableImage  # noqa: E402

_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7,
                       0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_RGB_READ = hasattr(cv2, "IMREAD_COLOR_RGB")  # OpenCV >= 4.10 decodes straight to RGB
# Always 8-bit, 3 channels; EXIF orientation ignored because IIIF pixels are already oriented.
_READ_FLAGS = ((cv2.IMREAD_COLOR_RGB if _RGB_READ else cv2.IMREAD_COLOR)
               | cv2.IMREAD_IGNORE_ORIENTATION)


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes into an ``H × W × 3`` RGB ``uint8`` array.

    Args:
        data: The encoded image.
        max_pixels: Largest ``width * height`` accepted.

    Returns:
        The pixels, C-contiguous.

    Raises:
        ImageTooLarge: The declared or decoded size exceeds ``max_pixels``.
        UndecodableImage: The bytes are empty, corrupt, truncated, or not an image.
    """
    if not data:
        raise UndecodableImage("the image is empty")
    header = image_header(data)
    if header is not None:
        kind, width, height = header
        if width * height > max_pixels:
            raise ImageTooLarge(f"the {kind} declares {width}x{height} pixels; "
                                f"the limit is {max_pixels}")
        if kind == "JPEG" and not _jpeg_complete(data):
            raise UndecodableImage("the JPEG is truncated (no end-of-image marker)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), _READ_FLAGS)
    except cv2.error as error:
        if "MAX_IMAGE_PIXELS" in str(error):
            raise ImageTooLarge("the image exceeds OpenCV's pixel limit") from error
        raise UndecodableImage(f"the image could not be decoded ({error})") from error
    if image is None or image.size == 0:
        raise UndecodableImage("the bytes are not an image OpenCV can decode")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise ImageTooLarge(f"the image has {image.shape[1]}x{image.shape[0]} pixels; "
                            f"the limit is {max_pixels}")
    if not _RGB_READ:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(image)


def image_header(data: bytes) -> tuple[str, int, int] | None:
    """``(format, width, height)`` as the header declares them, or ``None`` if not recognised."""
    for reader in (_png, _jpeg, _gif, _bmp, _webp):
        try:
            found = reader(data)
        except (struct.error, IndexError):
            found = None
        if found is not None:
            return found
    return None


def _png(data: bytes) -> tuple[str, int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return "PNG", width, height
    return None


def _gif(data: bytes) -> tuple[str, int, int] | None:
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return "GIF", width, height
    return None


def _bmp(data: bytes) -> tuple[str, int, int] | None:
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return "BMP", abs(width), abs(height)
    return None


def _webp(data: bytes) -> tuple[str, int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return ("WebP", 1 + int.from_bytes(data[24:27], "little"),
                1 + int.from_bytes(data[27:30], "little"))
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return "WebP", 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return "WebP", width & 0x3FFF, height & 0x3FFF
    return None


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """Yield ``(marker, offset)`` for each marker up to and including the first SOS."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        yield marker, offset
        if marker == 0xDA:
            return
        if marker in _JPEG_STANDALONE:
            offset += 2
        else:
            offset += 2 + struct.unpack(">H", data[offset + 2:offset + 4])[0]


def _jpeg(data: bytes) -> tuple[str, int, int] | None:
    if data[:3] != b"\xff\xd8\xff":
        return None
    for marker, offset in _jpeg_segments(data):
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[offset + 5:offset + 9])
            return "JPEG", width, height
    return None


def _jpeg_complete(data: bytes) -> bool:
    """Whether an end-of-image marker follows the first start-of-scan (so not truncated)."""
    scan = next((offset for marker, offset in _jpeg_segments(data) if marker == 0xDA), None)
    return scan is not None and data.find(b"\xff\xd9", scan) != -1
