"""Reading IIIF collections (v2 and v3) and walking nested ones, within limits.

v2 lists members under ``collections``, ``manifests`` and (2.1) ``members``; v3 under
``items``. Sub-collections may be embedded with their own members (read here, depth-checked)
or referenced (fetched by :class:`CollectionWalker` through a caller-supplied ``fetch``, so this
module does no I/O of its own). Cycles are skipped, not followed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from .errors import TooDeep
from .model import DEFAULT_LIMITS, Collection, Limits, Reference
from .properties import as_list, label_text, node_id, node_type

_V2_KEYS: tuple[tuple[str, str | None], ...] = (
    ("collections", "Collection"), ("manifests", "Manifest"), ("members", None))
_MEMBER_KEYS = ("items", "collections", "manifests", "members")

Fetch = Callable[[str], Mapping[str, Any]]


def _raw_members(doc: Mapping[str, Any], version: int) -> list[tuple[Any, str | None]]:
    if version == 3:
        return [(item, None) for item in as_list(doc.get("items"))]
    return [(item, default) for key, default in _V2_KEYS for item in as_list(doc.get(key))]


def _has_members(node: Any) -> bool:
    return isinstance(node, Mapping) and any(key in node for key in _MEMBER_KEYS)


def _check_depth(depth: int, limits: Limits, where: str) -> None:
    if depth > limits.max_depth:
        raise TooDeep(f"collections are nested more than {limits.max_depth} deep (at {where})")


def _member_type(node: Any, default: str | None) -> Literal["Manifest", "Collection"] | None:
    kind = node_type(node) or default
    return kind if kind in ("Manifest", "Collection") else None  # type: ignore[return-value]


def _reference(node: Any, default: str | None, version: int, depth: int,
               limits: Limits) -> Reference | str:
    """A member reference, or a note saying why the member was left out."""
    member_id, kind = node_id(node), _member_type(node, default)
    if member_id is None or kind is None:
        return f"member without an id or of type {node_type(node) or '(none)'} left out"
    label = label_text(node.get("label")) if isinstance(node, Mapping) else ""
    embedded = None
    if kind == "Collection" and _has_members(node):
        embedded = read_collection(node, member_id, version, limits, depth + 1)
    return Reference(id=member_id, type=kind, label=label, collection=embedded)


def read_collection(doc: Mapping[str, Any], collection_id: str, version: Literal[2, 3],
                    limits: Limits = DEFAULT_LIMITS, depth: int = 0) -> Collection:
    """Read a collection (and the sub-collections embedded in it) of a known version.

    Raises:
        TooLarge: more than ``limits.max_members`` members in one collection.
        TooDeep: embedded collections nested deeper than ``limits.max_depth``.
    """
    _check_depth(depth, limits, collection_id)
    raw = _raw_members(doc, version)
    limits.check(len(raw), limits.max_members, "collection members")
    results = [_reference(node, default, version, depth, limits) for node, default in raw]
    return Collection(
        id=collection_id, version=version, label=label_text(doc.get("label")),
        members=tuple(r for r in results if isinstance(r, Reference)),
        notes=tuple(r for r in results if isinstance(r, str)))


class CollectionWalker:
    """Depth-first walk of a collection tree, with a cycle guard and a manifest count."""

    def __init__(self, fetch: Fetch, read: Callable[[Mapping[str, Any]], Collection],
                 limits: Limits) -> None:
        self.fetch, self.read, self.limits = fetch, read, limits
        self.seen: set[str] = set()
        self.count = 0

    def walk(self, collection: Collection, depth: int = 0) -> Iterator[Reference]:
        """Yield the manifest references under ``collection``, fetching sub-collections."""
        _check_depth(depth, self.limits, collection.id)
        self.seen.add(collection.id)
        for member in collection.members:
            if member.type == "Manifest":
                self.count += 1
                self.limits.check(self.count, self.limits.max_members, "manifests in all")
                yield member
            elif member.id not in self.seen:
                child = member.collection or self.read(self.fetch(member.id))
                yield from self.walk(child, depth + 1)
