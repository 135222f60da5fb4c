from __future__ import annotations

import numpy as np
import pytest

from annoserver.inference import InvalidImage, Transform
from annoserver.inference.preprocessing import check_image, fit, to_tensor


def _image(height, width, value=(10, 20, 30)):
    return np.broadcast_to(np.asarray(value, np.uint8), (height, width, 3)).copy()


def test_stretch_scales_each_axis():
    out, meta = fit(_image(10, 20), (5, 5), "stretch")
    assert out.shape == (5, 5, 3)
    assert (meta.scale_x, meta.scale_y, meta.offset_x, meta.offset_y) == (0.25, 0.5, 0, 0)
    np.testing.assert_allclose(meta.to_image([[0, 0, 5, 5]]), [[0, 0, 20, 10]])


def test_letterbox_pads_and_maps_back():
    out, meta = fit(_image(10, 20, (200, 100, 50)), (8, 8), "letterbox", pad_value=7)
    assert out.shape == (8, 8, 3)
    assert meta == Transform(20, 10, 0.4, 0.4, 0, 2)
    assert (out[:2] == 7).all() and (out[6:] == 7).all()
    assert (out[2:6] == (200, 100, 50)).all()
    # A model box over the whole picture area maps to the whole image; padding is clipped.
    np.testing.assert_allclose(meta.to_image([[0, 2, 8, 6]]), [[0, 0, 20, 10]])
    np.testing.assert_allclose(meta.to_image([[0, 0, 8, 8]]), [[0, 0, 20, 10]])
    np.testing.assert_allclose(meta.to_image([[2, 3, 4, 5]]), [[5, 2.5, 10, 7.5]])


def test_shorter_side_crop_takes_the_centre():
    image = _image(10, 20)
    image[:, :5] = 0  # left quarter black: cropped away
    image[:, 15:] = 255
    out, meta = fit(image, (8, 8), "shorter-side-crop")
    assert out.shape == (8, 8, 3)
    assert (meta.scale_x, meta.scale_y) == (0.8, 0.8)
    assert (meta.offset_x, meta.offset_y) == (-4, 0)
    np.testing.assert_allclose(meta.to_image([[0, 0, 8, 8]]), [[5, 0, 15, 10]])


def test_longest_side_keeps_the_aspect_ratio():
    out, meta = fit(_image(10, 40), (20, 20), "longest-side")
    assert out.shape == (5, 20, 3)
    assert (meta.scale_x, meta.scale_y) == (0.5, 0.5)
    unchanged, identity = fit(_image(10, 40), None, "longest-side")
    assert unchanged.shape == (10, 40, 3) and identity == Transform(40, 10)


def test_to_tensor_normalises_reorders_and_lays_out():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    nchw = to_tensor([image], "RGB", mean, std, "NCHW", np.float32)
    expected = (image / 255.0 - mean) / std
    assert nchw.shape == (1, 3, 2, 3) and nchw.dtype == np.float32
    np.testing.assert_allclose(nchw[0], expected.transpose(2, 0, 1), rtol=1e-5)
    nhwc = to_tensor([image], "BGR", (0, 0, 0), (1, 1, 1), "NHWC", np.float32)
    np.testing.assert_allclose(nhwc[0], image[..., ::-1] / 255.0, rtol=1e-6)
    raw = to_tensor([image], "RGB", mean, std, "NHWC", np.uint8)
    assert raw.dtype == np.uint8 and (raw[0] == image).all()


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                                 np.zeros((0, 4, 3), np.uint8), np.zeros((4, 4, 4), np.uint8),
                                 [[1, 2, 3]]])
def test_check_image_refuses_non_rgb_uint8(bad):
    with pytest.raises(InvalidImage) as caught:
        check_image(bad)
    assert caught.value.status == 400
