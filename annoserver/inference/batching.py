"""Dynamic batching: concurrent single-image requests for one model run as one batch.

Like Triton's dynamic batcher (and BentoML's adaptive batching): callers ``submit`` one item
and get a ``concurrent.futures.Future``; a worker thread collects items up to
``max_batch_size``, waiting at most ``max_latency`` seconds after the first one, runs them
together and hands each caller its own result. When the previous batch held one item and
nothing else is queued, the worker does not wait, so a lone client pays no latency.

A caller never hangs: a future's ``result()`` waits at most ``result_timeout`` seconds (then
:class:`BatchTimeout`), and should the worker thread die, every queued item and every later
``submit`` fails at once with :class:`BatcherClosed` saying so.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from annoserver.inference.errors import BatcherClosed, InferenceError

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)
_STOP = object()


class BatchTimeout(InferenceError, TimeoutError):
    """A batch result did not come in time (the model is stuck or far behind)."""

    status = 503
    title = "Service Unavailable"


class _Pending(Future):
    """A future whose ``result()`` waits at most the batcher's ``result_timeout`` by default."""

    def __init__(self, name: str, timeout: float | None) -> None:
        super().__init__()
        self._name, self._timeout = name, timeout

    def result(self, timeout: float | None = None) -> object:
        """The item's result, waiting at most ``timeout`` (default: the batcher's) seconds.

        Raises:
            BatchTimeout: No result in time.
        """
        limit = self._timeout if timeout is None else timeout
        try:
            return super().result(limit)
        except TimeoutError as error:
            if isinstance(error, BatchTimeout):  # raised by the batch itself
                raise
            raise BatchTimeout(f"{self._name}: no result within {limit:g} s; the model is "
                               "stuck or far behind") from error


class DynamicBatcher(Generic[T, R]):
    """Collects concurrent :meth:`submit` calls into batches for ``run_batch``.

    Args:
        run_batch: takes a list of items and returns one result per item, in order. An
            exception it raises is set on the future of every item of that batch.
        max_batch_size: most items per batch; 1 runs each item in the caller's thread.
        max_latency: seconds the first item of a batch may wait for others.
        name: used for the worker thread's name.
        result_timeout: longest a future's ``result()`` waits by default (None: forever).
    """

    def __init__(self, run_batch: Callable[[list[T]], Sequence[R]], max_batch_size: int,
                 max_latency: float = 0.005, name: str = "model",
                 result_timeout: float | None = 600.0) -> None:
        self.run_batch = run_batch
        self.max_batch_size = max(1, max_batch_size)
        self.max_latency = max_latency
        self.name = name
        self.result_timeout = result_timeout
        self.batches = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._died: str | None = None  # why the worker thread stopped unasked
        self._last_size = self.max_batch_size  # assume company until proven alone

    def submit(self, item: T) -> Future[R]:
        """Queue ``item``; the future completes with its result or its batch's exception.

        Raises:
            BatcherClosed: after :meth:`close`, or when the worker thread died.
        """
        future: Future[R] = _Pending(self.name, self.result_timeout)
        if self.max_batch_size == 1:
            if self._closed:
                raise BatcherClosed(f"{self.name}: the batcher is closed")
            self._execute([(item, future)])
            return future
        with self._lock:
            if self._closed:
                raise BatcherClosed(f"{self.name}: the batcher is closed")
            if self._died:
                raise BatcherClosed(self._died)
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
        reason = f"{self.name}: the batcher is closed"
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                batch, stopping = self._collect(first)
                self._last_size = len(batch)
                self._execute(batch)
        except BaseException as error:  # noqa: BLE001 - logged; callers hear of it below
            reason = f"{self.name}: the batching thread died ({type(error).__name__}: {error})"
            log.exception("batching thread of %s died", self.name)
            with self._lock:
                self._died = reason
        finally:
            self._fail_queued(reason)

    def _fail_queued(self, reason: str) -> None:
        """Fail what is still queued: items that raced past the stop, or a dead thread's."""
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            if entry is not _STOP and entry[1].set_running_or_notify_cancel():
                entry[1].set_exception(BatcherClosed(reason))

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
