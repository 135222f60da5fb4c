"""The module ``annoserver worker`` hands to Dramatiq: the app, its broker, the upkeep thread.

Imported in each Dramatiq worker process (after the fork; ONNX sessions are created lazily
by the runtime, so each process gets its own). Besides running messages, each process beats
the heart of the units it holds, queues again the units of dead runners (a SIGKILLed worker)
and re-sends them, and on start re-sends every queued unit (a message lost with a dead
worker's prefetch is sent again; duplicates are harmless, the claim decides). A unit whose
IIIF host already runs ``JOB_PER_HOST`` units (counted in the database, so across every
worker process and machine) is not claimed but sent again after ``JOB_POLL_INTERVAL``.
"""

from __future__ import annotations

import logging
import secrets
import threading

import dramatiq
from dramatiq.middleware import Middleware
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from annoserver.app import create_app
from annoserver.jobs.broker import BrokerDispatcher
from annoserver.jobs.context import JobContext
from annoserver.jobs.work import UnitRunner
from annoserver.store.jobs import EXPAND, QUEUED, RUNNING
from annoserver.store.tables import JobUnitRow

log = logging.getLogger(__name__)


class Upkeep(Middleware):
    """Heartbeats and the stale sweep, in a thread of each worker process."""

    def __init__(self, context: JobContext, dispatcher: BrokerDispatcher) -> None:
        self.context, self.dispatcher = context, dispatcher
        self.runner = UnitRunner(context)  # one per process: it caches parsed manifests
        self.lock = threading.Lock()
        self.held: set[str] = set()
        self.stop = threading.Event()
        self.broker_run: str | None = None  # Redis's run id, to notice it restarting

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Re-send the queued units and start the upkeep thread."""
        try:
            self.broker_run = self.dispatcher.broker_run()
        except RedisError:
            log.exception("could not read the broker's run id")
            # Unknown, so the first run id the upkeep reads counts as a restart: queued
            # units are sent again rather than risk messages lost before it looked.
            self.broker_run = ""
        try:
            sent = self.dispatcher.send_queued()
            log.info("worker started; %s queued unit(s) sent", sent)
        except SQLAlchemyError:
            log.exception("could not send the queued units")
        threading.Thread(target=self._tick, daemon=True, name="annoserver-upkeep").start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Stop the upkeep thread."""
        self.stop.set()

    def _tick(self) -> None:
        settings, repository = self.context.settings, self.context.repository
        while not self.stop.wait(settings.heartbeat):
            try:
                with self.lock:
                    held = list(self.held)
                repository.beat(held)
                self._sweep()
                self._resend_if_broker_restarted()
            except Exception:  # noqa: BLE001 - the thread must outlive a hiccup
                log.exception("job upkeep failed")

    def _resend_if_broker_restarted(self) -> None:
        """Re-send every queued unit when Redis restarted since the last look.

        A Redis that keeps nothing on disk comes back empty: the messages of the queued
        units (and the delayed ones of units waiting for a retry) are gone, and no runner
        would ever claim those units. Duplicates are harmless (the claim decides).
        """
        run = self.dispatcher.broker_run()
        if self.broker_run is not None and run != self.broker_run:
            sent = self.dispatcher.send_queued()
            log.warning("the broker restarted (messages may be lost); %s queued unit(s) sent "
                        "again", sent)
        self.broker_run = run

    def _sweep(self) -> None:
        settings = self.context.settings
        with Session(self.dispatcher.engine) as session:
            running = set(session.scalars(select(JobUnitRow.id).where(
                JobUnitRow.state == RUNNING)))
        if not self.context.repository.requeue_stale(settings.stale_after, settings.attempts,
                                                     settings.max_errors):
            return
        with Session(self.dispatcher.engine) as session:
            requeued = session.scalars(select(JobUnitRow.id).where(
                JobUnitRow.id.in_(running), JobUnitRow.state == QUEUED)).all()
        for unit_id in requeued:
            log.info("unit %s was held by a dead runner; sent again", unit_id)
            self.dispatcher.send(unit_id)

    def run_unit(self, unit_id: int) -> None:
        """Claim and run one unit, then re-send what it left to do (a retry, new units)."""
        dispatcher, repository = self.dispatcher, self.context.repository
        wait = dispatcher.wait_for(unit_id)
        if wait is None:  # taken, finished or cancelled: acknowledge and forget
            return
        if wait > 0:  # an early duplicate of a unit waiting for its retry
            dispatcher.send(unit_id, wait)
            return
        token = secrets.token_hex(16)
        with self.lock:
            self.held.add(token)
        try:
            unit = repository.claim(unit_id, token, self.context.settings.per_host)
            if unit is None:
                self._later(unit_id)
                return
            self.runner.execute(unit)
        finally:
            with self.lock:
                self.held.discard(token)
        if unit.kind == EXPAND:
            dispatcher.send_job(unit.job_id)  # the units the expansion added (or its retry)
        elif (wait := dispatcher.wait_for(unit_id)) is not None:
            dispatcher.send(unit_id, wait)  # to be retried after its backoff

    def _later(self, unit_id: int) -> None:
        """Send an unclaimed unit again if it is still queued.

        Its host was at its cap (or its twin running): it waits a poll interval in the
        broker, not on one of the worker's threads.
        """
        wait = self.dispatcher.wait_for(unit_id)
        if wait is not None:
            self.dispatcher.send(unit_id, max(wait, self.context.settings.poll_interval))


def _build() -> tuple[BrokerDispatcher, Upkeep]:
    app = create_app()
    context: JobContext = app.extensions["annoserver.jobs"]
    dispatcher = context.dispatcher
    if not isinstance(dispatcher, BrokerDispatcher):
        raise SystemExit("annoserver worker needs ANNOSERVER_BROKER_URL (a redis:// URL)")
    upkeep = Upkeep(context, dispatcher)
    dispatcher.broker.add_middleware(upkeep)
    return dispatcher, upkeep


_dispatcher, _upkeep = _build()
broker = _dispatcher.broker
dramatiq.set_broker(broker)


def run_unit(unit_id: int) -> None:
    """Claim and run unit ``unit_id`` in this worker process."""
    _upkeep.run_unit(unit_id)
