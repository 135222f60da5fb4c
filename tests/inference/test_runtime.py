from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from annoserver.inference import (
    BatcherClosed,
    InvalidImage,
    Labels,
    Runtime,
    RuntimeSettings,
    UnknownModel,
    UnsupportedKind,
    Vector,
)


@pytest.fixture
def runtime(repo, plugin_manager):
    runtime = Runtime(repo, plugin_manager, RuntimeSettings(max_latency_ms=1))
    yield runtime
    runtime.close()


def test_models_and_describe(runtime):
    assert [m.id for m in runtime.models()] == ["tiny-both", "tiny-classifier", "tiny-embedding"]
    described = {d["id"]: d for d in runtime.describe()}
    json.dumps(described)
    assert described["tiny-classifier"]["provider"] == "CPUExecutionProvider"
    assert described["tiny-both"]["kinds"] == ["classifier", "embedding"]
    assert described["tiny-embedding"]["kinds"] == ["embedding"]
    assert not any(m.session.loaded for m in runtime.models())  # describing builds nothing


def test_unknown_model(runtime, images):
    with pytest.raises(UnknownModel) as caught:
        runtime.get("missing")
    assert caught.value.status == 404
    assert "missing" in caught.value.detail and "tiny-classifier" in caught.value.detail
    assert caught.value.to_problem()["status"] == 404
    with pytest.raises(UnknownModel):
        runtime.infer("missing", images[:1])


def test_infer_the_other_kind_of_a_two_headed_model(runtime, weights, images):
    labels = runtime.infer("tiny-both", images[:2])
    vectors = runtime.infer("tiny-both", images[:2], kind="embedding")
    assert all(isinstance(r, Labels) for r in labels)
    assert all(isinstance(v, Vector) and len(v) == 4 for v in vectors)
    reference = runtime.infer("tiny-embedding", images[:2])
    for a, b in zip(vectors, reference, strict=True):  # same embedding weights in both
        np.testing.assert_allclose(a.values, b.values, rtol=1e-5)
    with pytest.raises(UnsupportedKind) as caught:
        runtime.infer("tiny-classifier", images[:1], kind="embedding")
    assert caught.value.status == 400


def test_many_images_in_one_call_and_empty_calls(runtime, images):
    assert len(runtime.infer("tiny-classifier", images * 3)) == 24
    assert runtime.infer("tiny-classifier", []) == []


def test_bad_images_are_refused(runtime):
    with pytest.raises(InvalidImage):
        runtime.infer("tiny-classifier", [np.zeros((8, 8), np.uint8)])


def test_closed_runtime_refuses_work(runtime, images):
    runtime.infer("tiny-classifier", images[:1])
    runtime.close()
    with pytest.raises(BatcherClosed) as caught:
        runtime.infer("tiny-classifier", images[:1])
    assert caught.value.status == 503
    with pytest.raises(BatcherClosed):
        runtime.infer("tiny-embedding", images[:1])


def test_settings_from_a_mapping():
    settings = RuntimeSettings.from_mapping({"providers": ["CPUExecutionProvider"],
                                             "intra_op_threads": 2, "SECRET_KEY": "x"})
    assert settings.providers == ("CPUExecutionProvider",) and settings.intra_op_threads == 2
    assert settings.session_settings().intra_op_threads == 2


def test_the_runtime_never_imports_flask():
    code = ("import sys, annoserver.inference, annoserver.inference.runtime; "
            "from annoserver.inference import get_plugin_manager, model_kinds; "
            "model_kinds(get_plugin_manager(load_entry_points=False)); "
            "print('flask' in sys.modules, 'cv2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
