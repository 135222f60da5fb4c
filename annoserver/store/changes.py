"""The change log behind IIIF Change Discovery (``/activity``): what changed, in commit order.

Every annotation write (create, replace, delete, a model's results replacing earlier ones, a
review) collects the objects it changes in a :class:`ChangeSet` and appends them to the log
in its own transaction, so nothing is reported that did not commit and nothing committed is
missed. The object of a change is the annotation page the annotation is listed on (one canvas
× model of a registered manifest, ``/pages/{id}``), else the annotation itself.

Positions are dense (1, 2, 3, ...) and follow commit order: they are taken after the
container-state row is locked (PostgreSQL) or under the write lock (SQLite), which every
writer holds until it commits. So a page of the log is a range of positions (constant cost
at any depth) and a full page never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, exists, func, insert, select
from sqlalchemy.orm import Session

from annoserver.store.fields import index_fields
from annoserver.store.jobs import ANALYSE
from annoserver.store.keys import digest, page_id
from annoserver.store.listing import aware
from annoserver.store.tables import ChangeRow, JobUnitRow, ManifestRow

CREATE, UPDATE, DELETE = "Create", "Update", "Delete"
PAGE, ANNOTATION = "page", "annotation"


@dataclass(frozen=True)
class Change:
    """One logged change: an activity on a page (by page id) or an annotation (by slug)."""

    position: int
    activity: str
    kind: str
    ref: str
    end_time: datetime


class ChangeSet:
    """The objects one write transaction changes, logged by :meth:`write` before it commits."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._objects: dict[tuple[str, str], str] = {}
        self._pages: dict[tuple[str, str, str], str | None] = {}

    def created(self, slug: str, document: dict[str, Any]) -> None:
        """Annotation ``slug`` was created with ``document``."""
        self._touch(slug, document, CREATE)

    def updated(self, slug: str, document: dict[str, Any]) -> None:
        """Annotation ``slug`` now reads ``document`` (call with the old one too if it moved)."""
        self._touch(slug, document, UPDATE)

    def deleted(self, slug: str, document: dict[str, Any]) -> None:
        """Annotation ``slug``, which read ``document``, was deleted."""
        self._touch(slug, document, DELETE)

    def _touch(self, slug: str, document: dict[str, Any], activity: str) -> None:
        page = self._page(document)
        if page is None:
            self._objects.setdefault((ANNOTATION, slug), activity)
        else:
            # A page is created with its first annotation and otherwise only updated: it
            # stays listed in the enriched manifest even when it becomes empty.
            self._objects[(PAGE, page)] = UPDATE

    def _page(self, document: dict[str, Any]) -> str | None:
        """The id of the ``/pages/{id}`` page that lists the annotation, if any."""
        fields = index_fields(document)
        if not fields.creator:
            return None
        for source, manifest in fields.targets:
            if manifest is None:
                continue
            key = (manifest, source, fields.creator)
            if key not in self._pages:
                self._pages[key] = self._find_page(*key)
            if self._pages[key]:
                return self._pages[key]
        return None

    def _find_page(self, manifest: str, canvas_id: str, model_id: str) -> str | None:
        canvas = digest(canvas_id)
        manifest_key = self._session.scalar(
            select(JobUnitRow.manifest_key)
            .join(ManifestRow, ManifestRow.key == JobUnitRow.manifest_key)
            .where(ManifestRow.iiif_id == manifest, JobUnitRow.canvas_key == canvas,
                   JobUnitRow.model_id == model_id, JobUnitRow.kind == ANALYSE)
            .order_by(JobUnitRow.manifest_key).limit(1))
        return page_id(manifest_key, canvas_id, model_id) if manifest_key else None

    def write(self) -> None:
        """Append the changes to the log; call with the container-state row locked.

        ``endTime`` never goes back (clocks of several hosts may disagree), so a harvester
        that stops at a time it has seen misses nothing.
        """
        if not self._objects:
            return
        session = self._session
        last = session.execute(select(ChangeRow.position, ChangeRow.end_time)
                               .order_by(ChangeRow.position.desc()).limit(1)).first()
        position, end_time = last or (0, None)
        now = datetime.now(UTC)
        now = max(now, aware(end_time)) if end_time else now
        rows = []
        for (kind, ref), activity in self._objects.items():
            if kind == PAGE and not session.scalar(select(exists().where(
                    ChangeRow.object_kind == PAGE, ChangeRow.object_ref == ref))):
                activity = CREATE
            position += 1
            rows.append({"position": position, "activity": activity, "object_kind": kind,
                         "object_ref": ref, "end_time": now})
        session.execute(insert(ChangeRow), rows)
        self._objects.clear()


def _change(row: ChangeRow) -> Change:
    return Change(row.position, row.activity, row.object_kind, row.object_ref,
                  aware(row.end_time))


class ChangeLog:
    """Reads of the change log over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def total(self) -> int:
        """How many changes are logged (the newest position: positions are dense)."""
        with Session(self._engine) as session:
            return session.scalar(select(func.max(ChangeRow.position))) or 0

    def span(self, first: int, last: int) -> list[Change]:
        """The changes at positions ``first`` to ``last``, oldest first."""
        with Session(self._engine) as session:
            rows = session.scalars(select(ChangeRow).where(
                ChangeRow.position >= first, ChangeRow.position <= last)
                .order_by(ChangeRow.position))
            return [_change(row) for row in rows]
