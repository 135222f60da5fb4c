"""Human review: verdicts as their own records, shown in the annotation, filterable, kept.

Real parts: SQLite and PostgreSQL, a manifest served over HTTP on 127.0.0.1 and registered
through ``POST /manifests`` (so ``/pages/{id}`` exists), the test model repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.jobs.conftest import ManifestServer, canvas, manifest
from tests.model_repos import write_test_models

BASE = "http://annoserver.test/"
ANNO = "http://www.w3.org/ns/anno.jsonld"
DETECTOR = "tiny-detector"


@pytest.fixture(scope="session")
def harvest_models_dir(tmp_path_factory):
    return write_test_models(tmp_path_factory.mktemp("harvest-models"))


@pytest.fixture(scope="session")
def manifests():
    with ManifestServer() as server:
        yield server


@pytest.fixture
def settings(settings, harvest_models_dir):
    # No executor: registered jobs stay queued, their pages exist, nothing else writes.
    return {**settings, "MODELS_DIR": str(harvest_models_dir), "ALLOWED_HOSTS": ["127.0.0.1"],
            "JOB_THREADS": 0, "PAGE_SIZE": 2}


@dataclass(frozen=True)
class Book:
    """A registered manifest: its IIIF id, canvases, key and the detector's page per canvas."""

    manifest_id: str
    canvases: tuple[str, ...]
    key: str
    pages: tuple[str, ...]


