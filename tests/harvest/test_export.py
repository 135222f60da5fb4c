"""``/export`` as JSON Lines, CSV and COCO: parsed, filtered, scaled, streamed (both databases)."""

from __future__ import annotations

import copy
import csv
import io
import json
import re

import cv2
import numpy as np
import pytest
import requests

from annoserver.store import export as export_store
from annoserver.validation import annotation_errors
from annoserver.web import export as export_web
from tests.harvest import test_search
from tests.harvest.test_search import (
    KEY,
    MANIFEST,
    OTHER_MANIFEST,
    PAGE_1,
    PAGE_2,
    add,
    on_book,
)
from tests.jobs.conftest import ManifestServer, canvas, manifest, wait_for
from tests.model_repos import write_test_models
from tests.protocol.helpers import create

registered = test_search.registered  # the book, registered as a job would have


@pytest.fixture(scope="session")
def export_models_dir(tmp_path_factory):
    return write_test_models(tmp_path_factory.mktemp("export-models"))


@pytest.fixture
def settings(settings, export_models_dir):
    return {**settings, "MODELS_DIR": str(export_models_dir), "ALLOWED_HOSTS": ["127.0.0.1"],
            "JOB_THREADS": 1, "JOB_POLL_INTERVAL": 0.05, "JOB_BACKOFF": 0.05}


@pytest.fixture
def app(app):
    yield app
    app.extensions["annoserver.executor"].stop()


@pytest.fixture(scope="module")
def manifests():
    with ManifestServer() as server:
        yield server

BASE = "http://annoserver.test"


@pytest.fixture
def seeded(client, write_headers, registered):
    """Five annotations of the book (one with a spreadsheet formula) and one elsewhere."""
    made = [add(client, write_headers, label="ship", model="m1", confidence=0.9,
                xywh="100,200,300,400"),
            add(client, write_headers, label="=HYPERLINK(\"http://evil\",\"x\")", model="m2",
                confidence=0.3, xywh="0,0,1200,800"),
            add(client, write_headers, label='gull, "herring"', model="m1", confidence=0.6,
                canvas=PAGE_2, xywh="30,20,60,40"),
            add(client, write_headers, label="The ship Mary", model="ocr", confidence=0.8,
                motivation="supplementing", canvas=PAGE_2, xywh="0,0,300,200"),
            add(client, write_headers, label="ship", model="m1", confidence=0.5,
                xywh="0,0,10,10")]
    add(client, write_headers, label="ship", manifest=OTHER_MANIFEST)
    return [document["id"] for document in made]


