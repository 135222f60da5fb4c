"""IIIF Content Search 2.0 and 1.0 with autocompletion, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command

from annoserver.store.db import alembic_config
from annoserver.store.manifests import ManifestRecord, ManifestStore
from tests.presentation.conftest import V3_SCHEMA, schema_errors
from tests.protocol.helpers import annotation, create

BASE = "http://annoserver.test"
MANIFEST = "https://iiif.example.org/manifest/1"
OTHER_MANIFEST = "https://iiif.example.org/manifest/2"
KEY = "0123456789abcdef"
PAGE_1, PAGE_2 = f"{MANIFEST}/canvas/p1", f"{MANIFEST}/canvas/p2"
SERVICE_1 = "https://images.example.org/iiif/3/page-1"
SERVICE_2 = "https://images.example.org/iiif/2/page-2"


def _canvas(canvas_id: str, size: tuple[int, int], image: tuple[int, int], service: dict) -> dict:
    service_id = service.get("id") or service["@id"]
    body = {"id": f"{service_id}/full/max/0/default.jpg", "type": "Image",
            "format": "image/jpeg", "width": image[0], "height": image[1], "service": [service]}
    return {"id": canvas_id, "type": "Canvas", "label": {"en": ["page"]},
            "width": size[0], "height": size[1],
            "items": [{"id": f"{canvas_id}/page", "type": "AnnotationPage",
                       "items": [{"id": f"{canvas_id}/paint", "type": "Annotation",
                                  "motivation": "painting", "body": body,
                                  "target": canvas_id}]}]}


def book_source() -> dict:
    """Two canvases: 1200×800 painting a 600×400 image (×2), 300×200 painting 600×400 (×½)."""
    return {"@context": "http://iiif.io/api/presentation/3/context.json", "id": MANIFEST,
            "type": "Manifest", "label": {"en": ["A ship's log"]},
            "items": [_canvas(PAGE_1, (1200, 800), (600, 400),
                              {"id": SERVICE_1, "type": "ImageService3", "profile": "level2"}),
                      _canvas(PAGE_2, (300, 200), (600, 400),
                              {"@id": SERVICE_2, "@type": "ImageService2",
                               "profile": "http://iiif.io/api/image/2/level2.json"})]}


@pytest.fixture
def registered(app):
    """The book, registered under KEY."""
    engine = app.extensions["annoserver.db"]
    ManifestStore(engine).save(ManifestRecord(KEY, f"{MANIFEST}.json", MANIFEST, "Manifest", 3,
                                              "A ship's log", book_source(), datetime.now(UTC)))
    return KEY


def on_book(canvas: str = PAGE_1, manifest: str = MANIFEST, **kwargs) -> dict:
    """An annotation whose target is part of ``manifest``."""
    document = annotation(canvas=canvas, **kwargs)
    document["target"]["source"]["partOf"] = [{"id": manifest, "type": "Manifest"}]
    return document


def add(client, headers, **kwargs) -> dict:
    return create(client, headers, on_book(**kwargs)).get_json()


TEXT = "Logbook: the good ship Mary sailed from Hull at dawn, bound for the Baltic with wool"


def _path(url: str) -> str:
    return url.removeprefix(BASE)


def _seed(client, headers) -> dict[str, str]:
    """Annotations of the book and of another manifest; returns label → annotation id."""
    made = {
        "Ship": add(client, headers, label="Ship", model="m1", confidence=0.9),
        "ship": add(client, headers, label="ship", model="m2", confidence=0.4,
                    xywh="0,0,50,50"),
        "text": add(client, headers, label=TEXT, model="ocr", confidence=0.8,
                    motivation="supplementing", canvas=PAGE_2),
        "shipyard": add(client, headers, label="Shipyard", model="m1", confidence=0.7),
        "elsewhere": add(client, headers, label="ship", manifest=OTHER_MANIFEST),
    }
    gone = add(client, headers, label="ship", model="m1")
    etag = client.get(_path(gone["id"])).headers["ETag"]
    assert client.delete(_path(gone["id"]), headers={**headers, "If-Match": etag}).status_code \
        == 204
    edited = add(client, headers, label="cat", model="m3")
    etag = client.get(_path(edited["id"])).headers["ETag"]
    replacement = {**edited, "body": {"type": "TextualBody", "value": "Ship's dog"}}
    assert client.put(_path(edited["id"]), json=replacement,
                      headers={**headers, "If-Match": etag}).status_code == 200
    made["dog"] = edited
    return {label: document["id"] for label, document in made.items()}


def _ids(document: dict) -> list[str]:
    return [item["id"] for item in document["items"]]


def test_search_2_finds_words_case_insensitively_within_the_manifest(client, write_headers,
                                                                    registered):
    ids = _seed(client, write_headers)
    response = client.get(f"/search/{KEY}?q=SHIP")
    assert response.status_code == 200
    assert "search/2/context.json" in response.headers["Content-Type"]
    page = response.get_json()
    assert page["@context"][-1] == "http://iiif.io/api/search/2/context.json"
    assert page["type"] == "AnnotationPage" and page["id"].startswith(f"{BASE}/search/{KEY}?q=SHIP")
    # The stored annotations themselves, on the book's canvases; not the deleted one, not the
    # other manifest's, not "Shipyard" (a different word); the edit's new text is found.
    assert _ids(page) == [ids["Ship"], ids["ship"], ids["text"], ids["dog"]]
    assert page["partOf"]["total"] == 4 and "ignored" not in page
    first = page["items"][0]
    assert first["target"]["source"]["id"] == PAGE_1 and first["body"]["value"] == "Ship"
    assert "@context" not in first
    assert _ids(client.get(f"/search/{KEY}?q=cat").get_json()) == []
    assert _ids(client.get(f"/search/{KEY}?q=ship%20mary").get_json()) == [ids["text"]]
    assert _ids(client.get(f"/search/{KEY}?q=baltic+WOOL+hull").get_json()) == [ids["text"]]


def test_search_filters_and_ignored_parameters(client, write_headers, registered):
    ids = _seed(client, write_headers)
    search = f"/search/{KEY}?q=ship"
    assert _ids(client.get(f"{search}&model=m1").get_json()) == [ids["Ship"]]
    assert _ids(client.get(f"{search}&creator=m2").get_json()) == [ids["ship"]]
    assert _ids(client.get(f"{search}&min_confidence=0.5").get_json()) == [ids["Ship"],
                                                                          ids["text"]]
    page = client.get(f"{search}&motivation=supplementing&user=me&date=2020").get_json()
    assert _ids(page) == [ids["text"]] and page["ignored"] == ["date", "user"]
    assert _ids(client.get(f"{search}&motivation=oa:supplementing").get_json()) == [ids["text"]]
    everything = client.get(f"/search/{KEY}?model=m1").get_json()  # no q: all of the manifest's
    assert _ids(everything) == [ids["Ship"], ids["shipyard"]]


def test_search_2_match_context(client, write_headers, registered):
    ids = _seed(client, write_headers)
    page = client.get(f"/search/{KEY}?q=mary&motivation=supplementing").get_json()
    [match] = page["annotations"][0]["items"]
    assert match["motivation"] == "contextualizing"
    assert match["target"]["source"] == ids["text"]
    [selector] = match["target"]["selector"]
    assert selector == {"type": "TextQuoteSelector", "prefix": "Logbook: the good ship ",
                        "exact": "Mary", "suffix": " sailed from Hull at dawn, bound for "}


def test_search_pages_by_keyset(client, write_headers, registered, app):
    app.config["PAGE_SIZE"] = 2
    ids = _seed(client, write_headers)
    page = client.get(f"/search/{KEY}?q=ship").get_json()
    assert page["startIndex"] == 0 and "prev" not in page
    assert page["partOf"]["first"]["id"] == page["id"]
    seen = _ids(page)
    second = client.get(_path(page["next"]["id"])).get_json()
    assert second["startIndex"] == 2 and "next" not in second
    assert second["id"] == page["partOf"]["last"]["id"]
    assert client.get(_path(second["prev"]["id"])).get_json()["id"] == page["id"]
    seen += _ids(second)
    assert seen == [ids["Ship"], ids["ship"], ids["text"], ids["dog"]]
    # A cursor without its start index still knows where it is.
    cursor = second["id"].split("page=")[1].split("&")[0]
    assert client.get(f"/search/{KEY}?q=ship&page={cursor}").get_json()["startIndex"] == 2


def test_search_1_for_mirador(client, write_headers, registered):
    ids = _seed(client, write_headers)
    response = client.get(f"/search/{KEY}/v1?q=ship&user=x")
    assert response.status_code == 200
    listing = response.get_json()
    assert listing["@context"] == ["http://iiif.io/api/presentation/2/context.json",
                                   "http://iiif.io/api/search/1/context.json"]
    assert listing["@type"] == "sc:AnnotationList"
    assert listing["within"]["@type"] == "sc:Layer" and listing["within"]["total"] == 4
    assert listing["within"]["ignored"] == ["user"]
    resources = listing["resources"]
    assert [r["@id"] for r in resources] == [ids["Ship"], ids["ship"], ids["text"], ids["dog"]]
    assert resources[1]["@type"] == "oa:Annotation"
    assert resources[1]["on"] == f"{PAGE_1}#xywh=0,0,50,50"
    assert resources[0]["resource"][0]["chars"] == "Ship"
    hits = {hit["annotations"][0]: hit for hit in listing["hits"]}
    assert hits[ids["Ship"]] == {"@type": "search:Hit", "annotations": [ids["Ship"]],
                                 "match": "Ship"}
    text_hit = hits[ids["text"]]
    assert (text_hit["before"], text_hit["match"]) == ("Logbook: the good ", "ship")
    assert text_hit["after"].startswith(" Mary sailed")
    assert hits[ids["dog"]]["match"] == "Ship" and hits[ids["dog"]]["after"] == "'s dog"


def test_autocomplete_2_and_1(client, write_headers, registered):
    _seed(client, write_headers)
    terms = client.get(f"/search/{KEY}/autocomplete?q=Sh").get_json()
    assert terms["type"] == "TermPage"
    assert terms["items"] == [{"value": "ship", "total": 4}, {"value": "shipyard", "total": 1}]
    assert client.get(f"/search/{KEY}/autocomplete?q=sh&min=2").get_json()["items"] == [
        {"value": "ship", "total": 4}]
    assert client.get(f"/search/{KEY}/autocomplete?q=sh&model=m1").get_json()["items"] == [
        {"value": "ship", "total": 1}, {"value": "shipyard", "total": 1}]
    assert client.get(f"/search/{KEY}/autocomplete?q=good+ma").get_json()["items"] == [
        {"value": "good mary", "total": 1}]
    listing = client.get(f"/search/{KEY}/v1/autocomplete?q=shipy&motivation=tagging&x=1")
    document = listing.get_json()
    assert document["@type"] == "search:TermList" and document["ignored"] == ["x"]
    assert document["terms"] == [{"match": "shipyard", "count": 1, "url": (
        f"{BASE}/search/{KEY}/v1?q=shipyard&motivation=tagging")}]


def test_search_by_manifest_iri_alias(client, write_headers, registered):
    ids = _seed(client, write_headers)
    page = client.get("/search", query_string={"manifest": MANIFEST, "q": "dog"}).get_json()
    assert _ids(page) == [ids["dog"]] and "ignored" not in page
    assert page["id"].startswith(f"{BASE}/search/{KEY}?")


def test_bad_requests_are_problems(client, registered):
    for url, status in ((f"/search/{KEY}/autocomplete", 400),
                        (f"/search/{KEY}/autocomplete?q=,", 400),
                        (f"/search/{KEY}?q=a&min_confidence=lots", 400),
                        (f"/search/{KEY}?q=a&page=-1", 400),
                        (f"/search/{KEY}/v1/autocomplete?q=a&min=0", 400),
                        (f"/search/{KEY}?q=a&review=maybe", 400),
                        ("/search?q=a", 400), ("/search?manifest=https://nowhere.example/m", 404),
                        ("/search?manifest=%00&q=a", 400), (f"/search/{KEY}?q=a&model=m%00", 400),
                        ("/search/ffffffffffffffff?q=a", 404),
                        ("/search/ffffffffffffffff/v1/autocomplete?q=a", 404)):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.get_json()["detail"]


def test_enriched_manifests_advertise_the_services(client, registered):
    manifest = client.get(f"/manifests/{KEY}").get_json()
    assert schema_errors(V3_SCHEMA, manifest) == []
    search_1, search_2 = manifest["service"]
    assert search_1 == {
        "@context": "http://iiif.io/api/search/1/context.json",
        "id": f"{BASE}/search/{KEY}/v1", "type": "SearchService1",
        "profile": "http://iiif.io/api/search/1/search",
        "service": [{"id": f"{BASE}/search/{KEY}/v1/autocomplete",
                     "type": "AutoCompleteService1",
                     "profile": "http://iiif.io/api/search/1/autocomplete"}]}
    assert search_2["type"] == "SearchService2" and search_2["id"] == f"{BASE}/search/{KEY}"
    assert search_2["service"][0]["type"] == "AutoCompleteService2"
    v2 = client.get(f"/manifests/{KEY}?version=2").get_json()
    [service] = v2["service"]
    assert service["profile"] == "http://iiif.io/api/search/1/search"
    assert service["@id"] == f"{BASE}/search/{KEY}/v1"
    assert service["service"]["@id"] == f"{BASE}/search/{KEY}/v1/autocomplete"
    # The advertised services answer.
    assert client.get(_path(search_1["id"]) + "?q=x").status_code == 200
    assert client.get(_path(search_2["service"][0]["id"]) + "?q=x").status_code == 200


def test_migration_indexes_existing_annotations(app, client, write_headers, registered):
    ids = _seed(client, write_headers)
    engine = app.extensions["annoserver.db"]
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert _ids(client.get(f"/search/{KEY}?q=ship").get_json()) == [
        ids["Ship"], ids["ship"], ids["text"], ids["dog"]]
