"""GET /similar: stored embeddings of the shipped EfficientNet-Lite0, searched by cosine.

Real parts: the IIIF reference image server process serving the demo photographs and
near-duplicates of them made here (crop + rescale, tint, JPEG re-encoding), the shipped model,
SQLite and PostgreSQL, the in-process job executor.
"""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import requests
from sqlalchemy import func, select

from annoserver.app import create_app
from annoserver.similarity import VectorIndex
from annoserver.store.embeddings import EmbeddingRef, VectorSet, normalized
from annoserver.store.tables import EmbeddingRow
from tests.iiif.fixtures import DEMO_IMAGES
from tests.iiif.servers import ReferenceServer
from tests.jobs.conftest import ManifestServer, canvas, manifest, wait_for
from tests.model_repos import write_test_models

ORIGINALS = ("astronaut", "chelsea", "coffee", "page", "rocket", "stamped")
BOOK = "https://example.org/iiif/book/manifest"
OTHER = "https://example.org/iiif/other/manifest"
MODEL = "efficientnet-lite0"


def near_duplicate(image: np.ndarray, seed: int) -> np.ndarray:
    """A crop of 85 % rescaled by 0.7, warmer in tone: what a catalogue's copy may look like."""
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    y, x = rng.integers(0, height // 10), rng.integers(0, width // 10)
    crop = image[y:y + int(height * 0.85), x:x + int(width * 0.85)]
    crop = cv2.resize(crop, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    tint = np.array([0.9, 1.0, 1.1], np.float32)  # BGR: warmer
    return np.clip(crop.astype(np.float32) * tint, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("similar-images")
    for seed, name in enumerate(ORIGINALS):
        shutil.copy(DEMO_IMAGES / f"{name}.jpg", folder / f"{name}.jpg")
        copy = near_duplicate(cv2.imread(str(DEMO_IMAGES / f"{name}.jpg")), seed)
        assert cv2.imwrite(str(folder / f"{name}-copy.jpg"), copy,
                           [cv2.IMWRITE_JPEG_QUALITY, 60])
    with ReferenceServer(folder, tmp_path_factory.mktemp("similar-iiif")) as server:
        yield server


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return write_test_models(tmp_path_factory.mktemp("similar-models"))


@pytest.fixture
def settings(settings, models_dir):
    return {**settings, "MODELS_DIR": str(models_dir), "ALLOWED_HOSTS": ["127.0.0.1"],
            "JOB_POLL_INTERVAL": 0.05}


@pytest.fixture
def app(app):
    yield app
    app.extensions["annoserver.executor"].stop()


def canvas_id(name: str) -> str:
    return f"https://example.org/iiif/canvas/{name}"


def store(client, headers, server, name, manifest_id=BOOK, models=(MODEL,), **extra):
    body = {"image": server.info_url("3.0", name), "models": list(models), "persist": True,
            "canvas": canvas_id(name), "manifest": manifest_id, **extra}
    response = client.post("/analyze", json=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def stored_rows(app) -> int:
    with app.extensions["annoserver.db"].connect() as connection:
        return connection.scalar(select(func.count()).select_from(EmbeddingRow))


@pytest.fixture
def collection(app, client, write_headers, photo_server):
    """The six originals stored: four in BOOK, two in OTHER."""
    for name in ORIGINALS:
        store(client, write_headers, photo_server, name,
              OTHER if name in ("rocket", "stamped") else BOOK)
    return photo_server


def test_a_near_duplicate_finds_its_original_first(client, collection):
    for name in ORIGINALS:
        response = client.get("/similar", query_string={
            "image": collection.info_url("3.0", f"{name}-copy"), "k": 3})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.content_type == "application/json"
        result = response.get_json()
        items = result["items"]
        assert items[0]["canvas"] == canvas_id(name), (name, items)
        scores = [item["score"] for item in items]
        assert scores == sorted(scores, reverse=True) and len(items) == 3
        assert scores[0] > scores[1]
        assert result["model"] == {"id": MODEL, "version": "1.0.0"}
        assert result["searched"] == len(ORIGINALS)


def test_a_canvas_query_leaves_itself_out_and_scopes(client, collection):
    response = client.get("/similar", query_string={"canvas": canvas_id("chelsea")})
    items = response.get_json()["items"]
    assert [i["canvas"] for i in items] != [] and canvas_id("chelsea") not in \
        [i["canvas"] for i in items]
    assert len(items) == len(ORIGINALS) - 1
    first = items[0]
    # a size this (level-1) service answers, about 200 px on the longer side
    assert first["thumbnail"].startswith(f"{first['image']}/full/")
    thumbnail = requests.get(first["thumbnail"], timeout=10)
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    assert max(cv2.imdecode(np.frombuffer(thumbnail.content, np.uint8), 1).shape[:2]) <= 200
    assert first["image"].startswith("http://127.0.0.1:")
    # scope=manifest: the query canvas's manifest (BOOK) only
    scoped = client.get("/similar", query_string={"canvas": canvas_id("chelsea"),
                                                  "scope": "manifest"}).get_json()
    assert scoped["manifest"] == BOOK
    assert {i["manifest"] for i in scoped["items"]} == {BOOK}
    assert len(scoped["items"]) == 3
    other = client.get("/similar", query_string={"canvas": canvas_id("chelsea"),
                                                 "scope": "manifest", "manifest": OTHER,
                                                 "k": 1}).get_json()
    assert [i["canvas"] for i in other["items"]] in ([canvas_id("rocket")],
                                                     [canvas_id("stamped")])


def test_storing_again_replaces_and_new_vectors_show_at_once(app, client, write_headers,
                                                             collection):
    assert stored_rows(app) == len(ORIGINALS)
    before = client.get("/similar", query_string={"canvas": canvas_id("coffee")}).get_json()
    store(client, write_headers, collection, "coffee")  # answered from the store: no change
    assert stored_rows(app) == len(ORIGINALS)
    store(client, write_headers, collection, "coffee-copy")
    assert stored_rows(app) == len(ORIGINALS) + 1
    after = client.get("/similar", query_string={"canvas": canvas_id("coffee")}).get_json()
    assert after["searched"] == before["searched"] + 1
    assert after["items"][0]["canvas"] == canvas_id("coffee-copy")


def test_storing_the_labels_and_the_vector_runs_the_backbone_once(app, client, write_headers,
                                                                  photo_server):
    shared = app.extensions["annoserver.runtime"].get(MODEL).shared
    computed, reused = shared.computed, shared.reused
    response = store(client, write_headers, photo_server, "coffee")
    assert response.get_json()["items"]  # the labels, from the run that gave the vector
    assert stored_rows(app) == 1
    assert (shared.computed - computed, shared.reused - reused) == (1, 1)


def test_a_region_vector_is_kept_apart_from_the_canvas_vector(app, client, write_headers,
                                                              collection):
    store(client, write_headers, collection, "page", region="0,0,500,700")
    assert stored_rows(app) == len(ORIGINALS) + 1
    result = client.get("/similar", query_string={"canvas": canvas_id("page"),
                                                  "region": "0,0,500,700"}).get_json()
    assert result["query"] == {"canvas": canvas_id("page"), "region": "0,0,500,700"}
    # the whole page is still there; only the region's own vector is left out
    assert canvas_id("page") in [item["canvas"] for item in result["items"]]
    assert all(item["region"] == "full" for item in result["items"])


def test_without_persist_nothing_is_stored(app, client, photo_server):
    response = client.post("/analyze", json={"image": photo_server.info_url("3.0", "coffee"),
                                             "models": [MODEL], "canvas": canvas_id("coffee")})
    assert response.status_code == 200
    assert stored_rows(app) == 0


@pytest.mark.parametrize("query, status, words", [
    ({}, 400, "either 'canvas'"),
    ({"canvas": "x", "image": "y"}, 400, "either 'canvas'"),
    ({"canvas": canvas_id("nowhere")}, 404, "No embedding"),
    ({"canvas": canvas_id("chelsea"), "scope": "everything"}, 400, "'scope'"),
    ({"canvas": canvas_id("chelsea"), "k": "0"}, 400, "'k'"),
    ({"canvas": canvas_id("chelsea"), "k": "many"}, 400, "'k'"),
    ({"canvas": canvas_id("chelsea"), "model": "tiny-detector"}, 400, "no embeddings"),
    ({"canvas": canvas_id("chelsea"), "model": "nope"}, 404, "nope"),
])
def test_bad_queries_get_problems(client, collection, query, status, words):
    response = client.get("/similar", query_string=query)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert words in response.get_json()["detail"]


def test_an_image_query_without_a_manifest_cannot_be_scoped(client, collection):
    response = client.get("/similar", query_string={
        "image": collection.info_url("3.0", "rocket-copy"), "scope": "manifest"})
    assert response.status_code == 400
    assert "scope=manifest" in response.get_json()["detail"]


def test_an_image_query_is_refused_for_hosts_not_allowed(settings, photo_server):
    guarded = create_app({**settings, "ALLOWED_HOSTS": []})  # loopback is private: refused
    try:
        response = guarded.test_client().get("/similar", query_string={
            "image": photo_server.info_url("3.0", "rocket")})
    finally:
        guarded.extensions["annoserver.db"].dispose()
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert "127.0.0.1" in response.get_json()["detail"]


def test_a_job_stores_one_vector_per_canvas(app, client, write_headers, photo_server):
    with ManifestServer() as manifests:
        manifest_id = f"{manifests.url}/similar/manifest.json"
        canvases = [canvas(manifest_id, n, 600, 400,
                           photo_server.info_url("3.0", name).removesuffix("/info.json"))
                    for n, name in enumerate(ORIGINALS)]
        url = manifests.publish("/similar/manifest.json", manifest(manifest_id, canvases))
        response = client.post("/manifests", json={"url": url, "models": [MODEL]},
                               headers=write_headers)
        assert response.status_code == 202, response.get_data(as_text=True)
        job = wait_for(client, response.headers["Location"].removeprefix(
            "http://annoserver.test"), timeout=120)
    assert job["state"] == "done", job
    assert stored_rows(app) == len(ORIGINALS)
    result = client.get("/similar", query_string={"canvas": canvases[1]["id"],
                                                  "scope": "manifest"}).get_json()
    assert result["manifest"] == manifest_id
    assert len(result["items"]) == len(ORIGINALS) - 1


def test_detected_regions_are_embedded_when_asked(app, client, write_headers, collection):
    """``embed_regions``: each box a detector finds gets its own vector, so a detail is found."""
    before = stored_rows(app)
    response = store(client, write_headers, collection, "chelsea", models=["tiny-detector"],
                     embed_regions=MODEL)
    [annotation] = response.get_json()["items"]
    box = annotation["target"]["selector"]["value"].removeprefix("xywh=")  # canvas = image
    assert stored_rows(app) == before + 1
    detail = client.get("/similar", query_string={"canvas": canvas_id("chelsea"),
                                                  "region": box, "k": 20}).get_json()
    assert detail["query"] == {"canvas": canvas_id("chelsea"), "region": box}
    # its own canvas's whole picture is the closest other vector: the box is the cat
    assert (detail["items"][0]["canvas"], detail["items"][0]["region"]) == (
        canvas_id("chelsea"), "full")
    store(client, write_headers, collection, "chelsea", models=["tiny-detector"],
          embed_regions=MODEL)  # answered from the store: nothing added
    assert stored_rows(app) == before + 1


@pytest.mark.parametrize("extra, status, words", [
    ({"embed_regions": MODEL, "persist": False}, 400, "needs 'persist'"),
    ({"embed_regions": "tiny-detector"}, 400, "gives no embeddings"),
    ({"embed_regions": "nope"}, 404, "nope"),
])
def test_region_embedding_needs_persist_and_an_embedding_model(client, write_headers,
                                                                photo_server, extra, status,
                                                                words):
    body = {"image": photo_server.info_url("3.0", "coffee"), "models": ["tiny-detector"],
            "persist": True, "canvas": canvas_id("coffee"), **extra}
    response = client.post("/analyze", json=body, headers=write_headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert words in response.get_json()["detail"]


def test_a_job_can_embed_what_its_detector_finds(app, client, write_headers, photo_server):
    with ManifestServer() as manifests:
        manifest_id = f"{manifests.url}/regions/manifest.json"
        canvases = [canvas(manifest_id, n, 600, 400,
                           photo_server.info_url("3.0", name).removesuffix("/info.json"))
                    for n, name in enumerate(ORIGINALS[:3])]
        url = manifests.publish("/regions/manifest.json", manifest(manifest_id, canvases))
        refused = client.post("/manifests", headers=write_headers, json={
            "url": url, "models": ["tiny-detector"], "options": {"embed_regions": "nope"}})
        assert refused.status_code == 404, refused.get_data(as_text=True)
        response = client.post("/manifests", headers=write_headers, json={
            "url": url, "models": ["tiny-detector"], "options": {"embed_regions": MODEL}})
        assert response.status_code == 202, response.get_data(as_text=True)
        job = wait_for(client, response.headers["Location"].removeprefix(
            "http://annoserver.test"), timeout=120)
    assert job["state"] == "done", job
    assert stored_rows(app) == 3  # one detected box per canvas, no whole-canvas vector
    result = client.get("/similar", query_string={"canvas": canvases[0]["id"], "k": 5,
                                                  "region": "full"})
    assert result.status_code == 404  # no vector of the whole canvas was asked for


def test_the_index_agrees_with_a_full_sort():
    rng = np.random.default_rng(0)
    matrix = normalized(rng.normal(size=(2000, 64)))
    refs = [EmbeddingRef(f"c{i}", "m" if i % 2 else None, "img") for i in range(len(matrix))]
    index = VectorIndex(VectorSet(refs, matrix, (len(refs), len(refs))))
    for query in rng.normal(size=(20, 64)):
        scores = matrix @ normalized(query)
        expected = [f"c{i}" for i in np.argsort(-scores)[:10]]
        assert [n.ref.canvas for n in index.search(query, 10)] == expected
        odd = [f"c{i}" for i in np.argsort(-scores) if i % 2][:10]
        assert [n.ref.canvas for n in index.search(query, 10, lambda r: r.manifest == "m")] \
            == odd


def test_the_index_rejects_a_query_of_another_size():
    vectors = VectorSet([EmbeddingRef("c", None, "i")], normalized(np.ones((1, 8))), (1, 1))
    with pytest.raises(ValueError, match="8"):
        VectorIndex(vectors).search(np.ones(4), 1)


def test_thumbnails_are_urls_the_service_answers():
    from annoserver.iiif import ImageService, thumbnail_url

    level2 = ImageService("https://x.org/i", 3, 4000, 3000, level=2)
    assert thumbnail_url(level2, "10,20,300,400") == "https://x.org/i/10,20,300,400/!200,200/0/default.jpg"
    level1 = ImageService("https://x.org/i", 3, 4000, 3000, level=1)
    assert thumbnail_url(level1) == "https://x.org/i/full/200,/0/default.jpg"
    assert thumbnail_url(level1, "0,0,100,400") == "https://x.org/i/0,0,100,400/50,/0/default.jpg"
    listed = ImageService("https://x.org/i", 3, 4000, 3000, level=0,
                          sizes=((100, 75), (250, 188), (1000, 750)))
    assert thumbnail_url(listed) == "https://x.org/i/full/250,188/0/default.jpg"
    assert thumbnail_url(listed, "0,0,10,10") is None  # no single level-0 request gives it
    v2 = ImageService("https://x.org/i", 2, 400, 300, level=0, sizes=((100, 75),))
    assert thumbnail_url(v2) == "https://x.org/i/full/100,/0/default.jpg"
    bare = ImageService("https://x.org/i", 3, 400, 300, level=0)
    assert thumbnail_url(bare) == "https://x.org/i/full/max/0/default.jpg"


def test_level0_thumbnails_come_from_listed_sizes(app, client, write_headers, static_server):
    """A level-0 tile set: the thumbnail is one of its sizes, and it answers 200."""
    for version in (2, 3):
        info = static_server.info_url(version, "tiled")
        response = client.post("/analyze", headers=write_headers, json={
            "image": info, "models": [MODEL], "persist": True,
            "canvas": canvas_id(f"tiled-v{version}")})
        assert response.status_code == 200, response.get_data(as_text=True)
    items = client.get("/similar", query_string={"canvas": canvas_id("tiled-v2")}).get_json()[
        "items"]
    [other] = items
    assert "!200,200" not in other["thumbnail"] and "/full/" in other["thumbnail"]
    assert requests.get(other["thumbnail"], timeout=10).status_code == 200
