"""The one HTTP session of the IIIF client: retries, guarded connections, politeness state.

:func:`make_session` builds an :class:`IIIFSession`, a ``requests.Session`` whose adapters
connect only to addresses the :class:`~annoserver.iiif.guard.HostGuard` accepted (checked when
the socket is opened, so DNS rebinding between check and connect gains nothing), send a
descriptive User-Agent, and ignore proxy settings from the environment (a proxy would resolve
names past the guard). The session also carries what must be shared by every fetch in the
process: the default :class:`Limits`, the :class:`RetryPolicy` (429/5xx and refused
connections, honouring ``Retry-After``; :func:`~annoserver.iiif.http.fetch_bytes` applies it,
waiting *outside* the host's slot), a per-host concurrency limit and a small TTL cache for
JSON. Make one per process (the app keeps it in ``app.extensions``) and pass it as
``session=``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection
from urllib3.util.retry import Retry

from annoserver import __version__
from annoserver.iiif.cache import TTLCache
from annoserver.iiif.decode import DEFAULT_MAX_PIXELS
from annoserver.iiif.errors import UpstreamTimeout
from annoserver.iiif.guard import HostGuard

USER_AGENT = f"annoserver/{__version__} (IIIF image client; python-requests/{requests.__version__})"


@dataclass(frozen=True)
class Limits:
    """Per-call limits on what one fetch may cost.

    Attributes:
        connect_timeout: Seconds to wait for a TCP/TLS connection.
        read_timeout: Seconds to wait for any byte of the answer.
        deadline: Seconds one download may take in all, headers to last byte.
        max_bytes: Largest image response body.
        max_json_bytes: Largest JSON (info.json, manifest) response body.
        max_pixels: Largest decoded image, and largest region fetch, in pixels.
        max_requests: Most image requests one region may need (level-0 tiles).
        max_redirects: Most redirects followed for one URL.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    deadline: float = 60.0
    max_bytes: int = 64 * 2**20
    max_json_bytes: int = 8 * 2**20
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_requests: int = 256
    max_redirects: int = 5


@dataclass
class _Slot:
    semaphore: threading.BoundedSemaphore
    users: int = 0  # holders and waiters


class HostSlots:
    """A semaphore per host, so no image server gets more than ``per_host`` requests at once.

    A host's semaphore lives only while someone holds or waits for it, so a process that
    talks to many hosts over its life keeps as many entries as it has fetches in flight.
    """

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    def __len__(self) -> int:
        """Hosts with a fetch in flight or waiting."""
        with self._lock:
            return len(self._slots)

    @contextmanager
    def hold(self, host: str, timeout: float) -> Iterator[None]:
        """Hold one of ``host``'s slots, waiting at most ``timeout`` seconds for it.

        Raises:
            UpstreamTimeout: No slot came free in time.
        """
        with self._lock:
            slot = self._slots.get(host)
            if slot is None:
                slot = self._slots[host] = _Slot(threading.BoundedSemaphore(self.per_host))
            slot.users += 1
        try:
            if not slot.semaphore.acquire(timeout=max(timeout, 0.0)):
                raise UpstreamTimeout(f"no free connection slot for {host} within the deadline")
            try:
                yield
            finally:
                slot.semaphore.release()
        finally:
            with self._lock:
                slot.users -= 1
                if slot.users == 0:
                    del self._slots[host]


@dataclass(frozen=True)
class RetryPolicy:
    """When and after how long a failed request is tried again.

    Attributes:
        retries: Retries after the first try, for refused connections and ``statuses``.
        backoff_factor: Exponential backoff base in seconds (``factor * 2 ** n``).
        retry_after_cap: Longest ``Retry-After`` waited, in seconds.
        statuses: Answers worth another try.
    """

    retries: int = 3
    backoff_factor: float = 0.5
    retry_after_cap: float = 30.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def backoff(self, tries: int) -> float:
        """Seconds to wait after ``tries`` failed tries when the server said nothing."""
        return self.backoff_factor * 2 ** max(tries - 1, 0)

    @staticmethod
    def retry_after(value: str | None) -> float | None:
        """A ``Retry-After`` header (seconds or an HTTP date) in seconds; None if absent/bad."""
        if not value:
            return None
        try:
            return max(Retry(0).parse_retry_after(value), 0.0)
        except urllib3.exceptions.InvalidHeader:
            return None


