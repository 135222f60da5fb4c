"""Language values for writing: strict v3 language maps, and v2 values made from them.

v3 wants ``{"en": ["..."], "none": ["..."]}`` with BCP47-ish keys and lists of strings. Inputs
come as v2 strings, lists, ``{"@value", "@language"}`` objects, or v3 maps with ``@none``,
``true`` or non-string values; all of them become a valid map, or ``None`` when nothing is left.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .properties import text_values

_LANGUAGE_KEY = re.compile(r"^[a-zA-Z-]+$")
NONE = "none"


def _key(language: Any) -> str:
    if not isinstance(language, str) or language in ("@none", ""):
        return NONE
    return language if _LANGUAGE_KEY.match(language) else NONE


def _add(result: dict[str, list[str]], language: Any, texts: list[str]) -> None:
    if texts:
        result.setdefault(_key(language), []).extend(texts)


def language_map(value: Any) -> dict[str, list[str]] | None:
    """A valid v3 language map from any v2 or v3 language value, or ``None`` if it is empty."""
    result: dict[str, list[str]] = {}
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, Mapping) and "@value" in item:
            _add(result, item.get("@language"), text_values(item["@value"]))
        elif isinstance(item, Mapping):
            for language, texts in item.items():
                _add(result, language, text_values(texts))
        else:
            _add(result, NONE, text_values(item))
    return result or None


def v2_value(value: Any) -> str | list[dict[str, str]] | None:
    """A v2 language value from a v3 map: a plain string when it is one language-less string."""
    mapped = language_map(value)
    if mapped is None:
        return None
    if list(mapped) == [NONE] and len(mapped[NONE]) == 1:
        return mapped[NONE][0]
    return [{"@value": text, **({"@language": lang} if lang != NONE else {})}
            for lang, texts in mapped.items() for text in texts]
