"""Human reviews of annotations: each verdict its own record, the newest one counting.

A review never rewrites what a model said (body, confidence, creator). It is stored in the
``reviews`` table, and in the same transaction the annotation gets a summary of it (its
``review`` column for filtering and a ``review`` member in its document, with a new ETag), so
collection pages, ``/pages`` and their ETags show it without a join; the change log records
the update.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from annoserver.store.annotations import Deleted, Missing, settle, with_review
from annoserver.store.changes import ChangeSet
from annoserver.store.listing import aware
from annoserver.store.tables import AnnotationRow, ReviewRow


@dataclass(frozen=True)
class Review:
    """One review of annotation ``slug``."""

    id: int
    slug: str
    verdict: str
    body: Any | None
    note: str | None
    reviewer: str
    created: datetime


def review_iri(container_url: str, slug: str, review_id: int) -> str:
    """Where review ``review_id`` of annotation ``slug`` is served."""
    return f"{container_url}{slug}/reviews/{review_id}"


def timestamp(moment: datetime) -> str:
    """An ``xsd:dateTime`` in UTC to the second, as annotations carry them."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _review(row: ReviewRow, slug: str) -> Review:
    return Review(row.id, slug, row.verdict, row.body, row.note, row.reviewer, aware(row.created))


class ReviewStore:
    """Reviews over one SQLAlchemy engine (no Flask)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(immediate=True)

    def add(self, slug: str, verdict: str, body: Any | None, note: str | None, reviewer: str,
            container_url: str, context_url: str) -> Review:
        """Record a review of live annotation ``slug`` and show it in the annotation.

        ``container_url`` mints the review's IRI in the summary; ``context_url`` (which
        defines the ``review`` term) joins the annotation's ``@context`` when missing.
        """
        now = datetime.now(UTC)
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            row = session.scalars(select(AnnotationRow).where(AnnotationRow.slug == slug)
                                  .with_for_update()).first()
            if row is None:
                raise Missing(slug)
            if row.deleted is not None:
                raise Deleted(slug)
            record = ReviewRow(annotation_seq=row.seq, verdict=verdict, body=body, note=note,
                               reviewer=reviewer, created=now)
            session.add(record)
            session.flush()
            summary = {"verdict": verdict, "id": review_iri(container_url, slug, record.id),
                       "reviewed": timestamp(now), "reviewer": {"type": "Person",
                                                                 "name": reviewer}}
            if body is not None:
                summary["body"] = body  # the correction, shown where the model's body is
            document = with_review(row.document, summary, context_url)
            session.execute(update(AnnotationRow).where(AnnotationRow.seq == row.seq).values(
                document=document, etag=secrets.token_hex(16), modified=now, review=verdict))
            changes = ChangeSet(session)
            changes.updated(slug, document)
            settle(session, now, 0, changes)
        return _review(record, slug)

    def history(self, slug: str) -> list[Review]:
        """Every review of annotation ``slug`` (deleted ones too), newest first."""
        with Session(self._engine) as session:
            seq = session.scalar(select(AnnotationRow.seq).where(AnnotationRow.slug == slug))
            if seq is None:
                raise Missing(slug)
            rows = session.scalars(select(ReviewRow).where(ReviewRow.annotation_seq == seq)
                                   .order_by(ReviewRow.id.desc()))
            return [_review(row, slug) for row in rows]

    def get(self, slug: str, review_id: int) -> Review:
        """Review ``review_id`` of annotation ``slug``; raise Missing when there is none."""
        with Session(self._engine) as session:
            row = session.scalars(select(ReviewRow).join(
                AnnotationRow, AnnotationRow.seq == ReviewRow.annotation_seq).where(
                AnnotationRow.slug == slug, ReviewRow.id == review_id)).first()
            if row is None:
                raise Missing(f"{slug}/reviews/{review_id}")
            return _review(row, slug)
