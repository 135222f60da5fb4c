"""The disk LRU cache (real files) and single-flight (real threads and processes)."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from annoserver.superres import DiskCache, SingleFlight
from annoserver.superres.cache import cache_key


def _sizes(folder) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


def test_least_recently_used_goes_first(tmp_path):
    cache = DiskCache(tmp_path / "c", max_bytes=250)
    cache.put("a", b"a" * 100)
    time.sleep(0.02)
    cache.put("b", b"b" * 100)
    time.sleep(0.02)
    assert cache.get("a") == b"a" * 100  # a is now the most recently used
    time.sleep(0.02)
    cache.put("c", b"c" * 100)
    assert cache.get("b") is None
    assert cache.get("a") == b"a" * 100 and cache.get("c") == b"c" * 100
    assert _sizes(tmp_path / "c") <= 250


def test_bound_holds_across_instances_sharing_a_folder(tmp_path):
    first, second = DiskCache(tmp_path, 1000), DiskCache(tmp_path, 1000)
    for index in range(20):
        (first if index % 2 else second).put(f"k{index}", bytes(150))
    assert _sizes(tmp_path) <= 1000
    assert first.get("k19") == bytes(150)


def test_zero_bytes_disables_and_oversized_entries_are_not_kept(tmp_path):
    DiskCache(tmp_path / "off", 0).put("a", b"x")
    assert not (tmp_path / "off").exists()
    cache = DiskCache(tmp_path / "small", 10)
    cache.put("big", bytes(11))
    assert cache.get("big") is None


def test_single_flight_runs_concurrent_identical_calls_once():
    flights = SingleFlight()
    runs = []
    start = threading.Barrier(8)

    def compute():
        runs.append(1)
        time.sleep(0.3)
        return object()

    results = []

    def call():
        start.wait()
        results.append(flights.run("key", compute))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1
    assert len(results) == 8 and all(result is results[0] for result in results)
    flights.run("key", compute)  # finished flights are forgotten: a later call computes
    assert len(runs) == 2


def test_single_flight_shares_the_error():
    flights = SingleFlight()
    with pytest.raises(KeyError):
        flights.run("k", lambda: {}["missing"])
    assert flights.run("k", lambda: 5) == 5


def _compute_once_in_a_process(folder: str, key: str, log: str, start) -> bytes:
    """One gunicorn worker's view: compute ``key`` (slowly) unless the cache has it."""
    def compute() -> bytes:
        with open(log, "a") as runs:
            runs.write("run\n")
        time.sleep(0.5)
        return b"pixels of " + key.encode()

    start.wait()
    return DiskCache(folder, 10_000).computed(key, compute)


def test_processes_sharing_the_folder_compute_a_key_once(tmp_path):
    """Four processes ask for the same tile at once: one computes, three read its file."""
    key, log = cache_key("upstream", "model", "1.0", "sha", "full/max/0/default.jpg"), \
        tmp_path / "runs.log"
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Barrier(4)
    with context.Pool(4) as pool:
        answers = pool.starmap(_compute_once_in_a_process,
                               [(str(tmp_path / "c"), key, str(log), start)] * 4)
    assert answers == [b"pixels of " + key.encode()] * 4
    assert log.read_text().count("run") == 1
    other = cache_key("another tile")  # another key, another stripe or not: computed anew
    assert DiskCache(tmp_path / "c", 10_000).computed(other, lambda: b"new") == b"new"
