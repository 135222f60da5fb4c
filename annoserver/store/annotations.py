"""The annotation repository: create, read, replace, delete and keyset-paged listing.

Documents are stored without their ``id``: the IRI is minted from the public base URL and
the ``slug`` when the annotation is served, so moving the server does not rewrite data.
Every write runs in one transaction; replace and delete are conditional on the ETag, so a
concurrent writer can never be silently overwritten.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, Select, Text, cast, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annoserver.store.fields import index_fields
from annoserver.store.tables import AnnotationRow, ContainerStateRow, TargetRow

# Slugs become the last path segment of IRIs and are spliced into JSON unescaped: keep them
# to characters that need no escaping in either.
SAFE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class SlugTaken(Exception):
    """The requested slug already names an annotation (live or deleted)."""


class Missing(Exception):
    """No annotation has this slug."""


class Deleted(Exception):
    """The annotation existed and was deleted."""


class StaleETag(Exception):
    """The ``If-Match`` ETag is not the annotation's current one."""


@dataclass(frozen=True)
class StoredAnnotation:
    """An annotation as stored: its document (without ``id``) and bookkeeping."""

    seq: int
    slug: str
    document: dict[str, Any]
    etag: str
    created: datetime
    modified: datetime


class PageRow(NamedTuple):
    """One listed annotation: its order key, slug and stored JSON text."""

    seq: int
    slug: str
    text: str


@dataclass(frozen=True)
class Filters:
    """Restrictions of a container view; all ``None`` is the whole container."""

    target: str | None = None
    manifest: str | None = None
    motivation: str | None = None
    creator: str | None = None
    min_confidence: float | None = None

    def is_empty(self) -> bool:
        """True when no restriction is set."""
        return all(value is None for value in vars(self).values())


def _now() -> datetime:
    return datetime.now(UTC)


