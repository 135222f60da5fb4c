from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from annoserver.inference import BatcherClosed, DynamicBatcher, ModelSession, Runtime
from annoserver.inference.batching import BatchTimeout
from tests.inference.conftest import MEAN, STD, header
from tests.inference.onnx_factory import linear_model, pixels, write_model


def _concurrently(count, work):
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results, errors


def test_batcher_groups_concurrent_submissions():
    sizes = []

    def run_batch(items):
        sizes.append(len(items))
        return [item * 10 for item in items]

    with DynamicBatcher(run_batch, max_batch_size=4, max_latency=0.2) as batcher:
        results, errors = _concurrently(8, lambda i: batcher.submit(i).result(5))
    assert not errors and results == [i * 10 for i in range(8)]
    assert sum(sizes) == 8 and max(sizes) <= 4 and len(sizes) < 8


def test_batch_errors_reach_every_caller_of_that_batch():
    error = ValueError("model exploded")

    def run_batch(items):
        raise error

    with DynamicBatcher(run_batch, max_batch_size=8, max_latency=0.2) as batcher:
        futures = [batcher.submit(i) for i in range(3)]
        assert [f.exception(5) for f in futures] == [error] * 3
        # The worker survives a failed batch.
        batcher.run_batch = lambda items: items
        assert batcher.submit(7).result(5) == 7


def test_wrong_result_count_is_an_error():
    with DynamicBatcher(lambda items: items[:1], max_batch_size=8, max_latency=0.2) as batcher:
        futures = [batcher.submit(i) for i in range(3)]
        for future in futures:
            with pytest.raises(RuntimeError, match="3 items gave 1 results"):
                future.result(5)


def test_close_finishes_queued_work_then_refuses():
    gate = threading.Event()

    def run_batch(items):
        gate.wait(5)
        return items

    batcher = DynamicBatcher(run_batch, max_batch_size=2, max_latency=0.0)
    futures = [batcher.submit(i) for i in range(5)]
    closer = threading.Thread(target=batcher.close)
    closer.start()
    gate.set()
    closer.join(5)
    assert [f.result(0) for f in futures] == list(range(5))
    assert not batcher._thread.is_alive()
    with pytest.raises(BatcherClosed):
        batcher.submit(9)


def test_max_batch_size_one_runs_in_the_callers_thread():
    callers = []

    def run_batch(items):
        callers.append(threading.current_thread())
        return items

    batcher = DynamicBatcher(run_batch, max_batch_size=1)
    assert batcher.submit(3).result(0) == 3
    assert callers == [threading.current_thread()] and batcher._thread is None
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit(4)


def test_lone_client_does_not_wait():
    batcher = DynamicBatcher(lambda items: items, max_batch_size=8, max_latency=0.5)
    batcher.submit(0).result(5)  # the first batch may wait: company is assumed
    start = time.monotonic()
    for i in range(5):
        assert batcher.submit(i).result(5) == i
    assert time.monotonic() - start < 0.5
    batcher.close()


@pytest.fixture
def counted_runs(monkeypatch):
    calls = []
    original = ModelSession.run

    def run(self, output_names, feeds):
        calls.append(next(iter(feeds.values())).shape[0])
        return original(self, output_names, feeds)

    monkeypatch.setattr(ModelSession, "run", run)
    return calls


def test_runtime_batches_concurrent_requests(repo, plugin_manager, weights, images,
                                             counted_runs):
    runtime = Runtime(repo, plugin_manager, {"max_latency_ms": 200})
    weight, bias = weights["logits"]
    results, errors = _concurrently(
        8, lambda i: runtime.infer("tiny-classifier", [images[i]])[0])
    runtime.close()
    assert not errors
    assert sum(counted_runs) == 8 and len(counted_runs) < 8
    for image, result in zip(images, results, strict=True):
        logits = pixels(image, MEAN, STD) @ weight + bias
        probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert result[0].label == ["cat", "dog", "bird"][int(np.argmax(probs))]
        assert result[0].score == pytest.approx(probs.max(), rel=1e-4)


def test_runtime_errors_reach_every_caller(repo, plugin_manager, images, monkeypatch):
    def fail(self, output_names, feeds):
        raise RuntimeError("session failed")

    monkeypatch.setattr(ModelSession, "run", fail)
    runtime = Runtime(repo, plugin_manager, {"max_latency_ms": 200})
    results, errors = _concurrently(4, lambda i: runtime.infer("tiny-classifier", [images[i]]))
    runtime.close()
    assert len(errors) == 4 and all(str(e) == "session failed" for e in errors)


def test_fixed_batch_of_one_runs_per_item(tmp_path, plugin_manager, weights, images,
                                          counted_runs):
    write_model(tmp_path / "fixed", linear_model({"logits": weights["logits"]}, batch=1),
                header("classifier", max_batch_size=8))
    runtime = Runtime(tmp_path, plugin_manager)
    assert runtime.get("fixed").config.batch_limit == 1
    results = runtime.infer("fixed", images[:3])
    runtime.close()
    assert counted_runs == [1, 1, 1] and len(results) == 3


def test_batching_can_be_turned_off(repo, plugin_manager, images, counted_runs):
    runtime = Runtime(repo, plugin_manager, {"batching": False})
    _concurrently(4, lambda i: runtime.infer("tiny-classifier", [images[i]]))
    runtime.close()
    assert counted_runs == [1, 1, 1, 1]


class _Fatal(BaseException):
    """Something no ``except Exception`` catches, as a dying thread meets."""


def test_a_stuck_batch_times_out_with_a_clear_error():
    release = threading.Event()

    def run_batch(items):
        release.wait(5)
        return items

    batcher = DynamicBatcher(run_batch, max_batch_size=4, result_timeout=0.2, name="stuck")
    try:
        started = time.monotonic()
        future = batcher.submit(1)
        with pytest.raises(BatchTimeout, match="stuck: no result within 0.2 s") as caught:
            future.result()
        assert caught.value.status == 503 and time.monotonic() - started < 2
    finally:
        release.set()
        batcher.close()
    assert future.result() == 1  # the batch did finish in the end


def test_a_dead_batching_thread_fails_its_callers_at_once():
    entered, release = threading.Event(), threading.Event()

    def run_batch(items):
        entered.set()
        release.wait(5)
        raise _Fatal("boom")

    batcher = DynamicBatcher(run_batch, max_batch_size=2, max_latency=0.0, name="doomed")
    first = batcher.submit(1)
    assert entered.wait(5)
    queued = batcher.submit(2)  # waits behind the batch that will kill the thread
    release.set()
    with pytest.raises(_Fatal):
        first.result(5)
    with pytest.raises(BatcherClosed, match="doomed: the batching thread died"):
        queued.result(5)
    with pytest.raises(BatcherClosed, match="died"):
        batcher.submit(3)
    batcher.close()
