"""Dynamic batching: concurrent single-image requests for one model run as one batch.

Like Triton's dynamic batcher (and BentoML's adaptive batching): callers ``submit`` one item
and get a ``concurrent.futures.Future``; a worker thread collects items up to
``max_batch_size``, waiting at most ``max_latency`` seconds after the first one, runs them
together and hands each caller its own result. When the previous batch held one item and
nothing else is queued, the worker does not wait, so a lone client pays no latency.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from annoserver.inference.errors import BatcherClosed

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)
_STOP = object()


class DynamicBatcher(Generic[T, R]):
    """Collects concurrent :meth:`submit` calls into batches for ``run_batch``.

    Args:
        run_batch: takes a list of items and returns one result per item, in order. An
            exception it raises is set on the future of every item of that batch.
        max_batch_size: most items per batch; 1 runs each item in the caller's thread.
        max_latency: seconds the first item of a batch may wait for others.
        name: used for the worker thread's name.
    """

    def __init__(self, run_batch: Callable[[list[T]], Sequence[R]], max_batch_size: int,
                 max_latency: float = 0.005, name: str = "model") -> None:
        self.run_batch = run_batch
        self.max_batch_size = max(1, max_batch_size)
        self.max_latency = max_latency
        self.name = name
        self.batches = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._last_size = self.max_batch_size  # assume company until proven alone

    def submit(self, item: T) -> Future[R]:
        """Queue ``item``; the future completes with its result or its batch's exception.

        Raises:
            BatcherClosed: after :meth:`close`.
        """
        future: Future[R] = Future()
        if self.max_batch_size == 1:
            if self._closed:
                raise BatcherClosed(f"{self.name}: the batcher is closed")
            self._execute([(item, future)])
            return future
        with self._lock:
            if self._closed:
                raise BatcherClosed(f"{self.name}: the batcher is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name=f"batcher-{self.name}")
                self._thread.start()
            self._queue.put((item, future))
        return future

    def close(self, timeout: float | None = None) -> None:
        """Refuse new items, finish the queued ones, and stop the worker thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> DynamicBatcher[T, R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _collect(self, first: tuple) -> tuple[list[tuple], bool]:
        """Gather a batch after ``first``; also say whether the stop sentinel was seen."""
        batch = [first]
        wait = self._last_size > 1 or not self._queue.empty()
        deadline = time.monotonic() + (self.max_latency if wait else 0.0)
        while len(batch) < self.max_batch_size:
            try:
                entry = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if entry is _STOP:
                return batch, True
            batch.append(entry)
        return batch, False

    def _work(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch, stopping = self._collect(first)
            self._last_size = len(batch)
            self._execute(batch)
        while True:  # fail anything that raced past the stop sentinel
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            if entry is not _STOP:
                entry[1].set_exception(BatcherClosed(f"{self.name}: the batcher is closed"))

    def _execute(self, batch: list[tuple]) -> None:
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        try:
            results = self.run_batch([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"{self.name}: {len(live)} items gave {len(results)} results")
        except BaseException as error:  # every caller of the batch must hear of it
            for _, future in live:
                future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)
