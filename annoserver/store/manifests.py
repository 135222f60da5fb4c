"""Registered manifests and collections, and what their enriched versions are built from.

A registered document is stored as fetched, under a key (a digest of its URL). Which models
an enriched manifest shows, which members a collection has and which canvas a page id names
are read from the units jobs created for it (:mod:`annoserver.store.jobs`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from annoserver.store.jobs import ANALYSE
from annoserver.store.listing import aware
from annoserver.store.tables import JobRow, JobUnitRow, ManifestRow


@dataclass(frozen=True)
class ManifestRecord:
    """A registered manifest or collection as fetched."""

    key: str
    url: str
    iiif_id: str
    kind: str
    version: int
    label: str
    source: dict[str, Any]
    fetched: datetime


def _manifest(row: ManifestRow) -> ManifestRecord:
    return ManifestRecord(row.key, row.url, row.iiif_id, row.kind, row.version, row.label,
                          row.source, aware(row.fetched))


def _upsert(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


class ManifestStore:
    """Registered manifests over one SQLAlchemy engine (no Flask)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(immediate=True)

    def save(self, record: ManifestRecord) -> None:
        """Insert or refresh a registered manifest (same key: same source URL)."""
        values = asdict(record)
        with Session(self._writer) as session, session.begin():
            statement = _upsert(session)(ManifestRow).values(**values)
            session.execute(statement.on_conflict_do_update(
                index_elements=[ManifestRow.key],
                set_={k: v for k, v in values.items() if k != "key"}))

    def get(self, key: str) -> ManifestRecord | None:
        """The registered manifest or collection ``key``."""
        with Session(self._engine) as session:
            row = session.get(ManifestRow, key)
            return _manifest(row) if row else None

    def models(self, key: str) -> list[str]:
        """The models any job ran on manifest ``key``, in the order they were first asked for."""
        first = func.min(JobUnitRow.id)
        query = (select(JobUnitRow.model_id).where(JobUnitRow.manifest_key == key,
                                                   JobUnitRow.kind == ANALYSE)
                 .group_by(JobUnitRow.model_id).order_by(first))
        with Session(self._engine) as session:
            return list(session.scalars(query))

    def members(self, key: str) -> list[ManifestRecord]:
        """The manifests that jobs on collection ``key`` analysed, in collection order."""
        first = (select(JobUnitRow.manifest_key, func.min(JobUnitRow.id).label("first"))
                 .join(JobRow, JobRow.id == JobUnitRow.job_id)
                 .where(JobRow.manifest_key == key, JobUnitRow.kind == ANALYSE)
                 .group_by(JobUnitRow.manifest_key).subquery())
        query = (select(ManifestRow).join(first, first.c.manifest_key == ManifestRow.key)
                 .order_by(first.c.first))
        with Session(self._engine) as session:
            return [_manifest(row) for row in session.scalars(query)]

    def canvas(self, manifest_key: str, canvas_key: str) -> str | None:
        """The id of the canvas of manifest ``manifest_key`` whose digest is ``canvas_key``."""
        query = select(JobUnitRow.canvas_id).where(
            JobUnitRow.manifest_key == manifest_key, JobUnitRow.canvas_key == canvas_key,
            JobUnitRow.kind == ANALYSE).limit(1)
        with Session(self._engine) as session:
            return session.scalar(query)