def _stored(row: AnnotationRow) -> StoredAnnotation:
    return StoredAnnotation(row.seq, row.slug, row.document, row.etag,
                            _aware(row.created), _aware(row.modified))


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AnnotationStore:
    """Repository of annotations over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(immediate=True)

    # -- writes ---------------------------------------------------------------------------

    def create(self, document: dict[str, Any], slug: str | None = None) -> StoredAnnotation:
        """Store a new annotation under ``slug`` (or a fresh one); raise SlugTaken on clash."""
        slug = slug or uuid.uuid4().hex
        if not SAFE_SLUG.match(slug):
            raise ValueError(f"unsafe slug {slug!r}")
        now = _now()
        row = AnnotationRow(slug=slug, document=document, etag=secrets.token_hex(16),
                            created=now, modified=now, **_columns(document))
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                session.add(row)
                session.flush()
                _add_targets(session, row.seq, document)
                _bump(session, now, +1)
        except IntegrityError as error:
            raise SlugTaken(slug) from error
        return _stored(row)

    def replace(self, slug: str, document: dict[str, Any], if_match: str) -> StoredAnnotation:
        """Replace the document when ``if_match`` is the current ETag."""
        now = _now()
        etag = secrets.token_hex(16)
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            row = self._current(session, slug, if_match)
            session.execute(update(AnnotationRow).where(AnnotationRow.seq == row.seq).values(
                document=document, etag=etag, modified=now, **_columns(document)))
            session.query(TargetRow).filter(TargetRow.annotation_seq == row.seq).delete()
            _add_targets(session, row.seq, document)
            _bump(session, now, 0)
        return StoredAnnotation(row.seq, slug, document, etag, _aware(row.created), now)

    def delete(self, slug: str, if_match: str) -> None:
        """Mark the annotation deleted when ``if_match`` is the current ETag."""
        now = _now()
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            row = self._current(session, slug, if_match)
            session.execute(update(AnnotationRow).where(AnnotationRow.seq == row.seq).values(
                deleted=now, modified=now, etag=secrets.token_hex(16)))
            session.query(TargetRow).filter(TargetRow.annotation_seq == row.seq).delete()
            _bump(session, now, -1)

    def _current(self, session: Session, slug: str, if_match: str) -> AnnotationRow:
        """The live row for ``slug``, locked for update, checked against ``if_match``."""
        row = session.scalars(
            select(AnnotationRow).where(AnnotationRow.slug == slug).with_for_update()).first()
        if row is None:
            raise Missing(slug)
        if row.deleted is not None:
            raise Deleted(slug)
        if row.etag != if_match:
            raise StaleETag(slug)
        return row

    # -- reads ----------------------------------------------------------------------------

    def get(self, slug: str) -> StoredAnnotation:
        """The live annotation ``slug``; raise Missing or Deleted."""
        with Session(self._engine) as session:
            row = session.scalars(select(AnnotationRow).where(AnnotationRow.slug == slug)).first()
        if row is None:
            raise Missing(slug)
        if row.deleted is not None:
            raise Deleted(slug)
        return _stored(row)

    def page(self, filters: Filters, after: int, limit: int) -> list[StoredAnnotation]:
        """Up to ``limit`` annotations with ``seq > after`` in container order (keyset)."""
        query = _filtered(select(AnnotationRow), filters).where(AnnotationRow.seq > after)
        with Session(self._engine) as session:
            rows = session.scalars(query.order_by(AnnotationRow.seq).limit(limit)).all()
        return [_stored(row) for row in rows]

    def page_texts(self, filters: Filters, after: int, limit: int) -> list[PageRow]:
        """Like :meth:`page`, as :class:`PageRow` tuples with no JSON round trip.

        Listing is the hot path; handing the stored text through untouched saves decoding
        and re-encoding every document (most of a page's cost).
        """
        columns = select(AnnotationRow.seq, AnnotationRow.slug, cast(AnnotationRow.document, Text))
        query = _filtered(columns, filters).where(AnnotationRow.seq > after)
        with self._engine.connect() as connection:
            rows = connection.execute(query.order_by(AnnotationRow.seq).limit(limit)).all()
        return [PageRow(*row) for row in rows]

    def cursor_before(self, filters: Filters, before: int | None, skip: int) -> int:
        """The cursor (a ``seq``) that starts a page ``skip`` items before ``before``.

        ``before=None`` counts from the end; 0 means "from the start". Only ``skip`` rows are
        walked, so ``prev`` and ``last`` links stay cheap on deep pages.
        """
        query = _filtered(select(AnnotationRow.seq), filters)
        if before is not None:
            query = query.where(AnnotationRow.seq <= before)
        query = query.order_by(AnnotationRow.seq.desc()).offset(skip).limit(1)
        with Session(self._engine) as session:
            return session.scalars(query).first() or 0

    def position(self, filters: Filters, cursor: int) -> int:
        """How many annotations of the view come at or before ``cursor`` (a startIndex)."""
        query = _filtered(select(func.count()).select_from(AnnotationRow), filters)
        with Session(self._engine) as session:
            return session.scalar(query.where(AnnotationRow.seq <= cursor)) or 0

    def summary(self, filters: Filters) -> Summary:
        """Total, version tag and last change of a view; O(1) for the whole container."""
        with Session(self._engine) as session:
            if filters.is_empty():
                state = session.get(ContainerStateRow, 1)
                return Summary(state.total, f"r{state.revision}", _maybe_aware(state.modified))
            query = _filtered(select(func.count(), func.max(AnnotationRow.seq),
                                     func.max(AnnotationRow.modified)), filters)
            total, last_seq, modified = session.execute(query).one()
        modified = _maybe_aware(modified)
        # Any add, delete or edit changes the count, the newest seq or the newest change.
        stamp = modified.timestamp() if modified else 0
        return Summary(total, f"f{total}-{last_seq or 0}-{stamp:.6f}", modified)


class Summary(NamedTuple):
    """What a view's collection document and ETag need to know of all its annotations."""

    total: int
    version: str
    modified: datetime | None


def _maybe_aware(moment: datetime | None) -> datetime | None:
    return _aware(moment) if moment else None


def _columns(document: dict[str, Any]) -> dict[str, Any]:
    fields = index_fields(document)
    return {"motivation": fields.motivation, "creator": fields.creator,
            "confidence": fields.confidence}


def _add_targets(session: Session, seq: int, document: dict[str, Any]) -> None:
    session.add_all(TargetRow(annotation_seq=seq, source=source, manifest=manifest)
                    for source, manifest in index_fields(document).targets)


def _bump(session: Session, now: datetime, delta: int) -> None:
    session.execute(update(ContainerStateRow).where(ContainerStateRow.id == 1).values(
        total=ContainerStateRow.total + delta, revision=ContainerStateRow.revision + 1,
        modified=now))


def _filtered(query: Select, filters: Filters) -> Select:
    """Apply ``filters`` to a query over annotations; deleted ones are never listed."""
    query = query.where(AnnotationRow.deleted.is_(None))
    if filters.target is not None:
        query = query.where(AnnotationRow.seq.in_(
            select(TargetRow.annotation_seq).where(TargetRow.source == filters.target)))
    if filters.manifest is not None:
        query = query.where(AnnotationRow.seq.in_(
            select(TargetRow.annotation_seq).where(TargetRow.manifest == filters.manifest)))
    if filters.motivation is not None:
        query = query.where(AnnotationRow.motivation == filters.motivation)
    if filters.creator is not None:
        query = query.where(AnnotationRow.creator == filters.creator)
    if filters.min_confidence is not None:
        query = query.where(AnnotationRow.confidence >= filters.min_confidence)
    return query
