"""AnnotationCollection and AnnotationPage documents for a (possibly filtered) container view.

Pages are addressed by a keyset cursor (``page`` = the ``seq`` of the last annotation before
the page) and carry their ``start`` index in their IRIs, so a deep page costs the same as the
first: no OFFSET scan and no count of everything before it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from annoserver.store.annotations import AnnotationStore, Filters, StoredAnnotation

ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
LDP_CONTEXT = "http://www.w3.org/ns/ldp.jsonld"
FILTER_PARAMS = ("target", "manifest", "motivation", "creator", "min_confidence")


def iso(moment: datetime | None) -> str | None:
    """An ``xsd:dateTime`` in UTC with a Z, as the W3C model examples write them."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def render(stored: StoredAnnotation, container_url: str, embedded: bool = False) -> dict:
    """The annotation's JSON-LD with its minted ``id`` (``@context`` dropped when embedded)."""
    document = dict(stored.document)
    context = document.pop("@context", ANNO_CONTEXT)
    head = {} if embedded and context == ANNO_CONTEXT else {"@context": context}
    return {**head, "id": container_url + stored.slug, **document}


@dataclass(frozen=True)
class ContainerView:
    """One view of the container: filters, IRIs-or-descriptions, and the page size."""

    container_url: str
    filters: Filters
    iris: bool
    page_size: int

    def url(self, **extra: Any) -> str:
        """The IRI of this view (or of one of its pages, with ``page``/``start``)."""
        params = [(name, getattr(self.filters, name)) for name in FILTER_PARAMS]
        params += [("iris", int(self.iris))] + list(extra.items())
        return self.container_url + "?" + urlencode([(k, v) for k, v in params if v is not None])

    def page_url(self, cursor: int, start: int) -> str:
        """The IRI of the page after ``cursor`` whose first item is number ``start``."""
        return self.url(page=cursor, start=start)


class ViewBuilder:
    """Builds the collection and page documents of a view from the store."""

    def __init__(self, store: AnnotationStore, view: ContainerView) -> None:
        self.store = store
        self.view = view
        self.total, self.version, self.modified = store.summary(view.filters)

    def etag(self, variant: str) -> str:
        """An ETag that changes whenever the view's content (or representation) does."""
        digest = hashlib.sha256(f"{self.version}|{self.view.url()}|{variant}".encode())
        return f'"{digest.hexdigest()[:32]}"'

    def collection(self, minimal: bool) -> dict[str, Any]:
        """The container as an AnnotationCollection with its first page embedded or linked."""
        document: dict[str, Any] = {
            "@context": [ANNO_CONTEXT, LDP_CONTEXT],
            "id": self.view.url(),
            "type": ["BasicContainer", "AnnotationCollection"],
            "label": "Annotations" + (" (filtered)" if not self.view.filters.is_empty() else ""),
            "total": self.total,
        }
        if self.modified:
            document["modified"] = iso(self.modified)
        if self.total:
            first = self.page(0, 0, embedded=True)
            document["first"] = first["id"] if minimal else first
            document["last"] = self._last_url()
        return document

    def _last_url(self) -> str:
        size = self.view.page_size
        tail = self.total % size or size
        cursor = self.store.cursor_before(self.view.filters, None, tail)
        return self.view.page_url(cursor, self.total - tail)

    def page(self, cursor: int, start: int | None, embedded: bool = False) -> dict[str, Any]:
        """The AnnotationPage after ``cursor`` (``start`` computed when not given)."""
        size, filters = self.view.page_size, self.view.filters
        if start is None:
            start = self.store.position(filters, cursor) if cursor else 0
        rows = self.store.page(filters, cursor, size + 1)
        items = [self._item(row) for row in rows[:size]]
        document: dict[str, Any] = {} if embedded else {"@context": ANNO_CONTEXT}
        document |= {"id": self.view.page_url(cursor, start), "type": "AnnotationPage"}
        if not embedded:
            document["partOf"] = {"id": self.view.url(), "type": "AnnotationCollection",
                                  "total": self.total}
        document["startIndex"] = start
        if len(rows) > size:
            document["next"] = self.view.page_url(rows[size - 1].seq, start + size)
        if cursor:
            previous = self.store.cursor_before(filters, cursor, size)
            document["prev"] = self.view.page_url(previous, max(0, start - size))
        document["items"] = items
        return document

    def _item(self, stored: StoredAnnotation) -> Any:
        if self.view.iris:
            return self.view.container_url + stored.slug
        return render(stored, self.view.container_url, embedded=True)
