"""The Dramatiq executor: units as Redis messages carrying ids only, run by ``annoserver worker``.

Used when ``BROKER_URL`` is set (the in-process executor then runs nothing). Submitting a job
sends one message per queued unit; the ``run_unit`` actor claims the unit in the database and
runs it with the same :class:`~annoserver.jobs.work.UnitRunner` as the in-process executor.
The database stays the truth: a claim is atomic, so a message delivered twice (Redis
redelivers a dead worker's unacknowledged messages; the worker's sweep re-sends) runs the
unit once at most, and a message for a unit that is not queued is simply acknowledged.
Dramatiq's own retries are off: a failed unit is queued again by the store's attempt
bookkeeping and re-sent with its backoff as the message delay. Messages are acknowledged
after processing (Dramatiq's default).
"""

from __future__ import annotations

from datetime import UTC, datetime

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from annoserver.store.jobs import ACTIVE, QUEUED
from annoserver.store.listing import aware
from annoserver.store.tables import JobRow, JobUnitRow

QUEUE = "annoserver-units"
ACTOR = "run_unit"
TIME_LIMIT_MS = 3_600_000


def _run_unit(unit_id: int) -> None:
    """The actor's body; only a worker process (``annoserver.jobs.worker``) runs it."""
    from annoserver.jobs.worker import run_unit

    run_unit(unit_id)


class BrokerDispatcher:
    """Sends units to the Dramatiq broker at ``url`` (one per process; fork-safe)."""

    def __init__(self, engine: Engine, url: str, stale_after: float = 60.0) -> None:
        self.engine = engine
        # A worker silent for as long as a stale unit gets its unacknowledged messages
        # delivered again (duplicates are harmless: claims are atomic).
        self.broker = RedisBroker(url=url, heartbeat_timeout=int(max(stale_after, 1) * 1000))
        self.actor = dramatiq.actor(_run_unit, actor_name=ACTOR, queue_name=QUEUE,
                                    broker=self.broker, max_retries=0,
                                    time_limit=TIME_LIMIT_MS)

    def send(self, unit_id: int, delay: float = 0.0) -> None:
        """Send one unit, to run after ``delay`` seconds."""
        delay_ms = int(delay * 1000)
        self.actor.send_with_options(args=(unit_id,), delay=delay_ms or None)

    def broker_run(self) -> str:
        """The id of the broker's Redis run (``INFO server``'s ``run_id``).

        A new one means Redis restarted and, keeping nothing on disk, lost every message.
        """
        return str(self.broker.client.info("server")["run_id"])

    def send_job(self, job_id: int) -> int:
        """Send the queued units of job ``job_id``; return how many."""
        return self._send(select(JobUnitRow.id, JobUnitRow.next_attempt)
                          .where(JobUnitRow.job_id == job_id, JobUnitRow.state == QUEUED))

    def send_queued(self) -> int:
        """Send every queued unit of every active job (a worker starting, after a crash)."""
        active = select(JobRow.id).where(JobRow.state.in_(ACTIVE))
        return self._send(select(JobUnitRow.id, JobUnitRow.next_attempt)
                          .where(JobUnitRow.state == QUEUED, JobUnitRow.job_id.in_(active)))

    def wait_for(self, unit_id: int) -> float | None:
        """Seconds until unit ``unit_id`` may run (0: now); None when it is not queued."""
        with Session(self.engine) as session:
            row = session.execute(select(JobUnitRow.state, JobUnitRow.next_attempt).where(
                JobUnitRow.id == unit_id)).first()
        if row is None or row.state != QUEUED:
            return None
        return _delay(row.next_attempt)

    def _send(self, query) -> int:  # noqa: ANN001 - a select of (id, next_attempt)
        with Session(self.engine) as session:
            rows = session.execute(query.order_by(JobUnitRow.id)).all()
        for unit_id, next_attempt in rows:
            self.send(unit_id, _delay(next_attempt))
        return len(rows)


def _delay(next_attempt: datetime | None) -> float:
    if next_attempt is None:
        return 0.0
    return max((aware(next_attempt) - datetime.now(UTC)).total_seconds(), 0.0)