def _export(client, **params):
    response = client.get("/export", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_jsonl_one_valid_annotation_per_line(client, seeded):
    response = _export(client, manifest=KEY, format="jsonl")
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{KEY}.jsonl"'
    lines = response.get_data(as_text=True).splitlines()
    annotations = [json.loads(line) for line in lines]
    assert [a["id"] for a in annotations] == seeded
    assert all(annotation_errors(a) == [] for a in annotations)
    assert annotations[0]["@context"] == "http://www.w3.org/ns/anno.jsonld"
    # By the manifest's IIIF id too, and filtered like the container.
    assert _ids(client, manifest=MANIFEST, model="m1") == [seeded[0], seeded[2], seeded[4]]
    assert _ids(client, manifest=KEY, min_confidence="0.55") == [seeded[0], seeded[2], seeded[3]]
    assert _ids(client, manifest=KEY, motivation="supplementing") == [seeded[3]]
    assert _ids(client, manifest=KEY, canvas=PAGE_2) == [seeded[2], seeded[3]]


def _ids(client, **params):
    text = _export(client, format="jsonl", **params).get_data(as_text=True)
    return [json.loads(line)["id"] for line in text.splitlines()]


def test_review_filter(client, write_headers, seeded):
    for annotation_id, verdict in ((seeded[0], "accepted"), (seeded[1], "rejected")):
        response = client.post(annotation_id.removeprefix(BASE) + "/review",
                               json={"verdict": verdict}, headers=write_headers)
        assert response.status_code in (200, 201), response.get_data(as_text=True)
    assert _ids(client, manifest=KEY, review="accepted") == [seeded[0]]
    assert _ids(client, manifest=KEY, review="unreviewed") == seeded[2:]
    rows = list(csv.DictReader(io.StringIO(_export(
        client, manifest=KEY, format="csv", review="rejected").get_data(as_text=True))))
    assert [(row["annotation"], row["review"]) for row in rows] == [(seeded[1], "rejected")]


def test_a_correction_is_exported_beside_the_models_label(client, write_headers, seeded):
    """Exports are training data: a reviewer's corrected label is the one to learn from."""
    correction = {"type": "TextualBody", "value": "schooner", "purpose": "tagging"}
    response = client.post(seeded[0].removeprefix(BASE) + "/review", headers=write_headers,
                           json={"verdict": "corrected", "body": correction})
    assert response.status_code == 201, response.get_data(as_text=True)
    rows = {row["annotation"]: row for row in csv.DictReader(io.StringIO(_export(
        client, manifest=KEY, format="csv").get_data(as_text=True)))}
    assert (rows[seeded[0]]["label"], rows[seeded[0]]["review"],
            rows[seeded[0]]["corrected_label"]) == ("ship", "corrected", "schooner")
    assert rows[seeded[4]]["corrected_label"] == ""
    dataset = _export(client, manifest=KEY, format="coco").get_json()
    categories = {c["id"]: c["name"] for c in dataset["categories"]}
    boxes = {a["w3c_id"]: a for a in dataset["annotations"]}
    assert categories[boxes[seeded[0]]["category_id"]] == "schooner"
    assert boxes[seeded[0]]["machine_label"] == "ship"
    assert categories[boxes[seeded[4]]["category_id"]] == "ship"
    assert "machine_label" not in boxes[seeded[4]]
    shown = client.get(seeded[0].removeprefix(BASE)).get_json()["review"]
    assert shown["verdict"] == "corrected" and shown["body"] == correction


def test_csv_rows_quoting_and_formula_guard(client, seeded):
    response = _export(client, manifest=KEY, format="csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{KEY}.csv"'
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["annotation", "manifest", "canvas", "xywh", "label", "confidence",
                             "model", "model_version", "motivation", "review", "created",
                             "corrected_label"]
    assert [row["annotation"] for row in rows] == seeded
    first = rows[0]
    assert (first["manifest"], first["canvas"], first["xywh"]) == (MANIFEST, PAGE_1,
                                                                   "100,200,300,400")
    assert (first["label"], first["confidence"], first["model"], first["motivation"]) == (
        "ship", "0.9", "m1", "tagging")
    assert rows[1]["label"] == "'=HYPERLINK(\"http://evil\",\"x\")"  # shown, never run
    assert rows[2]["label"] == 'gull, "herring"'  # quoted, round-trips
    assert rows[3]["motivation"] == "supplementing" and rows[3]["label"] == "The ship Mary"


def test_coco_boxes_in_image_pixels_with_iiif_urls(client, seeded):
    response = _export(client, manifest=KEY, format="coco")
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{KEY}.coco.json"'
    dataset = response.get_json()
    images = {image["canvas"]: image for image in dataset["images"]}
    assert images[PAGE_1] | {"id": 0} == {
        "id": 0, "width": 600, "height": 400, "file_name": "000001.jpg", "canvas": PAGE_1,
        "iiif_url": "https://images.example.org/iiif/3/page-1",
        "coco_url": "https://images.example.org/iiif/3/page-1/full/max/0/default.jpg"}
    assert images[PAGE_2]["coco_url"].endswith("/iiif/2/page-2/full/full/0/default.jpg")
    assert (images[PAGE_2]["width"], images[PAGE_2]["height"]) == (600, 400)
    categories = {c["id"]: c["name"] for c in dataset["categories"]}
    assert sorted(categories.values()) == sorted(
        ["ship", "=HYPERLINK(\"http://evil\",\"x\")", 'gull, "herring"', "text"])
    boxes = {(a["w3c_id"]): a for a in dataset["annotations"]}
    assert len(dataset["annotations"]) == 5
    # Canvas 1 is 1200×800 painting a 600×400 image: halve; canvas 2 is 300×200: double.
    assert boxes[seeded[0]]["bbox"] == [50, 100, 150, 200]
    assert boxes[seeded[0]]["area"] == 150 * 200
    assert boxes[seeded[0]]["image_id"] == images[PAGE_1]["id"]
    assert categories[boxes[seeded[0]]["category_id"]] == "ship"
    assert boxes[seeded[0]]["iiif_region_url"] == (
        "https://images.example.org/iiif/3/page-1/50,100,150,200/max/0/default.jpg")
    assert boxes[seeded[1]]["bbox"] == [0, 0, 600, 400]
    assert boxes[seeded[2]]["bbox"] == [60, 40, 120, 80]
    assert boxes[seeded[2]]["iiif_region_url"].endswith("/60,40,120,80/full/0/default.jpg")
    assert boxes[seeded[0]]["score"] == 0.9
    assert categories[boxes[seeded[3]]["category_id"]] == "text"
    assert boxes[seeded[3]]["utf8_string"] == "The ship Mary"
    filtered = _export(client, manifest=KEY, format="coco", model="m2").get_json()
    assert [a["w3c_id"] for a in filtered["annotations"]] == [seeded[1]]


def test_errors_are_problems(client, registered):
    for params, status in (({"manifest": KEY, "format": "xml"}, 400), ({"format": "csv"}, 400),
                           ({"manifest": "https://nowhere.example/m"}, 404),
                           ({"manifest": KEY, "min_confidence": "x"}, 400),
                           ({"manifest": KEY, "review": "maybe"}, 400),
                           ({"manifest": "\x00"}, 400), ({"manifest": KEY, "model": "m\x00"}, 400)):
        response = client.get("/export", query_string=params)
        assert response.status_code == status, params
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.get_json()["detail"]


def test_exports_stream_in_keyset_batches(client, write_headers, registered, monkeypatch):
    for n in range(12):
        add(client, write_headers, label=f"label-{n}")
    monkeypatch.setattr(export_store, "BATCH", 5)
    monkeypatch.setattr(export_web, "CHUNK", 1)
    reads = []
    original = export_store._batch

    def counting(*args):
        reads.append(1)
        return original(*args)

    monkeypatch.setattr(export_store, "_batch", counting)
    for fmt in ("jsonl", "csv", "coco"):
        reads.clear()
        # The test client reads the first chunk of a streamed body before returning.
        response = client.get("/export", query_string={"manifest": KEY, "format": fmt},
                              buffered=False)
        assert response.is_streamed
        assert len(reads) <= 1  # at most one batch read so far
        body = b"".join(response.response)
        assert len(reads) == 3  # then the rest: 5 + 5 + 2 rows, three short reads in all
        assert body.count(b"label-") >= 12
        response.close()


def test_an_annotation_on_two_canvases_is_exported_once(client, write_headers, registered):
    document = on_book(label="bridge")
    other = copy.deepcopy(document["target"])
    other["source"]["id"] = PAGE_2
    document["target"] = [document["target"], other]
    made = create(client, write_headers, document).get_json()
    assert _ids(client, manifest=KEY) == [made["id"]]
    assert len(_export(client, manifest=KEY, format="coco").get_json()["annotations"]) == 1


def _decoded(url: str) -> np.ndarray:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, url
    return cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)


def test_a_jobs_results_export_and_search_end_to_end(client, write_headers, reference_server,
                                                      manifests, request):
    """A real job on the IIIF reference server; the manifest does not give the image's size."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)
    manifest_id = f"{manifests.url}/{name}/manifest.json"
    service = reference_server.info_url("3.0", "small").removesuffix("/info.json")  # 600×400
    url = manifests.publish(f"/{name}/manifest.json", manifest(
        manifest_id, [canvas(manifest_id, 1, 1200, 800, service)]))
    response = client.post("/manifests", json={"url": url, "models": ["tiny-detector"]},
                           headers=write_headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    job = wait_for(client, response.headers["Location"].removeprefix(BASE))
    assert job["state"] == "done", job
    key = response.get_json()["key"]

    [line] = _export(client, manifest=key).get_data(as_text=True).splitlines()
    stored = json.loads(line)
    # The detector's box is the middle of the 600×400 image: on the 1200×800 canvas, ×2.
    assert stored["target"]["selector"]["value"] == "xywh=300,200,600,400"
    dataset = _export(client, manifest=manifest_id, format="coco").get_json()
    [image] = dataset["images"]
    assert (image["width"], image["height"], image["iiif_url"]) == (1200, 800, service)
    [box] = dataset["annotations"]
    assert box["bbox"] == [300, 200, 600, 400] and box["w3c_id"] == stored["id"]
    assert box["iiif_region_url"] == f"{service}/pct:25,25,50,50/max/0/default.jpg"
    # The real image server gives the pixels the boxes are in, and the boxed region.
    assert _decoded(image["coco_url"]).shape == (800, 1200, 3)
    assert _decoded(box["iiif_region_url"]).shape == (200, 300, 3)

    label = stored["body"]["value"]
    found = client.get(f"/search/{key}", query_string={"q": label}).get_json()
    assert [item["id"] for item in found["items"]] == [stored["id"]]
