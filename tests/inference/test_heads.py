"""Heads stored without their backbone: loading, checks, results and the shared backbone run."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

from annoserver.inference import (
    Labels,
    ModelConfigError,
    Runtime,
    RuntimeSettings,
    check_repository,
    load_repository,
)
from annoserver.inference.graph import TensorInfo
from annoserver.inference.heads import SharedOutputs, rows_can_be_kept
from annoserver.inference.sessions import ModelSession
from tests.inference.conftest import CLASSIFIER_LABELS, header
from tests.inference.onnx_factory import _gemm, _model, _out, pixels, write_model

EMBEDDING = 4


def head_model(weight, bias, dimension=EMBEDDING):
    """Input ``features`` [N, dimension] → Gemm → ``logits``."""
    nodes, inits = _gemm("logits", "features", weight, bias)
    inputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", dimension])]
    return _model(nodes, inputs, [_out("logits", ["N", weight.shape[1]])], inits)


def _sha256(folder):
    return hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()


def write_head(root, name, weight, bias, backbone="tiny-embedding", pinned=None, extra="",
               dimension=EMBEDDING):
    pinned = pinned or _sha256(root / backbone)
    return write_model(root / name, head_model(weight, bias, dimension),
                       header("classifier", labels="labels.txt", max_batch_size=8,
                              backbone=backbone, backbone_sha256=pinned) + extra,
                       labels=CLASSIFIER_LABELS)


@pytest.fixture
def head_weights(rng):
    return [(rng.normal(0, 1.0, (EMBEDDING, 3)), rng.normal(0, 0.3, 3)) for _ in range(2)]


@pytest.fixture
def heads_repo(repo, head_weights):
    for name, (weight, bias) in zip(("head-a", "head-b"), head_weights, strict=True):
        write_head(repo, name, weight, bias)
    return repo


@pytest.fixture
def runtime(heads_repo, plugin_manager):
    with closing(Runtime(heads_repo, plugin_manager, RuntimeSettings(max_latency_ms=1))) as opened:
        yield opened


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_a_head_takes_its_backbones_input_and_is_described(heads_repo, kinds):
    repository = load_repository(heads_repo, kinds=kinds)
    head, backbone = repository["head-a"], repository["tiny-embedding"]
    assert head.backbone == "tiny-embedding"
    assert head.input == backbone.input  # images are preprocessed as the backbone says
    assert head.head_input.name == "features" and head.head_input.shape == (None, EMBEDDING)
    assert head.batch_limit == backbone.batch_limit == 4  # its batches run through the backbone
    described = {d["id"]: d["backbone"] for d in repository.describe()}
    assert described["head-b"] == "tiny-embedding" and described["tiny-both"] is None
    assert check_repository(heads_repo, kinds=kinds) == []


def test_heads_give_the_head_of_the_raw_embedding(runtime, weights, head_weights, images):
    we, be = weights["embedding"]
    for name, (weight, bias) in zip(("head-a", "head-b"), head_weights, strict=True):
        results = runtime.infer(name, images[:3])
        for image, result in zip(images[:3], results, strict=True):
            assert isinstance(result, Labels)
            expected = _softmax((pixels(image) @ we + be) @ weight + bias)
            best = int(np.argmax(expected))
            assert result[0].label == CLASSIFIER_LABELS[best]
            assert result[0].score == pytest.approx(expected[best], rel=1e-4)


def test_heads_on_the_same_pixels_share_one_backbone_run(runtime, images):
    shared = runtime.get("tiny-embedding").shared
    runtime.infer("head-a", images[:3])
    assert (shared.computed, shared.reused) == (3, 0)
    runtime.infer("head-b", images[:3])
    assert (shared.computed, shared.reused) == (3, 3)
    runtime.infer("head-b", images[2:5])  # one seen, two new
    assert (shared.computed, shared.reused) == (5, 4)


def test_a_backbones_own_kinds_share_its_run_too(runtime, images):
    shared = runtime.get("tiny-both").shared
    labels = runtime.infer("tiny-both", images[:3])
    vectors = runtime.infer("tiny-both", images[:3], kind="embedding")
    assert (shared.computed, shared.reused) == (3, 3)
    assert all(isinstance(r, Labels) for r in labels) and all(len(v) == 4 for v in vectors)
    assert runtime.get("tiny-classifier").shared is None  # no embedding: nothing to share


def test_the_cache_forgets_the_least_recently_used(heads_repo, images):
    session = ModelSession(heads_repo / "tiny-embedding" / "model.onnx")
    shared = SharedOutputs(session, ["embedding"], budget=2 * EMBEDDING * 4)
    feeds = [{"pixels": pixels(image).reshape(1, 3, 8, 8).astype(np.float32)}
             for image in images[:3]]
    [first] = shared.run(["embedding"], feeds[0])
    shared.run(["embedding"], feeds[1])
    shared.run(["embedding"], feeds[0])  # now the most recently used
    shared.run(["embedding"], feeds[2])  # evicts feeds[1]
    assert (shared.computed, shared.reused) == (3, 1)
    np.testing.assert_array_equal(shared.run(["embedding"], feeds[0])[0], first)
    shared.run(["embedding"], feeds[1])
    assert (shared.computed, shared.reused) == (4, 2)
    np.testing.assert_array_equal(first, session.run(["embedding"], feeds[0])[0])


def _problems(repo, kinds):
    with pytest.raises(ModelConfigError) as caught:
        load_repository(repo, kinds=kinds)
    checked = [f"{p.model}: {p.message}" for p in check_repository(repo, kinds=kinds)]
    assert set(caught.value.problems) <= set(checked)  # models check says the same
    return " | ".join(caught.value.problems)


def test_a_head_without_its_backbone_is_refused(repo, kinds, head_weights):
    write_head(repo, "head-a", *head_weights[0], backbone="gone", pinned="0" * 64)
    assert "no model 'gone' is installed beside this head" in _problems(repo, kinds)


def test_a_head_on_another_backbone_file_is_refused(repo, kinds, head_weights):
    write_head(repo, "head-a", *head_weights[0], pinned="ab" * 32)
    problems = _problems(repo, kinds)
    assert "trained on 'tiny-embedding' with sha256 " + "ab" * 32 in problems
    assert _sha256(repo / "tiny-embedding") in problems and "retrain" in problems


def test_a_head_that_cannot_take_the_embedding_is_refused(repo, kinds, rng):
    write_head(repo, "head-a", rng.normal(0, 1, (5, 3)), np.zeros(3), dimension=5)
    problems = _problems(repo, kinds)
    assert "gives float32 [None, 4] embeddings" in problems and "[None, 5]" in problems


def test_a_head_with_its_own_input_section_is_refused(repo, kinds, head_weights):
    write_head(repo, "head-a", *head_weights[0], extra="[input]\nsize = [8, 8]\n")
    assert "leave [input] out" in _problems(repo, kinds)


def test_a_head_needs_the_pinned_backbone_digest(repo, kinds, head_weights):
    folder = write_head(repo, "head-a", *head_weights[0])
    toml = (folder / "model.toml").read_text()
    (folder / "model.toml").write_text("\n".join(line for line in toml.splitlines()
                                                 if not line.startswith("backbone_sha256")))
    assert "'backbone_sha256' is a dependency of 'backbone'" in _problems(repo, kinds)


@pytest.mark.parametrize("name", ["a-head", "z-head"])  # loaded before or after head-a
def test_a_head_cannot_stand_on_a_head(heads_repo, kinds, head_weights, name):
    write_head(heads_repo, name, head_weights[0][0][:3, :], head_weights[0][1],
               backbone="head-a", pinned="0" * 64, dimension=3)
    problems = _problems(heads_repo, kinds)
    assert "model 'head-a' is itself a head; a head stands on a whole model" in problems


def test_a_head_on_a_broken_backbone_says_so(heads_repo, kinds):
    toml = heads_repo / "tiny-embedding" / "model.toml"
    toml.write_text(toml.read_text().replace('version = "1.0"', 'version = ""'))
    problems = _problems(heads_repo, kinds)
    assert "tiny-embedding: version: '' should be non-empty" in problems
    assert "head-a: backbone: model 'tiny-embedding' did not load (see its own problems)" \
        in problems


def test_only_outputs_with_a_row_per_image_are_kept():
    def info(*shape):
        return TensorInfo("x", shape, np.dtype("float32"))

    assert rows_can_be_kept(None, [info(None, 4), info(None, 3, 2)])
    assert rows_can_be_kept(1, [info(1, 4)])
    assert not rows_can_be_kept(None, [info(None, 4), info(4)])  # no batch axis
    assert not rows_can_be_kept(None, [info(None, None)])  # a size that depends on the data
    assert not rows_can_be_kept(None, [info(7, 4)])
    assert not rows_can_be_kept(None, [])


def test_an_empty_batch_and_concurrent_callers_get_what_the_graph_gives(heads_repo, rng):
    session = ModelSession(heads_repo / "tiny-embedding" / "model.onnx")
    shared = SharedOutputs(session, ["embedding"], budget=6 * EMBEDDING * 4)
    empty = np.zeros((0, 3, 8, 8), np.float32)
    assert shared.run(["embedding"], {"pixels": empty})[0].shape == (0, EMBEDDING)
    pool = rng.random((10, 3, 8, 8), dtype=np.float32)
    expected = session.run(["embedding"], {"pixels": pool})[0]

    def check(seed):
        picks = np.random.default_rng(seed).integers(0, len(pool), (40, 3))
        for rows in picks:
            got = shared.run(["embedding"], {"pixels": pool[rows]})[0]
            np.testing.assert_allclose(got, expected[rows], rtol=1e-6)

    with ThreadPoolExecutor(8) as threads:
        list(threads.map(check, range(8)))
    assert shared.computed + shared.reused == 8 * 40 * 3 and shared.reused > 0


def test_rows_of_the_same_bytes_in_other_shapes_are_not_confused(heads_repo):
    session = ModelSession(heads_repo / "tiny-embedding" / "model.onnx")
    shared = SharedOutputs(session, ["embedding"])
    blank = np.full((1, 3, 8, 8), 0.5, np.float32)
    shared.run(["embedding"], {"pixels": blank})
    with pytest.raises(InvalidArgument, match="pixels"):  # the graph refuses the shape: it ran
        shared.run(["embedding"], {"pixels": blank.reshape(1, 3, 4, 16)})
    assert (shared.computed, shared.reused) == (1, 0)
