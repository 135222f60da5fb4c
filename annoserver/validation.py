"""Validation of annotations against the W3C Web Annotation JSON schemas (vendored).

Each MUST assertion of the W3C test suite (``annotations/annotationMusts.test``) is one
draft-04 schema; an annotation is valid when it satisfies all of them. The error list names
each failed assertion with the W3C's own message, so a client can see what to fix.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

BASE = "https://annoserver.invalid/w3c/"
SCHEMAS = resources.files("annoserver") / "schemas" / "w3c"


def _resource(schema: dict[str, Any]) -> Resource:
    return Resource.from_contents({**schema, "id": BASE + schema["id"]},
                                  default_specification=DRAFT4)


@cache
def _registry() -> Registry:
    definitions = (SCHEMAS / "definitions").iterdir()
    pairs = [(BASE + path.name, _resource(json.loads(path.read_text())))
             for path in definitions if path.name.endswith(".json")]
    return Registry().with_resources(pairs)


@cache
def _assertions(test_file: str) -> tuple[tuple[Draft4Validator, str], ...]:
    """Validators for each assertion of a W3C ``.test`` file, with its error message."""
    test = json.loads((SCHEMAS / test_file).read_text())
    validators = []
    for name in test["assertions"]:
        schema = json.loads((SCHEMAS / name).read_text())
        schema["id"] = BASE + schema["id"]
        # Draft 4 ignores every sibling of a root "$ref", "id" included; moving the reference
        # into "allOf" keeps the base URI its relative references need.
        if "$ref" in schema:
            schema["allOf"] = [*schema.get("allOf", []), {"$ref": schema.pop("$ref")}]
        validators.append((Draft4Validator(schema, registry=_registry(),
                                           format_checker=Draft4Validator.FORMAT_CHECKER),
                           schema.get("errorMessage", schema.get("title", name))))
    return tuple(validators)


def annotation_errors(document: Any) -> list[str]:
    """The W3C MUST assertions ``document`` fails, as human messages (empty when valid)."""
    if not isinstance(document, dict):
        return ["An annotation must be a JSON object."]
    # The W3C schemas let a null value through (JSON-LD reads it as "unset"); storing it would
    # serve e.g. "motivation": null, which is neither a string nor a list.
    nulls = [f"'{key}' must not be null: leave it out instead."
             for key, value in document.items() if value is None]
    return nulls + [message for validator, message
                    in _assertions("annotations/annotationMusts.test")
                    if not validator.is_valid(document)]


def collection_errors(document: Any) -> list[str]:
    """The W3C MUST assertions an AnnotationCollection document fails."""
    return [message for validator, message in _assertions("collections/collectionMusts.test")
            if not validator.is_valid(document)]


def page_errors(document: Any) -> list[str]:
    """The W3C MUST assertions an AnnotationPage document fails."""
    return [message for validator, message in _assertions("collections/pages/pageMusts.test")
            if not validator.is_valid(document)]
