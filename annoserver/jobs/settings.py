"""How jobs run: the settings every runner reads (from the app's configuration keys)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from annoserver.presentation import Limits


@dataclass(frozen=True)
class JobSettings:
    """Job settings; see README's configuration table for each ``JOB_*`` key.

    Attributes:
        threads: Units one process's in-process executor runs at once (0: none).
        per_host: Units analysed at once per IIIF image host, across all runners.
        attempts: Tries per unit before it is recorded failed.
        backoff: Seconds before the first retry; doubled for each further one.
        max_backoff: Longest wait between two tries, in seconds.
        heartbeat: Seconds between a runner's heartbeats for the units it holds.
        stale_after: Seconds without a heartbeat after which a running unit is queued again.
        poll_interval: Seconds an idle executor waits before looking for work again.
        max_errors: Errors kept per job (the first ones).
        limits: Bounds on the manifests and collections read.
    """

    threads: int = 2
    per_host: int = 2
    attempts: int = 3
    backoff: float = 5.0
    max_backoff: float = 300.0
    heartbeat: float = 10.0
    stale_after: float = 60.0
    poll_interval: float = 2.0
    max_errors: int = 50
    limits: Limits = Limits()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JobSettings:
        """Read the ``JOB_*``, ``MANIFEST_*`` and ``COLLECTION_*`` keys of an app config."""
        limits = Limits(max_canvases=int(config["MANIFEST_MAX_CANVASES"]),
                        max_depth=int(config["COLLECTION_MAX_DEPTH"]),
                        max_members=int(config["COLLECTION_MAX_MANIFESTS"]))
        threads = 0 if config.get("BROKER_URL") else int(config["JOB_THREADS"])
        return cls(threads=threads, per_host=int(config["JOB_PER_HOST"]),
                   attempts=int(config["JOB_ATTEMPTS"]), backoff=float(config["JOB_BACKOFF"]),
                   heartbeat=float(config["JOB_HEARTBEAT"]),
                   stale_after=float(config["JOB_STALE_AFTER"]),
                   poll_interval=float(config["JOB_POLL_INTERVAL"]),
                   max_errors=int(config["JOB_MAX_ERRORS"]), limits=limits)

    def delay(self, attempts: int) -> float:
        """Seconds to wait before the try after ``attempts`` tries."""
        return min(self.backoff * 2 ** max(attempts - 1, 0), self.max_backoff)
