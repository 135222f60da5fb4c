"""What the store indexes of an annotation document: target sources, manifest, creator, ...

Annotations arrive in many shapes (a target as a bare IRI, an object, a list; ``partOf`` as
an IRI, an object or a list); these functions read them all the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IndexedFields:
    """The columns derived from one annotation document."""

    targets: tuple[tuple[str, str | None], ...]  # (source IRI, manifest IRI or None)
    motivation: str | None
    creator: str | None
    confidence: float | None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _iri(value: Any) -> str | None:
    """The IRI of a resource given as a string or as an object with ``id``/``@id``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id") or value.get("@id")
        return found if isinstance(found, str) else None
    return None


def _without_fragment(iri: str) -> str:
    return iri.split("#", 1)[0]


def _target_pairs(target: Any) -> Iterator[tuple[str, str | None]]:
    """Yield (source, manifest) for one target, whatever its shape."""
    source = target.get("source", target) if isinstance(target, dict) else target
    source_iri = _iri(source)
    if not source_iri:
        return
    part_of = []
    if isinstance(target, dict):
        part_of += _as_list(target.get("partOf"))
    if isinstance(source, dict):
        part_of += _as_list(source.get("partOf"))
    manifests = [iri for iri in map(_iri, part_of) if iri] or [None]
    for manifest in manifests:
        yield _without_fragment(source_iri), manifest


def _creator_name(document: dict[str, Any]) -> str | None:
    for agent in _as_list(document.get("creator")) + _as_list(document.get("generator")):
        if isinstance(agent, dict):
            name = agent.get("name") or agent.get("id")
            if isinstance(name, str):
                return name
        elif isinstance(agent, str):
            return agent
    return None


def _confidence(document: dict[str, Any]) -> float | None:
    """The annotation's own ``confidence``, else the highest of its bodies'."""
    candidates = [document.get("confidence")]
    candidates += [body.get("confidence") for body in _as_list(document.get("body"))
                   if isinstance(body, dict)]
    numbers = [float(c) for c in candidates
               if isinstance(c, int | float) and not isinstance(c, bool)]
    return max(numbers) if numbers else None


def index_fields(document: dict[str, Any]) -> IndexedFields:
    """Derive the indexed columns of ``document`` (which has already been validated)."""
    pairs = dict.fromkeys(pair for target in _as_list(document.get("target"))
                          for pair in _target_pairs(target))
    motivations = [m for m in _as_list(document.get("motivation")) if isinstance(m, str)]
    return IndexedFields(
        targets=tuple(pairs),
        motivation=motivations[0] if motivations else None,
        creator=_creator_name(document),
        confidence=_confidence(document),
    )
