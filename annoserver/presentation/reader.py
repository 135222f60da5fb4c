"""The entry points for reading IIIF: version detection first, then the v2 or v3 reader.

The version is decided from ``@context`` (Presentation 1/2 → 2, 3 → 3) and, when a document
has none, from its ``@type``/``type`` and shape — *before* anything is built, since
``iiif_prezi3.Manifest(**v2_json)`` silently returns an empty manifest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from . import v2, v3
from .collection import CollectionWalker
from .collection import read_collection as _read_collection
from .errors import NotIIIF
from .model import DEFAULT_LIMITS, Collection, Limits, Manifest, Reference
from .properties import context_strings, node_id, node_type

_PRESENTATION = re.compile(r"iiif\.io/api/presentation/(\d+)")
_SHARED_CANVAS = "shared-canvas.org"  # Presentation 1.0, read as 2.x
_V2_MEMBER_KEYS = ("manifests", "collections", "members")

Kind = Literal["Manifest", "Collection"]


def _context_version(doc: Mapping[str, Any]) -> int | None:
    for context in context_strings(doc):
        match = _PRESENTATION.search(context)
        if match:
            major = int(match.group(1))
            if major not in (1, 2, 3):
                raise NotIIIF(f"IIIF Presentation {major} is not supported (only 2.x and 3.0)")
            return 3 if major == 3 else 2
        if _SHARED_CANVAS in context:
            return 2
    return None


def _shape_version(doc: Mapping[str, Any]) -> int | None:
    declared = doc.get("@type")
    if isinstance(declared, str) and declared.startswith("sc:"):
        return 2
    if doc.get("type") in ("Manifest", "Collection"):
        return 3
    if "@id" in doc and any(key in doc for key in ("sequences", *_V2_MEMBER_KEYS)):
        return 2
    return None


def _kind(doc: Mapping[str, Any], version: int) -> Kind | None:
    kind = node_type(doc)
    if kind in ("Manifest", "Collection"):
        return kind  # type: ignore[return-value]
    if kind or version == 3:
        return None
    if "sequences" in doc:
        return "Manifest"
    return "Collection" if any(key in doc for key in _V2_MEMBER_KEYS) else None


def detect(doc: Any) -> tuple[Literal[2, 3], Kind]:
    """Tell a document's Presentation version and kind without building anything.

    Args:
        doc: parsed JSON.

    Returns:
        ``(2 or 3, "Manifest" or "Collection")``.

    Raises:
        NotIIIF: not a JSON object, no recognisable version, or not a manifest/collection.
    """
    if not isinstance(doc, Mapping):
        raise NotIIIF(f"expected a JSON object, got {type(doc).__name__}")
    version = _context_version(doc) or _shape_version(doc)
    if version is None:
        raise NotIIIF("no IIIF Presentation @context, and no @type/type of a manifest or "
                      "collection")
    kind = _kind(doc, version)
    if kind is None:
        found = node_type(doc) or "(no type)"
        raise NotIIIF(f"a IIIF Presentation {version} {found}, not a manifest or collection")
    return version, kind  # type: ignore[return-value]


def _checked(doc: Any, expected: Kind | None) -> tuple[Literal[2, 3], Kind, str]:
    version, kind = detect(doc)
    if expected is not None and kind != expected:
        raise NotIIIF(f"expected a IIIF {expected.lower()}, got a {kind.lower()}")
    resource_id = node_id(doc)
    if resource_id is None:
        raise NotIIIF(f"the {kind.lower()} has no id")
    return version, kind, resource_id


def read_manifest(doc: Any, *, limits: Limits = DEFAULT_LIMITS) -> Manifest:
    """Read a IIIF Presentation 2.x or 3.0 manifest, tolerantly.

    Raises:
        NotIIIF: not a manifest (422).
        TooLarge: more than ``limits.max_canvases`` canvases (413).
    """
    version, _, manifest_id = _checked(doc, "Manifest")
    reader = v2.read_manifest if version == 2 else v3.read_manifest
    return reader(doc, manifest_id, limits)


def read_collection(doc: Any, *, limits: Limits = DEFAULT_LIMITS) -> Collection:
    """Read a IIIF Presentation 2.x or 3.0 collection (with its embedded sub-collections).

    Raises:
        NotIIIF: not a collection (422).
        TooLarge: too many members (413); TooDeep: nested too deeply (413).
    """
    version, _, collection_id = _checked(doc, "Collection")
    return _read_collection(doc, collection_id, version, limits)


def read_document(doc: Any, *, limits: Limits = DEFAULT_LIMITS) -> Manifest | Collection:
    """Read a manifest or a collection, whichever ``doc`` is."""
    _, kind, _ = _checked(doc, None)
    reader = read_manifest if kind == "Manifest" else read_collection
    return reader(doc, limits=limits)


def iter_manifests(collection: Collection, fetch: Callable[[str], Mapping[str, Any]], *,
                   limits: Limits = DEFAULT_LIMITS) -> Iterator[Reference]:
    """Yield every manifest reference in a collection tree, depth first, in order.

    Args:
        collection: the top collection (depth 0).
        fetch: returns the parsed JSON of a referenced sub-collection, given its id.
        limits: ``max_depth`` bounds nesting; ``max_members`` the manifests yielded in all.

    Raises:
        TooDeep: nested deeper than ``limits.max_depth`` (413).
        TooLarge: more than ``limits.max_members`` manifests (413).
        NotIIIF: a fetched sub-collection is not a collection (422).
    """
    walker = CollectionWalker(fetch, lambda doc: read_collection(doc, limits=limits), limits)
    yield from walker.walk(collection)
