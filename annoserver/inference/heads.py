"""Heads on a shared backbone: the backbone runs once per image for every model asked for.

A head (``backbone = "<id>"`` in its model.toml) is a small graph on another model's
``embedding`` output, such as the classifiers ``annoserver train classifier --shared-backbone``
writes. Three heads asked for on the same region would otherwise run the same backbone three
times, and a backbone asked for both its labels and its vector (a persisted analysis with
EfficientNet-Lite0) twice. A model with an embedding output therefore runs through
:class:`SharedOutputs`: every run computes all of its outputs and keeps them, keyed by a digest
of the preprocessed input row, so whatever asks next for the same pixels (a head, the other
kind, a later request or job step) reuses them. :class:`HeadSession` runs a head's graph on
those embeddings. Both answer ``run(output_names, feeds)`` like a :class:`ModelSession`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from annoserver.inference.sessions import ModelSession

CACHED_ROWS = 256  # per backbone and process: EfficientNet-Lite0 keeps 9 kB a row, 2.3 MB


class SharedOutputs:
    """A backbone's session that keeps the outputs of its recent input rows (LRU).

    Args:
        session: the backbone model's own session.
        outputs: the graph outputs every run computes and keeps (the model's mapped roles).
        embedding: the name of the output heads are fed.
        capacity: how many input rows to keep.
    """

    def __init__(self, session: ModelSession, outputs: Sequence[str], embedding: str,
                 capacity: int = CACHED_ROWS) -> None:
        self.session = session
        self.outputs = tuple(dict.fromkeys(outputs))
        self.embedding = embedding
        self.capacity = capacity
        self._cache: OrderedDict[bytes, dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        #: Rows run through the backbone, and rows answered from the cache (for benchmarks).
        self.computed = 0
        self.reused = 0

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
            ) -> list[np.ndarray]:
        """The outputs ``output_names`` of a preprocessed batch; only new rows are run."""
        if os.getpid() != self._pid:  # forked: a parent's thread may have held the lock
            self._lock, self._pid = threading.Lock(), os.getpid()
        if len(feeds) != 1 or not set(output_names) <= set(self.outputs):
            return self.session.run(output_names, feeds)  # not a case rows can be kept for
        [(name, batch)] = feeds.items()
        batch = np.ascontiguousarray(batch)
        keys = [_digest(row) for row in batch]
        with self._lock:
            rows = {i: self._cache[key] for i, key in enumerate(keys) if key in self._cache}
            for i in rows:
                self._cache.move_to_end(keys[i])
        missing = [i for i in range(len(keys)) if i not in rows]
        if missing:
            arrays = self.session.run(self.outputs, {name: batch[missing]})
            if any(array.shape[:1] != (len(missing),) for array in arrays):
                # an output without a batch axis: rows cannot be told apart, run as asked
                return self.session.run(output_names, feeds)
            rows.update((i, {output: array[j].copy()
                             for output, array in zip(self.outputs, arrays, strict=True)})
                        for j, i in enumerate(missing))
        with self._lock:
            for i in missing:
                self._cache[keys[i]] = rows[i]
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
            self.computed += len(missing)
            self.reused += len(keys) - len(missing)
        return [np.stack([rows[i][output] for i in range(len(keys))]) for output in output_names]


def _digest(row: np.ndarray) -> bytes:
    """A row's key: its shape and dtype too, so a blank 200 x 100 page is not a 100 x 200 one."""
    digest = hashlib.blake2b(f"{row.shape}{row.dtype}".encode(), digest_size=16)
    digest.update(row.tobytes())
    return digest.digest()


class HeadSession:
    """What a head's kinds run: the backbone's (shared) embedding, then the head's graph."""

    def __init__(self, backbone: SharedOutputs, head: ModelSession, head_input: str) -> None:
        self.backbone = backbone
        self.head = head
        self.head_input = head_input

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
            ) -> list[np.ndarray]:
        """Run the head on the embeddings of ``feeds`` (the backbone's preprocessed images)."""
        [vectors] = self.backbone.run([self.backbone.embedding], feeds)
        return self.head.run(output_names, {self.head_input: vectors})
