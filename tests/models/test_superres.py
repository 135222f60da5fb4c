"""Regression tests for the shipped ESPCN super-resolution models (espcn-x2, espcn-x4).

torch-free: onnxruntime, numpy and OpenCV only. The models are trained and evaluated by
scripts/train_superres.py; these tests never retrain. The quality check re-measures, on
held-out fixture crops shipped beside each model, the PSNR-Y gain over bicubic upscaling.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "annoserver" / "schemas" / "model-config.schema.json"
MODELS = [name for name in ("espcn-x2", "espcn-x4") if (REPO / "onnx_models" / name).is_dir()]
FIXTURES = ("heldout_page.png", "heldout_coffee.jpg")

pytestmark = pytest.mark.skipif(not MODELS, reason="no super-resolution model folder")


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    folder = REPO / "onnx_models" / request.param
    with open(folder / "model.toml", "rb") as f:
        meta = tomllib.load(f)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(folder / "model.onnx"), opts,
                                   providers=["CPUExecutionProvider"])
    return folder, meta, session


def run(model, x: np.ndarray) -> np.ndarray:
    _, meta, session = model
    return session.run([meta["output"]["image"]], {"image": x})[0]


def y_bt601(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def psnr_y(a: np.ndarray, b: np.ndarray, border: int) -> float:
    ya, yb = y_bt601(a)[border:-border, border:-border], y_bt601(b)[border:-border, border:-border]
    return float(10.0 * np.log10(255.0**2 / np.mean((ya - yb) ** 2)))


def test_model_toml(model):
    folder, meta, _ = model
    scale = int(folder.name.rsplit("x", 1)[1])
    assert meta["kind"] == "superres"
    assert meta["version"] == "1.0.0"
    assert meta["license"] == "Apache-2.0"
    assert "scripts/train_superres.py" in meta["source"]
    assert meta["max_batch_size"] == 1
    assert meta["input"] == {
        "size": [256, 256],
        "resize": "longest-side",
        "color": "RGB",
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "layout": "NCHW",
    }
    assert meta["output"] == {"image": "enhanced"}
    assert meta["thresholds"] == {}
    assert meta["options"]["scale"] == scale
    quality = meta["quality"]
    assert quality["psnr_y_gain_vs_bicubic_db"] > 0
    assert quality["heldout_images"] >= 5
    assert quality["latency_us_per_output_pixel"] > 0


def test_model_toml_matches_schema(model):
    if not SCHEMA.exists():
        pytest.skip("no model-config schema in this checkout")
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(model[1], json.loads(SCHEMA.read_text()))


def test_loads_in_the_inference_runtime(model):
    inference = pytest.importorskip("annoserver.inference")
    from annoserver.inference.plugins import BUILTIN_PLUGINS_DIR

    manager = inference.get_plugin_manager(plugin_dirs=[BUILTIN_PLUGINS_DIR],
                                           load_entry_points=False)
    kinds = inference.model_kinds(manager)
    config = inference.load_model_config(model[0], kinds)
    kind = kinds[config.kind](config, inference.ModelSession(config.onnx_path))
    image = np.random.default_rng(3).integers(0, 256, (40, 64, 3), dtype=np.uint8)
    [result] = kind.infer([image])
    # the server feeds the longest side at 256 px: 64 -> 256 (x4), then the model's scale
    scale = model[1]["options"]["scale"]
    assert result.array.shape == (160 * scale, 256 * scale, 3)
    assert result.scale == pytest.approx(4.0 * scale)


def test_sha256_matches_file(model):
    folder, meta, _ = model
    assert hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest() == meta["sha256"]


def test_opset_and_ir_version(model):
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(model[0] / "model.onnx"))
    assert proto.ir_version <= 9  # onnxruntime 1.17 loads IR <= 9
    assert {o.domain or "": o.version for o in proto.opset_import} == {"": 17}


def test_graph_has_dynamic_batch_height_and_width(model):
    _, meta, session = model
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    assert inp.name == "image" and inp.type == "tensor(float)"
    assert out.name == meta["output"]["image"] and out.type == "tensor(float)"
    assert inp.shape[1] == 3 and out.shape[1] == 3
    for dims in (inp.shape, out.shape):
        assert all(isinstance(d, str) for d in (dims[0], dims[2], dims[3])), dims


@pytest.mark.parametrize(("n", "h", "w"), [(1, 1, 1), (1, 17, 31), (2, 33, 8), (1, 57, 101)])
def test_output_is_exactly_scale_times_the_input(model, n, h, w):
    scale = model[1]["options"]["scale"]
    x = np.random.default_rng(h * w).random((n, 3, h, w), dtype=np.float32)
    y = run(model, x)
    assert y.shape == (n, 3, h * scale, w * scale)
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y))
    assert y.min() >= 0.0 and y.max() <= 1.0


def test_extreme_inputs_stay_in_range(model):
    x = np.zeros((3, 3, 24, 24), np.float32)
    x[1] = 1.0
    x[2, :, ::2] = 1.0  # stripes: maximum overshoot for bicubic and the residual
    y = run(model, x)
    assert y.min() >= 0.0 and y.max() <= 1.0
    np.testing.assert_allclose(y[0], 0.0, atol=0.02)
    np.testing.assert_allclose(y[1], 1.0, atol=0.02)


def test_colour_is_bicubic_only_luma_is_enhanced(model):
    # the same residual is added to R, G and B: chroma differences equal bicubic's
    scale = model[1]["options"]["scale"]
    rng = np.random.default_rng(5)
    x = (0.25 + 0.5 * rng.random((1, 3, 20, 28))).astype(np.float32)
    x = cv2.GaussianBlur(x[0].transpose(1, 2, 0), (0, 0), 1.0).transpose(2, 0, 1)[None]
    y = run(model, np.ascontiguousarray(x))[0].transpose(1, 2, 0)
    bicubic = cv2.resize(x[0].transpose(1, 2, 0), (28 * scale, 20 * scale),
                         interpolation=cv2.INTER_CUBIC)
    inside = (y > 0.001).all(axis=2) & (y < 0.999).all(axis=2)
    residual = (y - bicubic)[inside]
    assert np.abs(residual[:, 0] - residual[:, 1]).max() < 1e-4
    assert np.abs(residual[:, 2] - residual[:, 1]).max() < 1e-4


@pytest.mark.parametrize("fixture", FIXTURES)
def test_beats_bicubic_on_a_held_out_image(model, fixture):
    folder, meta, _ = model
    scale = meta["options"]["scale"]
    path = folder / fixture
    assert path.stat().st_size <= 30_000
    hr = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]
    hr = np.ascontiguousarray(hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale])
    h, w = hr.shape[:2]
    lr = cv2.resize(hr, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
    x = (lr.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    sr = np.clip(run(model, x)[0].transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    bicubic = cv2.resize(lr, (w, h), interpolation=cv2.INTER_CUBIC)
    lanczos = cv2.resize(lr, (w, h), interpolation=cv2.INTER_LANCZOS4)
    gain = psnr_y(sr, hr, scale) - psnr_y(bicubic, hr, scale)
    measured = meta["quality"]["fixture_" + fixture.split(".")[0] + "_gain_db"]
    # conservative: at least half the gain measured when the model was shipped ...
    assert gain >= 0.5 * measured > 0
    assert psnr_y(sr, hr, scale) > psnr_y(lanczos, hr, scale)
    # ... and, with the same libraries, the figure the model card reports
    assert gain == pytest.approx(measured, abs=0.15)
