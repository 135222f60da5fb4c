"""Filtered views of the container and the IIIF v2 AnnotationList of a canvas."""

from __future__ import annotations

import pytest

from annoserver.validation import page_errors
from tests.protocol.helpers import CANVAS, MANIFEST, annotation, create

OTHER = "https://iiif.example.org/manifest/1/canvas/p2"


@pytest.fixture
def settings(settings):
    return {**settings, "PAGE_SIZE": 2}


@pytest.fixture
def stored(client, write_headers):
    specs = [dict(canvas=CANVAS, confidence=0.9, model="m1", label="a"),
             dict(canvas=CANVAS, confidence=0.4, model="m2", label="b"),
             dict(canvas=CANVAS, confidence=0.7, model="m1", label="c",
                  motivation="identifying"),
             dict(canvas=OTHER, confidence=0.95, model="m1", label="d"),
             dict(canvas=CANVAS, confidence=None, model="m1", label="e")]
    return [create(client, write_headers, **spec).get_json() for spec in specs]


def _labels(client, query):
    collection = client.get("/annotations/?" + query).get_json()
    labels, page = [], collection.get("first")
    while page:
        assert page_errors({"@context": "http://www.w3.org/ns/anno.jsonld", **page}) == [] \
            or "partOf" not in page
        labels += [item["body"]["value"] for item in page["items"]]
        nxt = page.get("next")
        page = client.get(nxt.removeprefix("http://annoserver.test")).get_json() if nxt else None
    assert collection["total"] == len(labels)
    return labels


def test_canvas_and_target_filters(client, stored):
    assert _labels(client, f"canvas={CANVAS}") == ["a", "b", "c", "e"]
    assert _labels(client, f"target={OTHER}") == ["d"]
    assert _labels(client, "canvas=https://nowhere.example/c") == []


def test_other_filters(client, stored):
    assert _labels(client, f"manifest={MANIFEST}") == ["a", "b", "c", "d", "e"]
    assert _labels(client, "motivation=identifying") == ["c"]
    assert _labels(client, "model=m2") == ["b"]
    assert _labels(client, "creator=m1&min_confidence=0.8") == ["a", "d"]
    assert _labels(client, f"canvas={CANVAS}&min_confidence=0.5") == ["a", "c"]


def test_filtered_view_is_its_own_paged_collection(client, stored):
    collection = client.get(f"/annotations/?canvas={CANVAS}").get_json()
    assert "target=" in collection["id"] and collection["total"] == 4
    assert "target=" in collection["last"] and "target=" in collection["first"]["next"]
    assert client.get(f"/annotations/?canvas={CANVAS}&target={OTHER}").status_code == 400


def test_filtered_etag_follows_its_own_content(client, write_headers, stored):
    url = f"/annotations/?canvas={OTHER}"
    before = client.get(url).headers["ETag"]
    create(client, write_headers, canvas=CANVAS)
    assert client.get(url).headers["ETag"] == before
    create(client, write_headers, canvas=OTHER)
    assert client.get(url).headers["ETag"] != before


def test_v2_annotation_list(client, stored):
    response = client.get(f"/annotations/?canvas={CANVAS}&format=v2")
    listing = response.get_json()
    assert listing["@type"] == "sc:AnnotationList"
    assert listing["@context"] == "http://iiif.io/api/presentation/2/context.json"
    assert [r["resource"][0]["chars"] for r in listing["resources"]] == ["a", "b", "c", "e"]
    first = listing["resources"][0]
    assert first["@type"] == "oa:Annotation" and first["motivation"] == ["oa:tagging"]
    assert first["on"] == f"{CANVAS}#xywh=10,20,30,40"
    assert client.get("/annotations/?format=v2").status_code == 400


def test_plain_iri_target_is_indexed(client, write_headers):
    document = {**annotation(), "target": CANVAS + "#xywh=1,2,3,4"}
    create(client, write_headers, document=document)
    assert client.get(f"/annotations/?canvas={CANVAS}").get_json()["total"] == 1


def test_nul_characters_are_refused_before_any_query(client, stored):
    """PostgreSQL cannot compare text with NUL: found by schemathesis as a 500 there."""
    for query in ("manifest=%C3%9E%00s&review=accepted", "target=%00", "model=m%00"):
        response = client.get("/annotations/?" + query)
        assert response.status_code == 400, query
        assert response.mimetype == "application/problem+json"
    assert client.get("/annotations/a%00b").status_code == 404
    assert client.get("/models/x%00").status_code == 404