@pytest.fixture
def book(client, write_headers, manifests, request) -> Book:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)
    manifest_id = f"{manifests.url}/{name}/manifest.json"
    document = manifest(manifest_id, [canvas(manifest_id, n, 1200, 800, None) for n in (1, 2)])
    url = manifests.publish(f"/{name}/manifest.json", document)
    response = client.post("/manifests", json={"url": url, "models": [DETECTOR]},
                           headers=write_headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    key = response.get_json()["key"]
    enriched = client.get(f"/manifests/{key}").get_json()
    pages = tuple(item["annotations"][0]["id"] for item in enriched["items"])
    return Book(manifest_id, tuple(item["id"] for item in enriched["items"]), key, pages)


def machine(canvas_id: str, manifest_id: str | None, label: str = "ship",
            confidence: float = 0.9, model: str = DETECTOR) -> dict:
    """A machine annotation as the annotation builder writes them."""
    source = {"id": canvas_id, "type": "Canvas"}
    if manifest_id:
        source["partOf"] = [{"id": manifest_id, "type": "Manifest"}]
    return {"@context": [ANNO, BASE + "ns/annoserver.jsonld"], "type": "Annotation",
            "motivation": "tagging", "created": "2026-01-01T00:00:00Z",
            "creator": {"type": "Software", "name": model, "modelVersion": "0.1.0"},
            "body": {"type": "TextualBody", "value": label, "purpose": "tagging",
                     "confidence": confidence},
            "target": {"type": "SpecificResource", "source": source,
                       "selector": {"type": "FragmentSelector",
                                    "conformsTo": "http://www.w3.org/TR/media-frags/",
                                    "value": "xywh=10,20,30,40"}}}


def post(client, headers, document) -> str:
    """Create an annotation; return its path."""
    response = client.post("/annotations/", json=document, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return local(response.headers["Location"])


def local(iri: str) -> str:
    return iri.removeprefix(BASE.rstrip("/"))


def review(client, headers, path, verdict, **extra):
    return client.post(f"{path}/review", json={"verdict": verdict, **extra}, headers=headers)


def problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["detail"]
    return response.get_json()


def test_review_lifecycle_keeps_the_model_output_and_the_history(client, write_headers):
    original = machine("https://example.org/canvas/1", None)
    path = post(client, write_headers, original)
    before = client.get(path)

    accepted = review(client, write_headers, path, "accepted")
    assert accepted.status_code == 201, accepted.get_data(as_text=True)
    first = accepted.get_json()
    assert accepted.headers["Location"] == first["id"]
    assert first["id"].startswith(BASE + path.lstrip("/") + "/reviews/")
    assert first["motivation"] == "assessing"
    assert first["target"] == BASE + path.lstrip("/")
    assert first["creator"] == {"type": "Person", "name": "test-write"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["created"])
    assert first["body"] == [{"type": "TextualBody", "value": "accepted", "purpose": "assessing"}]
    assert first["@context"] == [ANNO, BASE + "ns/annoserver.jsonld"]

    shown = client.get(path)
    assert shown.headers["ETag"] != before.headers["ETag"]
    annotation = shown.get_json()
    assert annotation["review"] == {"verdict": "accepted", "id": first["id"],
                                    "reviewed": first["created"], "reviewer": first["creator"]}
    for member in ("body", "creator", "target", "motivation", "created"):
        assert annotation[member] == original[member]

    correction = {"type": "TextualBody", "value": "schooner", "purpose": "tagging"}
    corrected = review(client, write_headers, path, "corrected", body=correction,
                       note="two masts")
    assert corrected.status_code == 201, corrected.get_data(as_text=True)
    assert corrected.get_json()["body"][1:] == [
        correction, {"type": "TextualBody", "value": "two masts", "purpose": "commenting"}]
    plain = review(client, write_headers, path, "corrected",
                   body={"type": "TextualBody", "value": "brig"}).get_json()
    assert plain["body"][1] == {"type": "TextualBody", "value": "brig", "purpose": "editing"}
    rejected = review(client, write_headers, path, "rejected").get_json()

    annotation = client.get(path).get_json()
    assert annotation["review"]["verdict"] == "rejected"
    assert annotation["review"]["id"] == rejected["id"]
    assert annotation["body"] == original["body"]  # the model's output, never rewritten

    history = client.get(f"{path}/reviews")
    assert history.status_code == 200
    items = history.get_json()["items"]
    assert [item["id"] for item in items] == [rejected["id"], plain["id"],
                                              corrected.get_json()["id"], first["id"]]
    assert [item["body"][0]["value"] for item in items] == [
        "rejected", "corrected", "corrected", "accepted"]
    one = client.get(local(corrected.get_json()["id"]))
    assert one.status_code == 200
    assert one.get_json() == corrected.get_json()


def test_review_errors_are_problems_and_store_nothing(client, write_headers, read_token):
    path = post(client, write_headers, machine("https://example.org/canvas/1", None))
    problem(review(client, {}, path, "accepted"), 401)
    problem(review(client, {"Authorization": f"Bearer {read_token}"}, path, "accepted"), 403)
    problem(review(client, write_headers, "/annotations/nothing-here", "accepted"), 404)
    bad = [({"verdict": "maybe"}, "verdict"),
           ({}, "verdict"),
           ({"verdict": "corrected"}, "body"),
           ({"verdict": "accepted", "body": {"type": "TextualBody", "value": "x"}}, "body"),
           ({"verdict": "accepted", "note": 7}, "note"),
           ({"verdict": "accepted", "note": "x" * 10_001}, "note"),
           ({"verdict": "accepted", "score": 1}, "score"),
           ({"verdict": "corrected", "body": []}, "body"),
           ({"verdict": "corrected", "body": 12}, "body")]
    for body, word in bad:
        detail = problem(client.post(f"{path}/review", json=body, headers=write_headers),
                         400)["detail"]
        assert word in detail, (body, detail)
    invalid = problem(review(client, write_headers, path, "corrected",
                             body={"type": "TextualBody"}), 400)
    assert invalid["errors"]
    problem(review(client, write_headers, path, "corrected", body="not an IRI"), 400)
    problem(client.post(f"{path}/review", data="{", headers=write_headers), 400)
    problem(client.post(f"{path}/review", json=["accepted"], headers=write_headers), 400)
    problem(client.post(f"{path}/review", data="verdict=accepted",
                        headers={**write_headers, "Content-Type": "text/plain"}), 415)
    assert client.get(f"{path}/reviews").get_json()["items"] == []
    assert "review" not in client.get(path).get_json()

    problem(client.get(f"{path}/reviews/1"), 404)
    problem(client.get(f"{path}/reviews/{2**40}"), 404)
    problem(client.get(f"{path}/reviews/{2**70}"), 404)
    problem(client.get("/annotations/nothing-here/reviews"), 404)

    review(client, write_headers, path, "accepted")
    etag = client.get(path).headers["ETag"]
    assert client.delete(path, headers={**write_headers, "If-Match": etag}).status_code == 204
    problem(review(client, write_headers, path, "rejected"), 410)
    # The history outlives the annotation.
    assert len(client.get(f"{path}/reviews").get_json()["items"]) == 1


def test_a_client_can_neither_drop_nor_forge_a_review(client, write_headers):
    path = post(client, write_headers, machine("https://example.org/canvas/1", None))
    verdict = review(client, write_headers, path, "accepted").get_json()
    current = client.get(path)
    replacement = {**machine("https://example.org/canvas/1", None, "boat"),
                   "@context": ANNO, "review": {"verdict": "rejected"}}
    replaced = client.put(path, json=replacement,
                          headers={**write_headers, "If-Match": current.headers["ETag"]})
    assert replaced.status_code == 200, replaced.get_data(as_text=True)
    kept = client.get(path).get_json()
    assert kept["body"]["value"] == "boat"
    assert kept["review"]["id"] == verdict["id"]
    assert kept["review"]["verdict"] == "accepted"
    assert kept["@context"] == [ANNO, BASE + "ns/annoserver.jsonld"]  # defines 'review'
    assert len(client.get(f"{path}/reviews").get_json()["items"]) == 1
    assert client.get("/annotations/", query_string={"review": "accepted"}).get_json()[
        "total"] == 1

    forged = post(client, write_headers, {**machine("https://example.org/canvas/2", None),
                                          "review": {"verdict": "accepted"}})
    assert "review" not in client.get(forged).get_json()
    assert client.get("/annotations/", query_string={"review": "unreviewed"}).get_json()[
        "total"] == 1


def _total(client, **query):
    response = client.get("/annotations/", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["total"]


def _walk(client, **query):
    """Every annotation of a filtered view, following the pages' next links."""
    collection = client.get("/annotations/", query_string=query).get_json()
    items, page = [], collection.get("first")
    while page:
        page = client.get(local(page)).get_json() if isinstance(page, str) else page
        items += page["items"]
        page = page.get("next")
    return items


def test_review_filter_on_every_view(client, write_headers, book):
    canvas_id, page = book.canvases[0], local(book.pages[0])
    paths = [post(client, write_headers, machine(canvas_id, book.manifest_id, f"label {n}"))
             for n in range(6)]
    standalone = post(client, write_headers, machine("https://example.org/other", None))
    verdicts = ["accepted", "accepted", "rejected", "corrected", "accepted"]
    for path, verdict in zip(paths, verdicts, strict=False):
        body = {"type": "TextualBody", "value": "fixed"} if verdict == "corrected" else None
        extra = {"body": body} if body else {}
        assert review(client, write_headers, path, verdict, **extra).status_code == 201
    # The latest review counts: the second accepted one is now rejected.
    assert review(client, write_headers, paths[1], "rejected").status_code == 201
    review(client, write_headers, standalone, "accepted")

    assert _total(client, review="accepted") == 3
    assert _total(client, review="rejected") == 2
    assert _total(client, review="corrected") == 1
    assert _total(client, review="unreviewed") == 1
    assert _total(client, review="accepted", canvas=canvas_id) == 2
    assert _total(client) == 7
    accepted = _walk(client, review="accepted")  # PAGE_SIZE 2: the filter survives paging
    assert len(accepted) == 3
    assert {item["review"]["verdict"] for item in accepted} == {"accepted"}
    problem(client.get("/annotations/", query_string={"review": "maybe"}), 400)

    v2 = client.get("/annotations/", query_string={"canvas": canvas_id, "format": "v2",
                                                   "review": "rejected"}).get_json()
    assert len(v2["resources"]) == 2

    shown = client.get(page)
    assert shown.status_code == 200
    items = shown.get_json()["items"]
    assert len(items) == 6
    assert sorted(item.get("review", {}).get("verdict", "-") for item in items) == [
        "-", "accepted", "accepted", "corrected", "rejected", "rejected"]
    filtered = client.get(page, query_string={"review": "accepted"})
    assert {item["review"]["verdict"] for item in filtered.get_json()["items"]} == {"accepted"}
    assert len(filtered.get_json()["items"]) == 2
    assert len(client.get(page, query_string={"review": "unreviewed"}).get_json()["items"]) == 1
    assert filtered.headers["ETag"] != shown.headers["ETag"]
    problem(client.get(page, query_string={"review": "maybe"}), 400)

    # A review changes the page's ETag, so pollers see it.
    assert client.get(page, headers={"If-None-Match": shown.headers["ETag"]}).status_code == 304
    review(client, write_headers, paths[5], "accepted")
    again = client.get(page, headers={"If-None-Match": shown.headers["ETag"]})
    assert again.status_code == 200
    assert len(client.get(page, query_string={"review": "accepted"}).get_json()["items"]) == 3


def test_the_review_terms_are_in_our_context(client):
    terms = client.get("/ns/annoserver.jsonld").get_json()["@context"]
    for term in ("review", "verdict", "reviewed", "reviewer"):
        assert terms[term]["@id"] == f"annoserver:{term}"
