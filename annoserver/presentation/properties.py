"""Tolerant access to IIIF JSON-LD property values, shared by the v2 and v3 readers.

Real-world manifests give one value where a list is due, ``@id`` where ``id`` is due (and the
reverse), numbers as strings, and labels in every shape the specifications ever allowed. These
helpers turn such values into plain Python values and never raise on odd input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

PREFERRED_LANGUAGES = ("en", "none", "@none")


def as_list(value: Any) -> list[Any]:
    """Return ``value`` as a list: ``None`` → ``[]``, a single value → ``[value]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def dicts(value: Any) -> list[dict[str, Any]]:
    """Return the JSON objects in ``value`` (a single object or a list), skipping the rest."""
    return [item for item in as_list(value) if isinstance(item, dict)]


def node_id(node: Any) -> str | None:
    """The ``id`` (v3) or ``@id`` (v2) of a node, or the node itself when it is a string."""
    if isinstance(node, str):
        return node.strip() or None
    if isinstance(node, Mapping):
        for key in ("id", "@id"):
            value = node.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def node_type(node: Any) -> str:
    """The ``type`` or ``@type`` of a node without a JSON-LD prefix (``sc:Canvas`` → ``Canvas``)."""
    if not isinstance(node, Mapping):
        return ""
    for key in ("type", "@type"):
        for value in as_list(node.get(key)):
            if isinstance(value, str) and value:
                return value.rsplit(":", 1)[-1]
    return ""


# Larger sizes are nonsense (and overflow database integers): treat them as absent.
MAX_DIMENSION = 2**31 - 1


def positive_int(value: Any) -> int | None:
    """A strictly positive integer from an int, float or numeric string, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int) and not 0 < value <= MAX_DIMENSION:
        return None  # before any float conversion: 10**400 would overflow it
    if isinstance(value, int | float) and math.isfinite(value):
        number = round(value)
        return number if 0 < number <= MAX_DIMENSION else None
    return None


def text_values(value: Any) -> list[str]:
    """Every string in a v2 or v3 language value, in order (for display, not for writing)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in text_values(item)]
    if isinstance(value, Mapping):
        if "@value" in value:
            return text_values(value["@value"])
        return [text for item in _preferred_first(value) for text in text_values(item)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    return []


def _preferred_first(language_map: Mapping[str, Any]) -> list[Any]:
    keys = [key for key in PREFERRED_LANGUAGES if key in language_map]
    keys += [key for key in language_map if key not in keys]
    return [language_map[key] for key in keys]


def label_text(value: Any, default: str = "") -> str:
    """One display string for a label: English or language-neutral first, else the first one."""
    if isinstance(value, list):
        preferred = [v for v in value if isinstance(v, Mapping) and v.get("@language") == "en"]
        value = preferred + [v for v in value if v not in preferred]
    for text in text_values(value):
        if text.strip():
            return text.strip()
    return default


def context_strings(doc: Mapping[str, Any]) -> list[str]:
    """The string entries of a document's ``@context`` (objects in the list are ignored)."""
    return [item for item in as_list(doc.get("@context")) if isinstance(item, str)]
