"""The search index of annotations (IIIF Content Search) and the queries that read it.

An inverted index, portable across SQLite and PostgreSQL: one ``annotation_terms`` row per
word of an annotation's searchable text (the values of its textual bodies: labels, tags,
recognised text) and per manifest its targets are part of. Words are NFKC-normalised and
case-folded; rows are kept in the transaction of every annotation write
(:mod:`annoserver.store.annotations`). Searching a manifest for a word is one range of the
(scope, term, seq) primary key, already in ``seq`` order, so keyset pages of results cost the
same at any depth; completing a prefix is one range of the same key.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Select, Text, cast, delete, func, insert, select
from sqlalchemy.orm import Session, aliased

from annoserver.store.fields import index_fields
from annoserver.store.listing import Filters, PageRow, filtered
from annoserver.store.tables import AnnotationRow, ManifestRow, TermRow

WORD = re.compile(r"\w+")
MAX_TERM = 100  # the column's width; longer "words" are cut (they are not words people type)


def normalise(text: str) -> str:
    """The form text is indexed and searched in: NFKC, case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """The indexed words of ``text``, in order (repeats kept)."""
    return [word[:MAX_TERM] for word in WORD.findall(normalise(text))]


def scope(manifest: str) -> str:
    """The key a manifest IRI's terms are filed under (fixed width, whatever the IRI's length)."""
    return hashlib.sha256(manifest.encode()).hexdigest()[:32]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _body_texts(body: Any, depth: int = 0) -> Iterator[str]:
    """Text values of a body: a TextualBody's ``value``, the items of a Choice or List."""
    if not isinstance(body, dict) or depth > 4:
        return
    if isinstance(body.get("value"), str):
        yield body["value"]
    for item in _as_list(body.get("items")):
        yield from _body_texts(item, depth + 1)


def searchable_texts(document: dict[str, Any]) -> list[str]:
    """The texts of an annotation that search finds it by: ``bodyValue`` and textual bodies."""
    texts = [document["bodyValue"]] if isinstance(document.get("bodyValue"), str) else []
    return texts + [text for body in _as_list(document.get("body")) for text in _body_texts(body)]


def add_terms(session: Session | Connection, seq: int, document: dict[str, Any]) -> None:
    """Index annotation ``seq`` under every manifest it targets (none: not searchable)."""
    terms = {word for text in searchable_texts(document) for word in words(text)}
    scopes = {scope(manifest) for _, manifest in index_fields(document).targets if manifest}
    rows = [{"scope": s, "term": term, "annotation_seq": seq} for s in scopes for term in terms]
    if rows:
        session.execute(insert(TermRow), rows)


def drop_terms(session: Session | Connection, seqs: Iterable[int]) -> None:
    """Remove annotations from the index (replaced or deleted)."""
    session.execute(delete(TermRow).where(TermRow.annotation_seq.in_(list(seqs))))


def manifest_key(connection: Connection, reference: str) -> str | None:
    """The key of the registered manifest that ``reference`` names: its key, IIIF id or URL."""
    query = select(ManifestRow.key).where(
        (ManifestRow.key == reference) | (ManifestRow.iiif_id == reference)
        | (ManifestRow.url == reference)).order_by(ManifestRow.key != reference).limit(1)
    return connection.execute(query).scalar()


@dataclass(frozen=True)
class SearchQuery:
    """Annotations of ``manifest`` (an IRI) having every word of ``words``, and ``filters``.

    No words: every annotation of the manifest. ``filters.manifest`` and ``filters.target``
    are not used (the scope is the manifest).
    """

    manifest: str
    words: tuple[str, ...] = ()
    filters: Filters = field(default_factory=Filters)


class SearchReader:
    """Search and autocompletion queries, on one open connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def _matching(self, query: SearchQuery, *columns: Any,
                  rows: bool = False) -> tuple[Select, list[Any]]:
        """A select of ``columns`` over the matches, and its order keys (one per joined side).

        The annotations are joined only when ``rows`` (the columns need them) or filters do:
        the index holds live annotations only, so counting needs nothing else.
        """
        filters = replace(query.filters, target=None, manifest=None)
        if not query.words:
            scoped = replace(filters, manifest=query.manifest)
            return filtered(select(*columns), scoped), [AnnotationRow.seq]
        key = scope(query.manifest)
        first, *rest = sorted(set(query.words), key=len, reverse=True)  # longest: rarest
        statement = (select(*columns).select_from(TermRow)
                     .where(TermRow.scope == key, TermRow.term == first))
        for word in rest:
            other = aliased(TermRow)
            statement = statement.where(TermRow.annotation_seq.in_(
                select(other.annotation_seq).where(other.scope == key, other.term == word)))
        if not rows and filters.is_empty():
            return statement, [TermRow.annotation_seq]
        # A bound on both sides of the join lets PostgreSQL start both index scans there.
        statement = statement.join(AnnotationRow, AnnotationRow.seq == TermRow.annotation_seq)
        return filtered(statement, filters), [TermRow.annotation_seq, AnnotationRow.seq]

    def page(self, query: SearchQuery, after: int, limit: int) -> list[PageRow]:
        """Up to ``limit`` matches with ``seq > after``, in order, as stored JSON text."""
        statement, orders = self._matching(query, AnnotationRow.seq, AnnotationRow.slug,
                                           cast(AnnotationRow.document, Text), rows=True)
        statement = statement.where(*(order > after for order in orders))
        rows = self._connection.execute(statement.order_by(orders[0]).limit(limit))
        return [PageRow(*row) for row in rows]

    def count(self, query: SearchQuery, up_to: int | None = None) -> int:
        """How many annotations match (those with ``seq <= up_to`` when given)."""
        statement, orders = self._matching(query, func.count())
        if up_to is not None:
            statement = statement.where(*(order <= up_to for order in orders))
        return self._connection.execute(statement).scalar() or 0

    def cursor_before(self, query: SearchQuery, before: int | None, skip: int) -> int:
        """The cursor starting a page ``skip`` matches before ``before`` (None: the end)."""
        key = TermRow.annotation_seq if query.words else AnnotationRow.seq
        statement, orders = self._matching(query, key)
        if before is not None:
            statement = statement.where(*(order <= before for order in orders))
        statement = statement.order_by(orders[0].desc()).offset(skip).limit(1)
        return self._connection.execute(statement).scalar() or 0

    def terms(self, manifest: str, prefix: str, filters: Filters, minimum: int,
              limit: int) -> list[tuple[str, int]]:
        """Words of ``manifest`` starting with ``prefix``, with how many annotations have each.

        Only annotations matching ``filters`` count; words with fewer than ``minimum`` are left
        out; the most frequent come first.
        """
        count = func.count().label("total")
        statement = (select(TermRow.term, count).select_from(TermRow)
                     .where(TermRow.scope == scope(manifest), TermRow.term >= prefix,
                            TermRow.term < _after_prefix(prefix))
                     .group_by(TermRow.term).having(count >= minimum)
                     .order_by(count.desc(), TermRow.term).limit(limit))
        filters = replace(filters, target=None, manifest=None)
        if not filters.is_empty():  # the index holds live annotations only: no join needed
            statement = filtered(statement.join(
                AnnotationRow, AnnotationRow.seq == TermRow.annotation_seq), filters)
        return [(term, total) for term, total in self._connection.execute(statement)]


def _after_prefix(prefix: str) -> str:
    """The least string greater than every string starting with ``prefix`` (byte order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)

