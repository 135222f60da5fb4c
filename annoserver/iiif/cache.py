"""A small thread-safe in-process cache with a time-to-live, for ``info.json`` and manifests.

Entries are raw response bodies (bytes), so a caller that mutates the parsed JSON never changes
what the next caller gets. The oldest entry is dropped when the cache is full.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TTLCache:
    """Keep up to ``max_entries`` values for ``ttl`` seconds each."""

    def __init__(self, ttl: float, max_entries: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key`` if it has not expired, else ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        if self.ttl <= 0 or self.max_entries <= 0:
            return
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self._clock() + self.ttl, value)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
