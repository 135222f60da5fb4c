from __future__ import annotations

import gc
import json
import os
import warnings

import numpy as np
import onnxruntime as ort
import pytest

from annoserver.inference import ModelSession, Runtime, SessionSettings
from annoserver.inference import sessions as sessions_module
from annoserver.inference.sessions import CPU, CUDA, choose_providers


@pytest.fixture
def onnx_path(repo):
    return repo / "tiny-classifier" / "model.onnx"


def _feeds():
    return {"pixels": np.zeros((1, 3, 8, 8), np.float32)}


def test_sessions_are_built_lazily(onnx_path):
    session = ModelSession(onnx_path)
    assert not session.loaded and session.pid is None
    assert session.provider == choose_providers(SessionSettings())[0]
    session.run(["logits"], _feeds())
    assert session.loaded and session.pid == os.getpid()
    assert session.provider == session.session.get_providers()[0]
    assert session.session is session.session


def test_thread_counts_reach_onnx_runtime(onnx_path):
    session = ModelSession(onnx_path, SessionSettings(intra_op_threads=1, inter_op_threads=1))
    options = session.session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)


def test_cuda_first_when_available(monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    assert choose_providers(SessionSettings()) == [CUDA, CPU]
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CPU])
    assert choose_providers(SessionSettings()) == [CPU]
    assert choose_providers(SessionSettings(providers=(CUDA,))) == [CPU]


def test_real_provider_reported_when_cuda_is_not_granted(onnx_path, monkeypatch, caplog):
    # ONNX Runtime may list CUDA yet fall back to the CPU (no GPU visible): report the CPU.
    monkeypatch.setattr(sessions_module, "choose_providers", lambda settings: [CUDA, CPU])
    monkeypatch.setattr(ort, "InferenceSession", _CpuOnlySession)
    session = ModelSession(onnx_path)
    session.run(["logits"], _feeds())
    assert session.provider == CPU
    assert "running on CPUExecutionProvider" in caplog.text


class _CpuOnlySession(ort.InferenceSession):
    def __init__(self, path, sess_options=None, providers=None, provider_options=None):
        assert providers == [CUDA, CPU] and provider_options[0] == {"device_id": "0"}
        super().__init__(path, sess_options=sess_options, providers=[CPU])


def test_a_new_pid_gets_a_new_session(onnx_path, monkeypatch):
    session = ModelSession(onnx_path)
    first = session.session
    monkeypatch.setattr(os, "getpid", lambda: -5)
    second = session.session
    assert second is not first and session.pid == -5
    assert first in sessions_module._inherited  # never destroyed in the "child"


def _fork(child):
    """Run ``child()`` in a forked process; return what it printed as JSON."""
    read, write = os.pipe()
    # Garbage of earlier tests (their ONNX Runtime sessions) is collected here, not in the
    # child, where a session's destructor would wait for thread-pool threads that were not
    # forked; what is alive at the fork is what these tests are about.
    gc.collect()
    with warnings.catch_warnings():  # Python 3.12+ warns about forking with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            try:
                output = child()
            except Exception as error:  # reported to the parent, which fails the test
                output = {"child error": repr(error)}
            os.write(write, json.dumps(output).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as stream:
        output = stream.read()
    os.waitpid(pid, 0)
    return json.loads(output)


def test_session_rebuilt_after_fork(onnx_path):
    session = ModelSession(onnx_path)
    expected = session.run(["logits"], _feeds())[0].tolist()
    parent_session = id(session.session)

    def child():
        loaded_before = session.loaded
        out = session.run(["logits"], _feeds())[0].tolist()
        return [loaded_before, session.pid, id(session.session) != parent_session, out]

    loaded_before, child_pid, rebuilt, out = _fork(child)
    assert loaded_before is False and rebuilt and child_pid != os.getpid()
    np.testing.assert_allclose(out, expected)
    assert session.pid == os.getpid()


def test_runtime_works_after_fork(repo, plugin_manager, images):
    runtime = Runtime(repo, plugin_manager, {"max_latency_ms": 1})
    [expected] = runtime.infer("tiny-classifier", images[:1])  # batcher thread now running

    def child():
        [result] = runtime.infer("tiny-classifier", images[:1])
        runtime.close()
        return [[label.label, label.score] for label in result]

    got = _fork(child)
    runtime.close()
    assert got == [[label.label, label.score] for label in expected]
