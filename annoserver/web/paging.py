"""AnnotationCollection and AnnotationPage documents for a (possibly filtered) container view.

Pages are addressed by a keyset cursor (``page`` = the ``seq`` of the last annotation before
the page) and carry their ``start`` index in their IRIs, so a deep page costs the same as the
first: no OFFSET scan and no count of everything before it. Pages are assembled as JSON text
around the stored documents' own text, which is never decoded on this path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from annoserver.store.annotations import StoredAnnotation
from annoserver.store.listing import Filters, ViewReader

ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
LDP_CONTEXT = "http://www.w3.org/ns/ldp.jsonld"
FILTER_PARAMS = ("target", "manifest", "motivation", "creator", "min_confidence", "review")
# Stands in for the items array while the skeleton of a page is serialised.
ITEMS_SLOT = '"annoserver:items-slot"'


def iso(moment: datetime | None) -> str | None:
    """An ``xsd:dateTime`` in UTC with a Z, as the W3C model examples write them."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def render(stored: StoredAnnotation, container_url: str) -> dict:
    """The annotation's JSON-LD with its minted ``id``."""
    document = dict(stored.document)
    context = document.pop("@context", ANNO_CONTEXT)
    return {"@context": context, "id": container_url + stored.slug, **document}


def _with_id(id_prefix: str, slug: str, document_text: str) -> str:
    """Put the ``id`` member first in a stored document's JSON text.

    ``id_prefix`` is ``{"id": "<container IRI, JSON-escaped>``; slugs need no escaping (the
    store only mints and accepts ``SAFE_SLUG``).
    """
    rest = document_text.strip()[1:]
    separator = '"' if rest.lstrip().startswith("}") else '", '
    return id_prefix + slug + separator + rest


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
    """Builds the collection and page documents of a view (as JSON text) from the store."""

    def __init__(self, store: ViewReader, view: ContainerView, cursor: int = 0) -> None:
        self.store = store
        self.view = view
        self.cursor = cursor
        self.rows = store.page_texts(view.filters, cursor, view.page_size + 1)
        self.total, self.version, self.modified = store.summary(view.filters)

    def etag(self, variant: str) -> str:
        """An ETag that changes whenever the view's content (or representation) does."""
        digest = hashlib.sha256(f"{self.version}|{self.view.url()}|{variant}".encode())
        return f'"{digest.hexdigest()[:32]}"'

    def collection(self, minimal: bool) -> str:
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
        if not self.total:
            return json.dumps(document)
        document["last"] = self._last_url()
        if minimal:
            document["first"] = self.view.page_url(0, 0)
            return json.dumps(document)
        first, items = self._page(0, embedded=True)
        document["first"] = first
        return _fill(document, items)

    def _last_url(self) -> str:
        size = self.view.page_size
        if self.total <= size:
            return self.view.page_url(0, 0)
        tail = self.total % size or size
        cursor = self.store.cursor_before(self.view.filters, None, tail)
        return self.view.page_url(cursor, self.total - tail)

    def page(self, start: int | None) -> str:
        """The AnnotationPage after the cursor (``start`` computed when not given)."""
        if start is None:
            start = self.store.position(self.view.filters, self.cursor) if self.cursor else 0
        document, items = self._page(start, embedded=False)
        return _fill(document, items)

    def _page(self, start: int, embedded: bool) -> tuple[dict[str, Any], list[str]]:
        """A page's skeleton (items in ITEMS_SLOT) and its items' JSON texts."""
        size, filters, cursor, rows = self.view.page_size, self.view.filters, self.cursor, self.rows
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
        document["items"] = "annoserver:items-slot"
        container = self.view.container_url
        if self.view.iris:
            items = [json.dumps(container + row.slug) for row in rows[:size]]
        else:
            id_prefix = '{"id": ' + json.dumps(container)[:-1]
            items = [_with_id(id_prefix, row.slug, row.text) for row in rows[:size]]
        return document, items


def _fill(skeleton: dict[str, Any], items: list[str]) -> str:
    """Serialise ``skeleton`` with the items' JSON texts put in its ITEMS_SLOT."""
    return json.dumps(skeleton, ensure_ascii=False).replace(
        ITEMS_SLOT, "[" + ", ".join(items) + "]", 1)