class IIIFSession(requests.Session):
    """A ``requests.Session`` carrying the guard, limits, retry policy, host slots and cache."""

    def __init__(self, guard: HostGuard, limits: Limits, host_slots: HostSlots,
                 json_cache: TTLCache, retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.guard = guard
        self.limits = limits
        self.host_slots = host_slots
        self.json_cache = json_cache
        self.retry = retry or RetryPolicy()
        self.trust_env = False
        self.headers["User-Agent"] = USER_AGENT


class _GuardedConnectionMixin:
    """Resolve through the guard and connect only to the addresses it accepted."""

    guard: HostGuard

    def _new_conn(self):  # urllib3's hook for opening the socket
        addresses = self.guard.resolve(self._dns_host, self.port)
        error: Exception | None = None
        for _family, sockaddr in addresses:
            try:
                return create_connection((sockaddr[0], self.port), self.timeout,
                                         source_address=self.source_address,
                                         socket_options=self.socket_options)
            except TimeoutError as exc:
                error = ConnectTimeoutError(self, f"connect to {self.host} timed out")
                error.__cause__ = exc
            except OSError as exc:
                error = NewConnectionError(self, f"failed to connect to {self.host}: {exc}")
        raise error or NewConnectionError(self, f"{self.host} has no address")


class GuardedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections pass through a :class:`HostGuard`."""

    def __init__(self, guard: HostGuard, **kwargs: Any) -> None:
        self.guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Make the pool manager build guarded connections."""
        super().init_poolmanager(*args, **kwargs)
        attrs = {"guard": self.guard}
        http = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), attrs)
        https = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), attrs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


def make_session(*, allowed_hosts: Iterable[str] | str = (),
                 public_allow_list: Iterable[str] | str | None = None,
                 limits: Limits | None = None, retries: int = 3, backoff_factor: float = 0.5,
                 retry_after_cap: float = 30.0, per_host: int = 4, json_ttl: float = 300.0,
                 json_cache_size: int = 512) -> IIIFSession:
    """Build the session every IIIF fetch goes through.

    Args:
        allowed_hosts: Hosts fetched even when they resolve to non-public addresses (an
            iterable, or one comma- or space-separated string as an environment gives it).
        public_allow_list: When given, the only public hosts that may be fetched.
        limits: Default per-call limits.
        retries: Retries on connection errors and on 429/500/502/503/504 answers.
        backoff_factor: Exponential backoff base in seconds between retries.
        retry_after_cap: Longest ``Retry-After`` honoured, in seconds.
        per_host: Concurrent requests allowed per host.
        json_ttl: Seconds a fetched JSON document is reused.
        json_cache_size: JSON documents kept.

    Returns:
        The session.
    """
    guard = HostGuard.build(allowed_hosts, public_allow_list)
    session = IIIFSession(guard, limits or Limits(), HostSlots(per_host),
                          TTLCache(json_ttl, json_cache_size),
                          RetryPolicy(retries, backoff_factor, retry_after_cap))
    # No retries down here: a retry sleeping inside urllib3 would hold the host's slot.
    adapter = GuardedAdapter(guard, max_retries=Retry(0, read=False, redirect=False),
                             pool_maxsize=max(10, per_host))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_default: IIIFSession | None = None
_default_lock = threading.Lock()


def default_session() -> IIIFSession:
    """The process-wide session used when none is passed: strict guard, default limits."""
    global _default
    with _default_lock:
        if _default is None:
            _default = make_session()
        return _default
