"""The in-process executor: a small pool of threads in each server process claiming units.

Started lazily (never in the gunicorn master: threads do not survive a fork) by the first
request that finds work, or by a new job. Each thread claims a unit atomically, runs it and
claims the next; one more thread beats the heart of the units this process holds and queues
again the units of runners that died (their heartbeat expired), so a job survives a restart.
Several processes (gunicorn workers, the CLI, later Dramatiq workers) share the work through
the database alone.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
import weakref

from sqlalchemy.exc import SQLAlchemyError

from annoserver.jobs.context import JobContext
from annoserver.jobs.work import UnitRunner

log = logging.getLogger(__name__)
RECHECK_SECONDS = 30.0
# Pools to stop (briefly) when the process exits; weak, so an app can still be collected.
_STARTED: weakref.WeakSet[InProcessExecutor] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for executor in list(_STARTED):
        executor.stop(5.0)


class InProcessExecutor:
    """A pool of ``settings.threads`` unit runners and a heartbeat thread."""

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.runner = UnitRunner(context)
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pid: int | None = None
        self._checked = 0.0

    @property
    def running(self) -> bool:
        """Whether this process's pool is running."""
        return self._pid == os.getpid() and any(t.is_alive() for t in self._threads)

    def start(self) -> bool:
        """Start the pool in this process unless it runs already (or ``threads`` is 0)."""
        with self._lock:
            if self.running or self.context.settings.threads <= 0:
                return False
            self._pid, self._stop, self._wake = os.getpid(), threading.Event(), threading.Event()
            self._held = set()
            self._threads = [threading.Thread(target=self._work, daemon=True,
                                              name=f"annoserver-job-{i}")
                             for i in range(self.context.settings.threads)]
            self._threads.append(threading.Thread(target=self._tick, daemon=True,
                                                  name="annoserver-job-heartbeat"))
            for thread in self._threads:
                thread.start()
            _STARTED.add(self)
            return True

    def resume_if_needed(self) -> None:
        """Start the pool when the database has unfinished jobs (checked every 30 s at most)."""
        now = time.monotonic()
        if self.running or now - self._checked < RECHECK_SECONDS:
            return
        self._checked = now
        try:
            active = self.context.repository.has_active_jobs()
        except SQLAlchemyError as error:
            log.warning("could not look for unfinished jobs: %s", error)
            return
        if active:
            self.start()

    def wake(self) -> None:
        """Make idle threads look for work now (a job was just queued)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking units and wait up to ``timeout`` s for the running ones to finish."""
        with self._lock:
            threads, self._threads = self._threads, []
            self._stop.set()
            self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _work(self) -> None:
        stop, wake = self._stop, self._wake
        settings = self.context.settings
        while not stop.is_set():
            token = secrets.token_hex(16)
            with self._lock:
                self._held.add(token)
            try:
                unit = self.context.repository.claim_next(token, settings.per_host)
                if unit is not None:
                    self.runner.execute(unit)
            except Exception:  # noqa: BLE001 - the pool must outlive a database hiccup
                log.exception("job runner error; retrying after %s s", settings.poll_interval)
                unit = None
            finally:
                with self._lock:
                    self._held.discard(token)
            if unit is None:
                wake.wait(settings.poll_interval)
                wake.clear()

    def _tick(self) -> None:
        stop, settings = self._stop, self.context.settings
        repository = self.context.repository
        while True:
            try:
                with self._lock:
                    held = list(self._held)
                repository.beat(held)
                repository.requeue_stale(settings.stale_after, settings.attempts,
                                         settings.max_errors)
            except Exception:  # noqa: BLE001 - the heartbeat must outlive any one failure
                # A dead heartbeat would let other runners take these units while they run.
                log.exception("job heartbeat failed")
            if stop.wait(settings.heartbeat):
                return
