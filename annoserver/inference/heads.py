"""Heads on a shared backbone: a backbone's run on some pixels serves every model that needs it.

A head (``backbone = "<id>"`` in its model.toml) is a small graph on another model's
``embedding`` output, such as the classifiers ``annoserver train classifier --shared-backbone``
writes. Three heads asked for on the same region would otherwise run the same backbone three
times, and a backbone asked for both its labels and its vector (a persisted analysis with
EfficientNet-Lite0) twice. A model with an embedding output therefore runs through
:class:`SharedOutputs`: every run computes all of its outputs and keeps them, keyed by a digest
of the preprocessed input row, so whatever asks next for the same pixels in this process (a
head, the other kind, a later request or job step) reuses them. Concurrent first requests for
the same pixels may still each run it. :class:`HeadSession` runs a head's graph on those
embeddings. Both answer ``run(output_names, feeds)`` like a :class:`ModelSession`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from annoserver.inference.graph import TensorInfo
from annoserver.inference.sessions import ModelSession, Runner, reset_after_fork

CACHE_BYTES = 8 << 20  # kept outputs per backbone and process (EfficientNet-Lite0: 900 rows)


def rows_can_be_kept(batch: int | None, outputs: Sequence[TensorInfo]) -> bool:
    """Whether every output has one row per input row, of a fixed shape (known from the graph).

    Args:
        batch: the input's batch dimension (``None``: dynamic).
        outputs: the outputs that would be kept.
    """
    return bool(outputs) and all(
        len(info.shape) >= 1 and info.shape[0] == batch and None not in info.shape[1:]
        for info in outputs)


class SharedOutputs:
    """A backbone's session that keeps the outputs of its recent input rows (LRU).

    Build it only for outputs :func:`rows_can_be_kept` accepts.

    Args:
        session: the backbone model's own session.
        outputs: the graph outputs every run computes and keeps (the model's mapped roles).
        budget: how many bytes of outputs to keep.
    """

    def __init__(self, session: ModelSession, outputs: Sequence[str],
                 budget: int = CACHE_BYTES) -> None:
        self.session = session
        self.outputs = tuple(dict.fromkeys(outputs))
        self.budget = budget
        self._cache: OrderedDict[bytes, dict[str, np.ndarray]] = OrderedDict()
        self._kept_bytes = 0
        self._lock = threading.Lock()
        #: Rows run through the backbone, and rows answered from the cache (for benchmarks).
        self.computed = 0
        self.reused = 0
        reset_after_fork(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # a thread of the parent may have held it at fork

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
            ) -> list[np.ndarray]:
        """The outputs ``output_names`` of a preprocessed batch; only new rows are run."""
        if len(feeds) != 1 or not set(output_names) <= set(self.outputs):
            return self.session.run(output_names, feeds)  # not a run whose rows are kept
        [(name, batch)] = feeds.items()
        if len(batch) == 0:
            return self.session.run(output_names, feeds)
        batch = np.ascontiguousarray(batch)
        keys = [_digest(row) for row in batch]
        with self._lock:
            rows = {i: self._cache[key] for i, key in enumerate(keys) if key in self._cache}
            for i in rows:
                self._cache.move_to_end(keys[i])
        missing = [i for i in range(len(keys)) if i not in rows]
        if missing:
            arrays = self.session.run(self.outputs, {name: batch[missing]})
            rows.update((i, {output: array[j].copy()
                             for output, array in zip(self.outputs, arrays, strict=True)})
                        for j, i in enumerate(missing))
        with self._lock:
            for i in missing:
                self._keep(keys[i], rows[i])
            self.computed += len(missing)
            self.reused += len(keys) - len(missing)
        return [np.stack([rows[i][output] for i in range(len(keys))]) for output in output_names]

    def _keep(self, key: bytes, row: dict[str, np.ndarray]) -> None:
        if key not in self._cache:
            self._kept_bytes += sum(array.nbytes for array in row.values())
        self._cache[key] = row
        self._cache.move_to_end(key)
        while self._kept_bytes > self.budget and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._kept_bytes -= sum(array.nbytes for array in dropped.values())


def _digest(row: np.ndarray) -> bytes:
    """A row's key: its shape and dtype too, so a blank 200 x 100 page is not a 100 x 200 one."""
    digest = hashlib.sha256(f"{row.shape}{row.dtype}".encode())  # sha256: fastest here
    digest.update(row.tobytes())
    return digest.digest()


class HeadSession:
    """What a head's kinds run: its backbone's embedding (shared when it can be), then the head.

    Args:
        backbone: what the backbone model's kinds run.
        embedding: the name of the backbone's embedding output.
        head: the head's own session.
        head_input: the head graph's input, fed the embedding.
    """

    def __init__(self, backbone: Runner, embedding: str, head: ModelSession,
                 head_input: str) -> None:
        self.backbone = backbone
        self.embedding = embedding
        self.head = head
        self.head_input = head_input

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
            ) -> list[np.ndarray]:
        """Run the head on the embeddings of ``feeds`` (the backbone's preprocessed images)."""
        [vectors] = self.backbone.run([self.embedding], feeds)
        return self.head.run(output_names, {self.head_input: vectors})

