"""Decoding untrusted bytes: RGB out, bombs and broken files refused."""

from __future__ import annotations

import io
import os
import struct
import zlib

import cv2
import numpy as np
import pytest

from annoserver.iiif import ImageTooLarge, UndecodableImage, decode_image
from annoserver.iiif.decode import image_header


def encode(rgb: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def gradient(width=64, height=48) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    return np.dstack(np.broadcast_arrays(x, y, (x + y) / 2)).astype(np.uint8)


def png_claiming(width: int, height: int) -> bytes:
    """A real PNG whose IHDR (with a valid CRC) claims ``width`` × ``height``."""
    data = bytearray(encode(gradient(8, 8), ".png"))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode(gradient(8, 8), ".jpg"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_cap_is_in_the_environment_for_opencv():
    assert int(os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"]) > 0


@pytest.mark.parametrize("ext", [".png", ".bmp", ".webp", ".tiff"])
def test_lossless_round_trip_in_rgb_order(ext):
    rgb = gradient()
    rgb[0, 0] = (255, 0, 0)
    decoded = decode_image(encode(rgb, ext))
    assert decoded.dtype == np.uint8 and decoded.flags.c_contiguous
    assert np.array_equal(decoded, rgb)


def test_jpeg_and_greyscale_come_out_as_three_channels():
    decoded = decode_image(encode(gradient(), ".jpg"))
    assert decoded.shape == (48, 64, 3)
    ok, grey = cv2.imencode(".png", np.full((5, 7), 200, np.uint8))
    assert decode_image(grey.tobytes()).shape == (5, 7, 3)


@pytest.mark.parametrize(("ext", "kind"), [(".png", "PNG"), (".jpg", "JPEG"), (".bmp", "BMP"),
                                           (".webp", "WebP")])
def test_header_dimensions(ext, kind):
    assert image_header(encode(gradient(64, 48), ext)) == (kind, 64, 48)


def test_header_dimensions_of_gif_and_lossless_webp():
    assert image_header(b"GIF89a" + struct.pack("<HH", 300, 200) + b"\0" * 20) == ("GIF", 300, 200)
    ok, lossless = cv2.imencode(".webp", np.zeros((33, 65, 3), np.uint8),
                                [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert image_header(lossless.tobytes()) == ("WebP", 65, 33)
    assert image_header(b"not an image") is None


def test_png_bomb_is_refused_from_its_header():
    bomb = png_claiming(100_000, 100_000)
    with pytest.raises(ImageTooLarge) as caught:
        decode_image(bomb)
    assert caught.value.status == 413 and "100000x100000" in caught.value.detail


def test_opencv_itself_refuses_the_bomb_too():
    # The second line of defence (OPENCV_IO_MAX_IMAGE_PIXELS), for formats whose header is
    # not read here.
    def opencv_decodes(data: bytes) -> bool:
        try:
            return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
        except cv2.error:
            return False

    assert opencv_decodes(png_claiming(8, 8))
    assert not opencv_decodes(png_claiming(60_000, 60_000))


def test_jpeg_bomb_and_small_caps():
    with pytest.raises(ImageTooLarge):
        decode_image(jpeg_claiming(60_000, 60_000))
    with pytest.raises(ImageTooLarge):
        decode_image(encode(gradient(100, 100), ".png"), max_pixels=9_999)
    with pytest.raises(ImageTooLarge):  # formats without a header reader: checked after decoding
        decode_image(encode(gradient(100, 100), ".tiff"), max_pixels=9_999)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tiff"])
def test_truncated_images_are_undecodable(ext):
    data = encode(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8), ext)
    with pytest.raises(UndecodableImage) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.status == 422


@pytest.mark.parametrize("data", [b"", b"garbage", b"<html><body>Not found</body></html>",
                                  b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"\xff\xd8\xff" + b"\0" * 40])
def test_non_images_are_undecodable(data):
    with pytest.raises(UndecodableImage):
        decode_image(data)


def test_exif_orientation_is_ignored():
    image_module = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    exif = image_module.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    image_module.fromarray(gradient(64, 48)).save(buffer, "JPEG", exif=exif)
    assert decode_image(buffer.getvalue()).shape == (48, 64, 3)  # pixels as stored
