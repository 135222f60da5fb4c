"""The built-in ``text-lines`` kind: DB postprocessing on hand-made probability maps."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from annoserver.inference import Box, Boxes, ModelConfigError, Runtime, Transform
from annoserver.inference.model_config import load_model_config
from tests.inference.conftest import header
from tests.inference.onnx_factory import write_model


@pytest.fixture(scope="module")
def text_lines(kinds):
    """The plugin module (plugins/ is not a package: it is loaded by the plugin manager)."""
    return sys.modules[kinds["text-lines"].__module__]


def bars_map():
    """Two text-line kernels (0.9 and 0.8) on a 200 × 300 map, plus things to be dropped."""
    prob = np.zeros((200, 300), np.float32)
    prob[40:55, 30:250] = 0.9  # bar A: pixel centres x 30..249, y 40..54
    prob[120:141, 50:200] = 0.8  # bar B: pixel centres x 50..199, y 120..140
    prob[170:190, 20:80] = 0.4  # faint blob: above the binarisation, below box_thresh
    prob[80:100, 260:290] = 0.25  # fainter than the binarisation threshold
    prob[180:182, 250:252] = 0.95  # a speck, smaller than min_size
    return prob


def expected(x1, y1, x2, y2, ratio):
    """The unclipped box of a kernel whose pixel centres span x1..x2, y1..y2."""
    w, h = x2 - x1, y2 - y1
    d = w * h * ratio / (2 * (w + h))
    return np.array([x1 - d, y1 - d, x2 + d, y2 + d])


def test_two_bars_become_two_boxes_in_the_right_places(text_lines):
    params = text_lines.DBParams(binarize=0.3, box_thresh=0.5, unclip_ratio=1.5)
    rows = text_lines.db_boxes(bars_map(), params)
    assert rows.shape == (2, 5)
    rows = rows[np.argsort(rows[:, 1])]
    np.testing.assert_allclose(rows[0, :4], expected(30, 40, 249, 54, 1.5), atol=0.6)
    np.testing.assert_allclose(rows[1, :4], expected(50, 120, 199, 140, 1.5), atol=0.6)
    np.testing.assert_allclose(rows[:, 4], [0.9, 0.8], atol=1e-5)  # mean probability inside


def test_unclip_grows_the_boxes(text_lines):
    prob = bars_map()
    sizes = []
    for ratio in (0.0, 1.0, 1.5, 2.5):
        rows = text_lines.db_boxes(prob, text_lines.DBParams(unclip_ratio=ratio))
        rows = rows[np.argsort(rows[:, 1])]
        assert len(rows) == 2
        sizes.append((rows[:, 2] - rows[:, 0]) * (rows[:, 3] - rows[:, 1]))
        if ratio == 0.0:  # no growth: the kernel itself
            np.testing.assert_allclose(rows[0, :4], [30, 40, 249, 54], atol=0.6)
    assert all((later > earlier).all() for earlier, later in zip(sizes, sizes[1:], strict=False))
    # Growth is the same distance on every side, so the centres do not move.
    big = text_lines.db_boxes(prob, text_lines.DBParams(unclip_ratio=2.5))
    big = big[np.argsort(big[:, 1])]
    np.testing.assert_allclose((big[0, 0] + big[0, 2]) / 2, (30 + 249) / 2, atol=0.6)
    np.testing.assert_allclose((big[1, 1] + big[1, 3]) / 2, (120 + 140) / 2, atol=0.6)


def test_box_threshold_filters_the_faint_blob(text_lines):
    prob = bars_map()
    lax = text_lines.db_boxes(prob, text_lines.DBParams(box_thresh=0.35))
    assert len(lax) == 3  # the 0.4 blob is kept once the box threshold is below it
    assert sorted(np.round(lax[:, 4], 3)) == [0.4, 0.8, 0.9]
    strict = text_lines.db_boxes(prob, text_lines.DBParams(box_thresh=0.85))
    assert len(strict) == 1 and strict[0, 4] == pytest.approx(0.9)
    # The 0.25 patch is below the binarisation threshold unless it is lowered.
    low = text_lines.db_boxes(prob, text_lines.DBParams(binarize=0.2, box_thresh=0.2))
    assert len(low) == 4
    assert text_lines.db_boxes(np.zeros((64, 64), np.float32)).shape == (0, 5)


def test_boxes_are_clipped_to_the_map(text_lines):
    prob = np.zeros((64, 128), np.float32)
    prob[0:10, 0:128] = 1.0  # a line touching three edges
    rows = text_lines.db_boxes(prob, text_lines.DBParams(unclip_ratio=2.0))
    assert len(rows) == 1
    x1, y1, x2, y2, _ = rows[0]
    assert (x1, y1, x2) == (0, 0, 128) and 9 < y2 < 64


def test_network_size_is_a_multiple_of_32(text_lines):
    size = text_lines.network_size
    assert size(1754, 1240, 960) == (960, 672)
    assert size(1240, 1754, 960) == (672, 960)
    assert size(100, 50, 960) == (96, 64)  # never enlarged by default
    assert size(100, 50, 960, upscale=True) == (960, 480)
    assert size(10, 900, 960) == (32, 896)
    assert size(1000, 700, None) == (992, 704)


def _kind(text_lines, **options):
    config = SimpleNamespace(outputs={}, options=options,
                             thresholds={"min_score": 0.5}, labels=())
    return text_lines.TextLines(config, session=None)


def test_postprocess_maps_boxes_to_image_pixels_best_first(text_lines):
    kind = _kind(text_lines, unclip_ratio=1.5, label="line")
    prob = bars_map()
    # The image was 600 × 400 and brought to 300 × 200 (the map's size).
    meta = Transform(600, 400, 0.5, 0.5)
    [result] = kind.postprocess({"probability": prob[None, None]}, [meta])
    assert isinstance(result, Boxes) and len(result) == 2
    first, second = result
    assert first.score > second.score and first.label == "line"
    a = expected(30, 40, 249, 54, 1.5) * 2
    np.testing.assert_allclose([first.x, first.y, first.x + first.w, first.y + first.h], a,
                               atol=1.5)
    assert all(b.x >= 0 and b.x + b.w <= 600 and b.y >= 0 and b.y + b.h <= 400
               for b in result)


def test_postprocess_scales_a_smaller_map_to_the_input(text_lines):
    kind = _kind(text_lines, unclip_ratio=0.0)
    prob = np.zeros((50, 75), np.float32)  # a map at 1/4 of the 200 × 300 input
    prob[10:20, 5:60] = 0.9
    [result] = kind.postprocess({"probability": prob[None, None]},
                                [Transform(300, 200, 1.0, 1.0)])
    [box] = result
    np.testing.assert_allclose([box.x, box.y, box.x + box.w, box.y + box.h],
                               [20, 40, 236, 76], atol=0.1)


def blue_channel_model():
    """[N, 3, H, W] → channel 0 → "prob" [N, 1, H, W]: the blue channel when fed BGR."""
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["prob"])]
    inits = [numpy_helper.from_array(np.array([v], np.int64), name)
             for name, v in (("starts", 0), ("ends", 1), ("axes", 1))]
    graph = helper.make_graph(
        nodes, "blue", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                      ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1, "H", "W"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


TOML = (header("text-lines") + "[input]\nsize = [320, 320]\nresize = \"longest-side\"\n"
        "color = \"COLOR\"\n[output]\nprobability = \"prob\"\n"
        "[options]\nunclip_ratio = 0.0\n")


def test_runtime_end_to_end_through_the_resize_and_colour_order(tmp_path):
    write_model(tmp_path / "blue-lines", blue_channel_model(), TOML.replace("COLOR", "BGR"))
    write_model(tmp_path / "red-lines", blue_channel_model(), TOML.replace("COLOR", "RGB"))
    image = np.zeros((512, 640, 3), np.uint8)
    image[100:130, 64:576] = (0, 0, 255)  # a blue bar
    image[300:340, 128:448] = (0, 0, 255)
    image[200:220, 100:500] = (255, 0, 0)  # a red bar
    runtime = Runtime(tmp_path, settings={"batching": False})
    try:
        [blue] = runtime.infer("blue-lines", [image])
        [red] = runtime.infer("red-lines", [image])
        assert runtime.get("blue-lines").kind().stackable is False
    finally:
        runtime.close()
    found = sorted(blue, key=lambda b: b.y)
    assert len(found) == 2 and all(b.label == "text line" for b in found)
    # Resized by 0.5 to 320 × 256 (both multiples of 32): one map pixel is 2 image pixels.
    for box, (x1, y1, x2, y2) in zip(found, [(64, 100, 576, 130), (128, 300, 448, 340)],
                                     strict=True):
        np.testing.assert_allclose([box.x, box.y, box.x + box.w, box.y + box.h],
                                   [x1, y1, x2 - 2, y2 - 2], atol=2.5)
        assert box.score == pytest.approx(1.0)
    [only] = red
    assert isinstance(only, Box)
    np.testing.assert_allclose([only.x, only.y, only.x + only.w, only.y + only.h],
                               [100, 200, 498, 218], atol=2.5)


def test_rounding_to_32_stretches_and_is_mapped_back(tmp_path):
    write_model(tmp_path / "blue-lines", blue_channel_model(), TOML.replace("COLOR", "BGR"))
    image = np.zeros((450, 700, 3), np.uint8)  # → 320 × 205.7 → 320 × 192: unequal scales
    image[90:120, 70:630] = (0, 0, 255)
    image[250:310, 140:420] = (0, 0, 255)
    runtime = Runtime(tmp_path, settings={"batching": False})
    try:
        [found] = runtime.infer("blue-lines", [image])
    finally:
        runtime.close()
    found = sorted(found, key=lambda b: b.y)
    assert len(found) == 2
    for box, (x1, y1, x2, y2) in zip(found, [(70, 90, 630, 120), (140, 250, 420, 310)],
                                     strict=True):
        np.testing.assert_allclose([box.x, box.y, box.x + box.w, box.y + box.h],
                                   [x1, y1, x2, y2], atol=4)


def test_a_stretched_input_is_refused(tmp_path, kinds):
    toml = TOML.replace("COLOR", "BGR").replace('resize = "longest-side"', 'resize = "stretch"')
    folder = write_model(tmp_path / "bad", blue_channel_model(), toml)
    with pytest.raises(ModelConfigError, match="longest-side"):
        load_model_config(folder, kinds)
