"""The job repository: batch jobs, and the claiming of their units.

Everything a runner needs lives here, so any runner (the in-process pool, a Dramatiq worker,
the CLI) can pick up, retry or resume work: a unit is claimed by a conditional UPDATE that
sets a random token (``WHERE state = 'queued'``: of two runners, one wins), finishing checks
the token (a runner whose claim expired and was handed to another records nothing), and the
job's counters, error list and final state move in the same transaction as the unit.

Claims are serialised (SQLite's write lock; a transaction-scoped advisory lock on
PostgreSQL), so what a claim checks holds for every runner in every process and machine:

- politeness: a unit is not claimed while ``per_host`` units of its IIIF host are running;
- no duplicate work: a unit is not claimed while the same canvas × model of the same
  manifest is running in another job (registering a manifest again while its job runs).

A crashed runner's units hold their host's slots only until their heartbeat goes stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, aliased

from annoserver.store.listing import aware
from annoserver.store.tables import JobRow, JobUnitRow, ManifestRow

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
ANALYSE, EXPAND = "analyse", "expand"
# The PostgreSQL advisory lock every claim takes (an arbitrary constant: "annoclaim").
CLAIM_LOCK = 0x616E6E6F636C61


@dataclass(frozen=True)
class JobRecord:
    """A job's state and progress counters."""

    id: int
    manifest_key: str
    models: list[str]
    options: dict[str, Any]
    base_url: str
    state: str
    total: int
    done: int
    failed: int
    errors: list[dict[str, Any]]
    created: datetime
    started: datetime | None
    finished: datetime | None


@dataclass(frozen=True)
class UnitSpec:
    """A unit to create: a canvas × model to analyse, or a collection to expand."""

    kind: str
    manifest_key: str
    canvas_id: str
    canvas_key: str
    model_id: str
    service: str | None = None
    host: str | None = None
    canvas_width: int | None = None
    canvas_height: int | None = None


@dataclass(frozen=True)
class ClaimedUnit:
    """A unit a runner holds (``token`` proves it), with what running it needs."""

    id: int
    job_id: int
    token: str
    kind: str
    attempts: int
    manifest_key: str
    manifest_id: str
    manifest_fetched: datetime
    canvas_id: str
    model_id: str
    service: str | None
    canvas_width: int | None
    canvas_height: int | None
    base_url: str
    models: list[str]
    options: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def _job(row: JobRow) -> JobRecord:
    return JobRecord(row.id, row.manifest_key, list(row.models), dict(row.options), row.base_url,
                     row.state, row.total, row.done, row.failed, list(row.errors),
                     aware(row.created), row.started and aware(row.started),
                     row.finished and aware(row.finished))


