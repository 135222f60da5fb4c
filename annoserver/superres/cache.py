"""A size-bounded, least-recently-used disk cache of encoded images, and single-flight.

Super-resolved pixels are expensive (a model run per tile) and viewers ask for the same tiles
again and again, so answers are kept on disk under their key. A hit refreshes the file's
modification time; when the folder grows past ``max_bytes`` the least recently used files go.
Files are written to a temporary name and renamed, so readers (other threads, other gunicorn
workers sharing the folder) never see half a file.

:class:`SingleFlight` makes concurrent identical requests in one process share one
computation: the first caller computes, the others wait for its answer (or its error).
Across processes (gunicorn workers sharing the folder), :meth:`DiskCache.computed` holds a
file lock while it computes, so another process asking for the same key waits and then reads
the file instead of computing it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
# Lock files are striped by the key's first two hex digits: a bounded set that is never
# deleted (deleting a lock file others wait on would let two processes in at once).
LOCK_STRIPES = 2


def cache_key(*parts: str) -> str:
    """A file-name-safe digest of the parts (unambiguous: parts are separated)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class DiskCache:
    """Files in ``folder`` by key, at most about ``max_bytes`` in all, least recently used out.

    ``max_bytes`` 0 disables the cache (nothing is kept).
    """

    def __init__(self, folder: str | Path, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size: int | None = None  # bytes on disk, learnt lazily

    def get(self, key: str) -> bytes | None:
        """The bytes kept under ``key``, marking them recently used; None when absent."""
        path = self.folder / key
        try:
            data = path.read_bytes()
            os.utime(path)
        except FileNotFoundError:
            return None
        return data

    def computed(self, key: str, compute: Callable[[], bytes]) -> bytes:
        """The bytes under ``key``, computed (and kept) by one process at a time when absent."""
        data = self.get(key)
        if data is not None or self.max_bytes <= 0:
            return data if data is not None else compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f".lock-{key[:LOCK_STRIPES]}", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            data = self.get(key)  # another process may have made it while we waited
            if data is None:
                data = compute()
                self.put(key, data)
        return data

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key``, then evict the least recently used beyond the bound."""
        if self.max_bytes <= 0 or len(data) > self.max_bytes:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, self.folder / key)
        with self._lock:
            self._size = (self._disk_usage() if self._size is None else self._size) + len(data)
            if self._size > self.max_bytes:
                self._size = self._evict()

    def _entries(self) -> list[os.DirEntry]:
        with os.scandir(self.folder) as entries:
            return [e for e in entries
                    if e.is_file() and not e.name.startswith((".tmp-", ".lock-"))]

    def _disk_usage(self) -> int:
        return sum(entry.stat().st_size for entry in self._entries())

    def _evict(self) -> int:
        """Delete least recently used files until the folder fits; return its new size.

        Sizes are re-read from the folder, since other processes may share it.
        """
        entries = sorted(((e.stat().st_mtime_ns, e.stat().st_size, e.path) for e in
                          self._entries()), reverse=True)
        kept = 0
        for _mtime, size, path in entries:
            if kept + size <= self.max_bytes:
                kept += size
                continue
            with contextlib.suppress(FileNotFoundError):  # another process was faster
                os.unlink(path)
        return kept


class SingleFlight:
    """Concurrent calls with the same key run the function once and share its outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Future] = {}

    def run(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, unless a call with ``key`` is in flight: then wait for its result."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = Future()
        if not leader:
            return flight.result()
        try:
            result = compute()
        except BaseException as error:
            flight.set_exception(error)
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            with self._lock:
                del self._flights[key]
