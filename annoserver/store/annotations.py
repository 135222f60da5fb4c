"""The annotation repository: create, read, replace, delete and keyset-paged listing.

Documents are stored without their ``id``: the IRI is minted from the public base URL and
the ``slug`` when the annotation is served, so moving the server does not rewrite data.
Every write runs in one transaction; replace and delete are conditional on the ETag, so a
concurrent writer can never be silently overwritten. Each write logs what it changed
(:mod:`annoserver.store.changes`) in the same transaction.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from annoserver.store.changes import ChangeSet
from annoserver.store.fields import index_fields
from annoserver.store.listing import ViewReader, aware
from annoserver.store.search import add_terms, drop_terms
from annoserver.store.tables import AnnotationRow, ContainerStateRow, TargetRow

# Slugs become the last path segment of IRIs and are spliced into JSON unescaped: keep them
# to characters that need no escaping in either.
SAFE_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# The server's summary of an annotation's latest review (annoserver.store.reviews): clients
# can neither set nor drop it; the history is in the reviews table.
REVIEW = "review"
CONTEXT_PATH = "/ns/annoserver.jsonld"


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


def _now() -> datetime:
    return datetime.now(UTC)


def _stored(row: AnnotationRow) -> StoredAnnotation:
    return StoredAnnotation(row.seq, row.slug, row.document, row.etag,
                            aware(row.created), aware(row.modified))


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
        document = {key: value for key, value in document.items() if key != REVIEW}
        row = AnnotationRow(slug=slug, document=document, etag=secrets.token_hex(16),
                            created=now, modified=now, **_columns(document))
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                session.add(row)
                session.flush()
                _add_targets(session, row.seq, document)
                changes = ChangeSet(session)
                changes.created(slug, document)
                settle(session, now, +1, changes)
        except IntegrityError as error:
            raise SlugTaken(slug) from error
        return _stored(row)

    def replace(self, slug: str, document: dict[str, Any], if_match: str) -> StoredAnnotation:
        """Replace the document when ``if_match`` is the current ETag (its review kept)."""
        now = _now()
        etag = secrets.token_hex(16)
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            row = self._current(session, slug, if_match)
            old = row.document  # the UPDATE below refreshes the row object
            document = _keep_review(old, document)
            session.execute(update(AnnotationRow).where(AnnotationRow.seq == row.seq).values(
                document=document, etag=etag, modified=now, **_columns(document)))
            session.query(TargetRow).filter(TargetRow.annotation_seq == row.seq).delete()
            drop_terms(session, [row.seq])
            _add_targets(session, row.seq, document)
            changes = ChangeSet(session)
            changes.updated(slug, old)
            changes.updated(slug, document)
            settle(session, now, 0, changes)
        return StoredAnnotation(row.seq, slug, document, etag, aware(row.created), now)

    def delete(self, slug: str, if_match: str) -> None:
        """Mark the annotation deleted when ``if_match`` is the current ETag."""
        now = _now()
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            row = self._current(session, slug, if_match)
            session.execute(update(AnnotationRow).where(AnnotationRow.seq == row.seq).values(
                deleted=now, modified=now, etag=secrets.token_hex(16)))
            session.query(TargetRow).filter(TargetRow.annotation_seq == row.seq).delete()
            drop_terms(session, [row.seq])
            changes = ChangeSet(session)
            changes.deleted(slug, row.document)
            settle(session, now, -1, changes)

    def put_results(self, key: str, documents: list[dict[str, Any]]) -> list[StoredAnnotation]:
        """Store a model's annotations for one request, replacing earlier ones with ``key``.

        Runs under a lock on ``key`` (the SQLite write lock; a transaction-scoped advisory
        lock on PostgreSQL), so two identical requests never leave both sets behind.
        """
        now = _now()
        rows = [AnnotationRow(slug=uuid.uuid4().hex, document=document, etag=secrets.token_hex(16),
                              created=now, modified=now, result_key=key, **_columns(document))
                for document in documents]
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            if session.bind.dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
            old = session.execute(select(
                AnnotationRow.seq, AnnotationRow.slug, AnnotationRow.document).where(
                AnnotationRow.result_key == key, AnnotationRow.deleted.is_(None))).all()
            changes = ChangeSet(session)
            if old:
                seqs = [seq for seq, _, _ in old]
                session.execute(update(AnnotationRow).where(AnnotationRow.seq.in_(seqs)).values(
                    deleted=now, modified=now))
                session.query(TargetRow).filter(TargetRow.annotation_seq.in_(seqs)).delete()
                drop_terms(session, seqs)
                for _, slug, document in old:
                    changes.deleted(slug, document)
            session.add_all(rows)
            session.flush()
            for row in rows:
                _add_targets(session, row.seq, row.document)
                changes.created(row.slug, row.document)
            settle(session, now, len(rows) - len(old), changes)
        return [_stored(row) for row in rows]

    def results(self, key: str) -> list[StoredAnnotation]:
        """The live annotations stored under ``key``, in creation order."""
        with Session(self._engine) as session:
            rows = session.scalars(select(AnnotationRow).where(
                AnnotationRow.result_key == key, AnnotationRow.deleted.is_(None)).order_by(
                AnnotationRow.seq)).all()
        return [_stored(row) for row in rows]

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

    @contextmanager
    def reading(self) -> Iterator[ViewReader]:
        """A reader of container views on one connection (one checkout per request)."""
        with self._engine.connect() as connection:
            yield ViewReader(connection)


def _columns(document: dict[str, Any]) -> dict[str, Any]:
    """Indexed columns, cut to their widths (the document itself keeps every character)."""
    fields = index_fields(document)
    return {"motivation": _cut(fields.motivation, 200), "creator": _cut(fields.creator, 500),
            "confidence": fields.confidence}


def _cut(value: str | None, width: int) -> str | None:
    return value[:width] if value else value


def _add_targets(session: Session, seq: int, document: dict[str, Any]) -> None:
    """Index a stored document: its targets, and its words for search."""
    session.add_all(TargetRow(annotation_seq=seq, source=source, manifest=manifest)
                    for source, manifest in index_fields(document).targets)
    add_terms(session, seq, document)


def settle(session: Session, now: datetime, delta: int, changes: ChangeSet) -> None:
    """End every write: bump the container state, then log the changes.

    The UPDATE locks the container-state row until the transaction ends, which puts the
    change log's positions in commit order (see :mod:`annoserver.store.changes`).
    """
    session.execute(update(ContainerStateRow).where(ContainerStateRow.id == 1).values(
        total=ContainerStateRow.total + delta, revision=ContainerStateRow.revision + 1,
        modified=now))
    changes.write()


def with_review(document: dict[str, Any], summary: dict[str, Any],
                context_url: str | None) -> dict[str, Any]:
    """``document`` showing the review ``summary``, with the context that defines the term."""
    contexts = document.get("@context")
    listed = contexts if isinstance(contexts, list) else [contexts] if contexts else []
    if context_url and context_url not in listed:
        listed = [*listed, context_url]
    shown = {**document, REVIEW: summary}
    if listed:
        shown["@context"] = listed if len(listed) > 1 else listed[0]
    return shown


def _keep_review(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` with ``old``'s review summary (a client can neither forge nor drop it)."""
    new = {key: value for key, value in new.items() if key != REVIEW}
    if REVIEW not in old:
        return new
    contexts = old.get("@context")
    ours = [c for c in (contexts if isinstance(contexts, list) else [contexts])
            if isinstance(c, str) and c.endswith(CONTEXT_PATH)]
    return with_review(new, old[REVIEW], ours[0] if ours else None)
