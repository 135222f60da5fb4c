"""The vendored W3C schemas accept the W3C's correct samples and refuse the incorrect ones."""

from __future__ import annotations

import json
from pathlib import Path

from annoserver.validation import annotation_errors

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "w3c-samples"
# Use classes dropped before the Recommendation (conformance/README.md, known defects).
KNOWN_DEFECTS = {"anno11.json", "anno12.json", "anno13.json"}


def _samples(kind):
    return sorted(SAMPLES.joinpath(kind).glob("anno*.json"))


def test_correct_samples_are_valid():
    checked = 0
    for path in _samples("correct"):
        if path.name not in KNOWN_DEFECTS:
            assert annotation_errors(json.loads(path.read_text())) == [], path.name
            checked += 1
    assert checked >= 20


def test_incorrect_samples_are_refused():
    refused = 0
    for path in _samples("incorrect"):
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue  # refused earlier, as malformed JSON
        assert annotation_errors(document), path.name
        refused += 1
    assert refused >= 15


def test_non_object_is_refused():
    assert annotation_errors(["not", "an", "object"])


def test_null_property_is_refused():
    """The W3C schemas pass "motivation": null; the server would then serve a motivation that
    is neither a string nor a list (found by the contract test's stateful fuzzing)."""
    document = {"@context": "http://www.w3.org/ns/anno.jsonld", "id": "http://example.org/a1",
                "type": "Annotation", "target": "http://example.org/t", "motivation": None}
    assert annotation_errors(document) == ["'motivation' must not be null: leave it out instead."]
    del document["motivation"]
    assert annotation_errors(document) == []
