"""Heads on a shared backbone: the backbone runs once per image for every head asked for.

A head (``backbone = "<id>"`` in its model.toml) is a small graph on another model's
``embedding`` output, such as the classifiers ``annoserver train classifier --shared-backbone``
writes. Three heads asked for on the same region would otherwise run the same backbone three
times. :class:`SharedBackbone` keeps the embeddings it computed, keyed by a digest of the
preprocessed input row, so a head whose pixels another head (or an earlier request or job
step) already embedded reuses the vector. :class:`HeadSession` looks like a
:class:`ModelSession` to the kinds: images in, the head's outputs out.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from annoserver.inference.sessions import ModelSession

CACHED_EMBEDDINGS = 256  # per backbone and process: 256 x 1280 float32 is 1.3 MB


class SharedBackbone:
    """A backbone session and the embeddings it gave recently (least recently used dropped).

    Args:
        session: the backbone model's session.
        embedding: the name of its embedding output.
        capacity: how many embeddings to keep.
    """

    def __init__(self, session: ModelSession, embedding: str,
                 capacity: int = CACHED_EMBEDDINGS) -> None:
        self.session = session
        self.embedding = embedding
        self.capacity = capacity
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        #: Rows run through the backbone, and rows answered from the cache (for benchmarks).
        self.computed = 0
        self.reused = 0

    def embed(self, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """Embeddings ``[N, D]`` of a preprocessed batch; only rows not seen recently run."""
        if os.getpid() != self._pid:  # forked: a parent's thread may have held the lock
            self._lock, self._pid = threading.Lock(), os.getpid()
        [name] = feeds  # a backbone takes one image tensor
        batch = np.ascontiguousarray(feeds[name])
        keys = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in batch]
        with self._lock:
            found = {i: self._cache[key] for i, key in enumerate(keys) if key in self._cache}
            for i in found:
                self._cache.move_to_end(keys[i])
        missing = [i for i in range(len(keys)) if i not in found]
        if missing:
            [vectors] = self.session.run([self.embedding], {name: batch[missing]})
            found.update((i, vector.copy()) for i, vector in zip(missing, vectors, strict=True))
        with self._lock:
            for i in missing:
                self._cache[keys[i]] = found[i]
                self._cache.move_to_end(keys[i])
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
            self.computed += len(missing)
            self.reused += len(found) - len(missing)
        return np.stack([found[i] for i in range(len(keys))])


class HeadSession:
    """The session a head's kinds run: the shared backbone's embedding, then the head graph."""

    def __init__(self, backbone: SharedBackbone, head: ModelSession, head_input: str) -> None:
        self.backbone = backbone
        self.head = head
        self.head_input = head_input

    @property
    def provider(self) -> str:
        """The provider the backbone, where nearly all the work is done, runs on."""
        return self.backbone.session.provider

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
            ) -> list[np.ndarray]:
        """Run the head on the embeddings of ``feeds`` (the backbone's preprocessed images)."""
        return self.head.run(output_names, {self.head_input: self.backbone.embed(feeds)})
