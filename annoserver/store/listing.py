"""Reading views of the container: filters, keyset pages, positions and summaries.

All the queries a listing request needs run on one connection (:class:`ViewReader`), so a
request costs one connection checkout however many queries it makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, Select, Text, cast, func, select

from annoserver.errors import BadRequest
from annoserver.store.tables import AnnotationRow, ContainerStateRow, TargetRow

VERDICTS = ("accepted", "rejected", "corrected")
UNREVIEWED = "unreviewed"


@dataclass(frozen=True)
class Filters:
    """Restrictions of a container view; all ``None`` is the whole container."""

    target: str | None = None
    manifest: str | None = None
    motivation: str | None = None
    creator: str | None = None
    min_confidence: float | None = None
    review: str | None = None  # a verdict of the latest review, or UNREVIEWED

    def __post_init__(self) -> None:
        if self.review is not None and self.review not in (*VERDICTS, UNREVIEWED):
            raise BadRequest(f"'review' is one of {', '.join((*VERDICTS, UNREVIEWED))}, "
                             f"not {self.review!r}.")

    def is_empty(self) -> bool:
        """True when no restriction is set."""
        return all(value is None for value in vars(self).values())


class PageRow(NamedTuple):
    """One listed annotation: its order key, slug and stored JSON text."""

    seq: int
    slug: str
    text: str


class Summary(NamedTuple):
    """What a view's collection document and ETag need to know of all its annotations."""

    total: int
    version: str
    modified: datetime | None


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ViewReader:
    """The read queries of container views, on one open connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def page_texts(self, filters: Filters, after: int, limit: int) -> list[PageRow]:
        """Up to ``limit`` annotations with ``seq > after``, in order, as stored JSON text.

        Listing is the hot path; handing the stored text through untouched saves decoding
        and re-encoding every document (most of a page's cost).
        """
        columns = select(AnnotationRow.seq, AnnotationRow.slug, cast(AnnotationRow.document, Text))
        query = filtered(columns, filters).where(AnnotationRow.seq > after)
        rows = self._connection.execute(query.order_by(AnnotationRow.seq).limit(limit)).all()
        return [PageRow(*row) for row in rows]

    def cursor_before(self, filters: Filters, before: int | None, skip: int) -> int:
        """The cursor (a ``seq``) that starts a page ``skip`` items before ``before``.

        ``before=None`` counts from the end; 0 means "from the start". Only ``skip`` rows are
        walked, so ``prev`` and ``last`` links stay cheap on deep pages.
        """
        query = filtered(select(AnnotationRow.seq), filters)
        if before is not None:
            query = query.where(AnnotationRow.seq <= before)
        query = query.order_by(AnnotationRow.seq.desc()).offset(skip).limit(1)
        return self._connection.execute(query).scalar() or 0

    def position(self, filters: Filters, cursor: int) -> int:
        """How many annotations of the view come at or before ``cursor`` (a startIndex)."""
        query = filtered(select(func.count()).select_from(AnnotationRow), filters)
        return self._connection.execute(query.where(AnnotationRow.seq <= cursor)).scalar() or 0

    def summary(self, filters: Filters) -> Summary:
        """Total, version tag and last change of a view; O(1) for the whole container."""
        if filters.is_empty():
            total, revision, modified = self._connection.execute(
                select(ContainerStateRow.total, ContainerStateRow.revision,
                       ContainerStateRow.modified)).one()
            return Summary(total, f"r{revision}", aware(modified) if modified else None)
        query = filtered(select(func.count(), func.max(AnnotationRow.seq),
                                 func.max(AnnotationRow.modified)), filters)
        total, last_seq, modified = self._connection.execute(query).one()
        modified = aware(modified) if modified else None
        # Any add, delete or edit changes the count, the newest seq or the newest change.
        stamp = modified.timestamp() if modified else 0
        return Summary(total, f"f{total}-{last_seq or 0}-{stamp:.6f}", modified)


def filtered(query: Select, filters: Filters) -> Select:
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
    if filters.review == UNREVIEWED:
        query = query.where(AnnotationRow.review.is_(None))
    elif filters.review is not None:
        query = query.where(AnnotationRow.review == filters.review)
    return query
