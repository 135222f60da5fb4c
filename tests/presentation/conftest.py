from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "iiif"
BASE = "https://cookbook.test"


def render(path: Path) -> object:
    """Parse a fixture; cookbook files get their Jekyll placeholders rendered first."""
    text = path.read_text(encoding="utf-8")
    if "cookbook" in path.parts:
        recipe = f"{BASE}/recipe/{path.parent.name}"
        text = text.replace("{{ id.url }}", f"{recipe}/{path.name}")
        text = text.replace("{{ id.path }}", recipe)
    return json.loads(text)


def load(relative: str) -> dict:
    return render(FIXTURES / relative)


def fixture_files(*patterns: str) -> list[Path]:
    return sorted(p for pattern in patterns for p in FIXTURES.glob(pattern))


def fixture_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


# Format checking ("uri") is stricter than the official validator, which skips it.
V3_SCHEMA = Draft7Validator(json.loads((FIXTURES / "iiif_3_0.json").read_text(encoding="utf-8")),
                            format_checker=FormatChecker())


@pytest.fixture(scope="session")
def v3_schema() -> Draft7Validator:
    """The IIIF presentation validator's v3 schema (it runs ``Draft7Validator`` on it too)."""
    return V3_SCHEMA


def schema_errors(validator: Draft7Validator, doc: dict) -> list[str]:
    from jsonschema.exceptions import best_match

    errors = list(validator.iter_errors(doc))
    if not errors:
        return []
    best = best_match(errors)
    return [f"{'/'.join(map(str, best.absolute_path))}: {best.message[:300]}"]