class JobRepository:
    """Jobs and their units over one SQLAlchemy engine (no Flask)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(immediate=True)

    # -- jobs -----------------------------------------------------------------------------

    def create_job(self, manifest_key: str, models: Sequence[str], options: dict[str, Any],
                   base_url: str, units: Sequence[UnitSpec]) -> int:
        """Create a queued job with its units; return its id."""
        now = _now()
        row = JobRow(manifest_key=manifest_key, models=list(models), options=options,
                     base_url=base_url, state=QUEUED, total=0, done=0, failed=0, errors=[],
                     created=now)
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            session.add(row)
            session.flush()
            row.total = self._insert_units(session, row.id, units, now)
            self._settle(session, row, now)
        return row.id

    def add_units(self, job_id: int, units: Sequence[UnitSpec]) -> int:
        """Add the units the job lacks (a retried expansion adds none twice); count added."""
        now = _now()
        with Session(self._writer) as session, session.begin():
            added = self._insert_units(session, job_id, units, now)
            session.execute(update(JobRow).where(JobRow.id == job_id).values(
                total=JobRow.total + added))
        return added

    def _insert_units(self, session: Session, job_id: int, units: Sequence[UnitSpec],
                      now: datetime) -> int:
        have = {(canvas_id, model_id) for canvas_id, model_id in session.execute(
            select(JobUnitRow.canvas_id, JobUnitRow.model_id).where(
                JobUnitRow.job_id == job_id))}
        fresh = {(unit.canvas_id, unit.model_id): unit for unit in units}
        rows = [{**asdict(unit), "job_id": job_id, "state": QUEUED, "attempts": 0,
                 "next_attempt": now} for key, unit in fresh.items() if key not in have]
        if rows:
            session.execute(insert(JobUnitRow), rows)
        return sum(1 for row in rows if row["kind"] == ANALYSE)

    def add_errors(self, job_id: int, errors: Iterable[dict[str, Any]], limit: int) -> None:
        """Append to the job's error list, keeping at most ``limit`` entries."""
        errors = list(errors)
        if not errors:
            return
        with Session(self._writer) as session, session.begin():
            row = session.scalars(select(JobRow).where(JobRow.id == job_id)
                                  .with_for_update()).one()
            row.errors = (list(row.errors) + errors)[:limit]

    def job(self, job_id: int) -> JobRecord | None:
        """The job ``job_id``."""
        with Session(self._engine) as session:
            row = session.get(JobRow, job_id)
            return _job(row) if row else None

    def jobs_of(self, manifest_key: str) -> list[JobRecord]:
        """The jobs registered for manifest (or collection) ``manifest_key``, oldest first."""
        with Session(self._engine) as session:
            return [_job(row) for row in session.scalars(
                select(JobRow).where(JobRow.manifest_key == manifest_key).order_by(JobRow.id))]

    def cancel(self, job_id: int) -> JobRecord | None:
        """Cancel a queued or running job (units in flight finish); a finished job is kept."""
        now = _now()
        active = select(JobRow.id).where(JobRow.id == job_id, JobRow.state.in_(ACTIVE))
        with Session(self._writer) as session, session.begin():
            # Units before the job row: claiming and finishing lock in that order too, so
            # PostgreSQL never sees two transactions wait on each other.
            session.execute(update(JobUnitRow).where(
                JobUnitRow.job_id.in_(active), JobUnitRow.state == QUEUED).values(
                state=CANCELLED, finished=now))
            row = session.scalars(select(JobRow).where(JobRow.id == job_id)
                                  .with_for_update()).first()
            if row is None:
                return None
            if row.state in ACTIVE:
                row.state, row.finished = CANCELLED, now
                session.flush()
            return _job(row)

    def has_active_jobs(self) -> bool:
        """Whether any job is queued or running (a runner should be started)."""
        with Session(self._engine) as session:
            return session.scalar(select(exists().where(JobRow.state.in_(ACTIVE)))) or False

    # -- units ----------------------------------------------------------------------------

    def claim_next(self, token: str, per_host: int) -> ClaimedUnit | None:
        """Claim the oldest runnable unit (see the module's rules for what runnable means)."""
        now = _now()
        query = (select(JobUnitRow.id).join(JobRow, JobRow.id == JobUnitRow.job_id)
                 .where(JobUnitRow.state == QUEUED, JobUnitRow.next_attempt <= now,
                        JobRow.state.in_(ACTIVE), *_free(per_host))
                 .order_by(JobUnitRow.id).limit(8))
        # Idle runners poll: look without the write lock first (SQLite has only one).
        with Session(self._engine) as session:
            if not session.scalars(query).first():
                return None
        with Session(self._writer) as session, session.begin():
            _serialise_claims(session)
            for unit_id in session.scalars(query).all():
                claimed = self._take(session, unit_id, token, now, per_host)
                if claimed:
                    return claimed
        return None

    def claim(self, unit_id: int, token: str, per_host: int) -> ClaimedUnit | None:
        """Claim unit ``unit_id`` if it is queued in an active job and may run now.

        For message runners. None when it is not queued, or when it must wait (its host is
        at ``per_host``, or its twin runs; the unit is still queued then).
        """
        with Session(self._writer) as session, session.begin():
            _serialise_claims(session)
            return self._take(session, unit_id, token, _now(), per_host)

    def _take(self, session: Session, unit_id: int, token: str, now: datetime,
              per_host: int) -> ClaimedUnit | None:
        active = select(JobRow.id).where(JobRow.state.in_(ACTIVE))
        taken = session.execute(update(JobUnitRow).where(
            JobUnitRow.id == unit_id, JobUnitRow.state == QUEUED,
            JobUnitRow.job_id.in_(active), *_free(per_host)).values(
            state=RUNNING, claim=token, heartbeat=now, attempts=JobUnitRow.attempts + 1))
        if taken.rowcount != 1:
            return None
        unit, job, manifest_id, fetched = session.execute(
            select(JobUnitRow, JobRow, ManifestRow.iiif_id, ManifestRow.fetched)
            .join(JobRow, JobRow.id == JobUnitRow.job_id)
            .join(ManifestRow, ManifestRow.key == JobUnitRow.manifest_key)
            .where(JobUnitRow.id == unit_id)).one()
        if job.state == QUEUED:
            job.state, job.started = RUNNING, now
        job.heartbeat = now
        return ClaimedUnit(unit.id, job.id, token, unit.kind, unit.attempts, unit.manifest_key,
                           manifest_id, aware(fetched), unit.canvas_id, unit.model_id, unit.service,
                           unit.canvas_width, unit.canvas_height, job.base_url,
                           list(job.models), dict(job.options))

    def beat(self, tokens: Iterable[str]) -> None:
        """Mark the units held under ``tokens`` alive."""
        tokens = list(tokens)
        if tokens:
            with Session(self._writer) as session, session.begin():
                session.execute(update(JobUnitRow).where(
                    JobUnitRow.claim.in_(tokens), JobUnitRow.state == RUNNING).values(
                    heartbeat=_now()))

    def complete(self, unit: ClaimedUnit) -> bool:
        """Record a unit done; False when the claim was lost (someone else runs it now)."""
        with Session(self._writer) as session, session.begin():
            return self._finish(session, unit.id, unit.token, DONE, None, 0, _now())

    def fail(self, unit: ClaimedUnit, error: dict[str, Any], limit: int) -> bool:
        """Record a unit failed for good, with ``error`` in the job's (bounded) error list."""
        with Session(self._writer) as session, session.begin():
            return self._finish(session, unit.id, unit.token, FAILED, error, limit, _now())

    def retry(self, unit: ClaimedUnit, detail: str, delay: float) -> bool:
        """Queue a unit again after ``delay`` seconds; False when the claim was lost."""
        now = _now()
        with Session(self._writer) as session, session.begin():
            result = session.execute(update(JobUnitRow).where(
                JobUnitRow.id == unit.id, JobUnitRow.claim == unit.token,
                JobUnitRow.state == RUNNING).values(
                state=QUEUED, claim=None, heartbeat=None, last_error=detail,
                next_attempt=now + timedelta(seconds=delay)))
            return result.rowcount == 1

    def requeue_stale(self, stale_after: float, attempts: int, limit: int) -> int:
        """Queue again the running units whose heartbeat is older than ``stale_after`` s.

        Their runner died (a killed process, a restarted server). A unit that has already
        had ``attempts`` tries is recorded failed instead, so a unit that kills its runner
        cannot loop forever. Returns how many units were handled.
        """
        now = _now()
        cutoff = now - timedelta(seconds=stale_after)
        detail = "the runner holding this unit stopped answering (process killed or restarted)"
        with Session(self._writer) as session, session.begin():
            stale = session.execute(select(
                JobUnitRow.id, JobUnitRow.claim, JobUnitRow.attempts, JobUnitRow.canvas_id,
                JobUnitRow.model_id).where(JobUnitRow.state == RUNNING,
                                           JobUnitRow.heartbeat < cutoff)).all()
            for unit_id, token, tries, canvas_id, model_id in stale:
                if tries < attempts:
                    session.execute(update(JobUnitRow).where(
                        JobUnitRow.id == unit_id, JobUnitRow.claim == token).values(
                        state=QUEUED, claim=None, heartbeat=None, last_error=detail,
                        next_attempt=now))
                else:
                    error = {"canvas": canvas_id, "model": model_id, "attempts": tries,
                             "status": 500, "detail": detail}
                    self._finish(session, unit_id, token, FAILED, error, limit, now)
        return len(stale)

    def _finish(self, session: Session, unit_id: int, token: str | None, state: str,
                error: dict[str, Any] | None, limit: int, now: datetime) -> bool:
        result = session.execute(update(JobUnitRow).where(
            JobUnitRow.id == unit_id, JobUnitRow.claim == token,
            JobUnitRow.state == RUNNING).values(
            state=state, claim=None, finished=now,
            last_error=error["detail"] if error else None))
        if result.rowcount != 1:
            return False
        kind, job_id = session.execute(select(JobUnitRow.kind, JobUnitRow.job_id).where(
            JobUnitRow.id == unit_id)).one()
        job = session.scalars(select(JobRow).where(JobRow.id == job_id).with_for_update()).one()
        if kind == ANALYSE:
            job.done += state == DONE
            job.failed += state == FAILED
        if error:
            job.errors = (list(job.errors) + [error])[:limit]
        job.heartbeat = now
        session.flush()
        self._settle(session, job, now)
        return True

    def _settle(self, session: Session, job: JobRow, now: datetime) -> None:
        """Finish an active job with no unit left queued or running."""
        if job.state not in ACTIVE:
            return
        pending = session.scalar(select(exists().where(
            JobUnitRow.job_id == job.id, JobUnitRow.state.in_(ACTIVE))))
        if pending:
            return
        expansion_failed = session.scalar(select(exists().where(
            JobUnitRow.job_id == job.id, JobUnitRow.kind == EXPAND,
            JobUnitRow.state == FAILED)))
        nothing_done = job.done == 0 and (job.failed > 0 or expansion_failed)
        job.state, job.finished = (FAILED if nothing_done else DONE), now
        job.started = job.started or now


@lru_cache(maxsize=8)
def _free(per_host: int) -> tuple[ColumnElement[bool], ...]:
    """Conditions on ``JobUnitRow`` that a unit may start now: a free host slot, no twin.

    Uncorrelated subqueries over the few running units, so the database evaluates each once
    per claim rather than once per queued unit; built once per cap.
    """
    other = aliased(JobUnitRow)  # never correlated with the unit being claimed
    running = other.state == RUNNING
    busy_hosts = (select(other.host).where(running, other.host.is_not(None))
                  .group_by(other.host).having(func.count() >= per_host))
    twins = select(other.manifest_key, other.canvas_key, other.model_id, other.kind).where(
        running)
    return (or_(JobUnitRow.host.is_(None), JobUnitRow.host.not_in(busy_hosts)),
            tuple_(JobUnitRow.manifest_key, JobUnitRow.canvas_key, JobUnitRow.model_id,
                   JobUnitRow.kind).not_in(twins))


def _serialise_claims(session: Session) -> None:
    """Make claims take turns, so the counts :func:`_free` reads cannot change meanwhile.

    SQLite's writers already hold its one write lock; PostgreSQL's READ COMMITTED would let
    two claims for the same host both see a free slot.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
