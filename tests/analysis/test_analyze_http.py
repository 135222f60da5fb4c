"""POST/GET /analyze against the IIIF reference server process and real ONNX models."""

from __future__ import annotations

import numpy as np
import pytest

from annoserver.validation import annotation_errors
from tests.model_repos import write_test_models

CANVAS = {"id": "https://example.org/iiif/book/canvas/p1", "width": 3000, "height": 2000}
MANIFEST = "https://example.org/iiif/book/manifest"


@pytest.fixture
def models_dir(tmp_path):
    return write_test_models(tmp_path / "models")


@pytest.fixture
def settings(settings, models_dir):
    return {**settings, "MODELS_DIR": str(models_dir), "ALLOWED_HOSTS": ["127.0.0.1"]}


def _analyze(client, body, headers=None):
    return client.post("/analyze", json=body, headers=headers or {})


def test_classifier_tags_a_real_photo(client, reference_server):
    response = _analyze(client, {"image": reference_server.info_url("3.0", "cat"),
                                 "models": ["efficientnet-lite0"], "canvas": CANVAS,
                                 "manifest": MANIFEST})
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_json()
    assert page["type"] == "AnnotationPage"
    labels = [item["body"]["value"] for item in page["items"]]
    assert any("cat" in label for label in labels[:3]), labels
    first = page["items"][0]
    assert "selector" not in first["target"]  # whole image → whole canvas
    assert first["target"]["source"]["id"] == CANVAS["id"]
    assert first["target"]["source"]["partOf"][0]["id"] == MANIFEST
    assert first["creator"]["type"] == "Software"
    assert first["creator"]["modelVersion"] == "1.0.0"
    assert 0 < first["body"]["confidence"] <= 1
    for item in page["items"]:
        document = {**item, "@context": page["@context"]}
        assert annotation_errors(document) == []


def test_detector_boxes_land_in_canvas_coordinates(client, reference_server):
    # 6000×4000 image, region 1000,1000,2000,1000, canvas 3000×2000 (half the image):
    # the box is the middle half of the region → image 1500,1250,1000,500 → canvas /2.
    response = _analyze(client, {"image": reference_server.info_url("2.1", "page"),
                                 "region": "1000,1000,2000,1000", "models": ["tiny-detector"],
                                 "canvas": CANVAS})
    assert response.status_code == 200, response.get_data(as_text=True)
    [item] = response.get_json()["items"]
    assert item["target"]["selector"]["value"] == "xywh=750,625,500,250"
    assert item["body"]["confidence"] == pytest.approx(1 / (1 + np.exp(-5.0)), abs=1e-3)


def test_without_canvas_the_target_is_the_image(client, reference_server):
    info = reference_server.info_url("3.0", "page")
    response = _analyze(client, {"image": info, "region": "pct:50,50,10,10",
                                 "models": ["tiny-detector"]})
    [item] = response.get_json()["items"]
    assert item["target"]["source"]["type"] == "Image"
    assert item["target"]["source"]["id"] == info.removesuffix("/info.json")
    assert item["target"]["selector"]["value"] == "xywh=3150,2100,300,200"


def test_persist_stores_replaces_and_answers_from_store(client, reference_server,
                                                         write_headers):
    body = {"image": reference_server.info_url("3.0", "cat"), "canvas": CANVAS,
            "models": ["efficientnet-lite0"], "persist": True}
    assert _analyze(client, body).status_code == 401
    first = _analyze(client, body, write_headers)
    assert first.status_code == 200
    assert first.headers["X-Annoserver-From-Store"] == "false"
    ids = [item["id"] for item in first.get_json()["items"]]
    assert all(i.startswith("http://annoserver.test/annotations/") for i in ids)
    stored = client.get(f"/annotations/?canvas={CANVAS['id']}").get_json()
    assert stored["total"] == len(ids)
    again = _analyze(client, body, write_headers)
    assert again.headers["X-Annoserver-From-Store"] == "true"
    assert [item["id"] for item in again.get_json()["items"]] == ids
    unsaved = _analyze(client, {**body, "persist": False})
    assert [item["id"] for item in unsaved.get_json()["items"]] == ids
    model_view = client.get("/annotations/?model=efficientnet-lite0").get_json()
    assert model_view["total"] == len(ids)


def test_get_analyze_is_cacheable(client, reference_server):
    url = (f"/analyze?image={reference_server.info_url('3.0', 'cat')}"
           "&model=efficientnet-lite0")
    response = client.get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": response.headers["ETag"]}).status_code \
        == 304
    assert client.get("/analyze?image=x").status_code == 400


@pytest.mark.parametrize(("body", "status"), [
    ({"models": ["tiny-detector"]}, 400),
    ({"image": "{info}", "models": []}, 400),
    ({"image": "{info}", "models": ["no-such-model"]}, 404),
    ({"image": "{info}", "models": ["tiny-detector"], "region": "0,0,0,0"}, 400),
    ({"image": "{info}", "models": ["tiny-detector"], "region": "7000,0,10,10"}, 400),
    ({"image": "{info}", "models": ["tiny-detector"], "region": "a,b,c,d"}, 400),
    ({"image": "{info}", "models": ["tiny-detector"], "extra": 1}, 400),
])
def test_bad_requests_are_problems(client, reference_server, body, status):
    info = reference_server.info_url("3.0", "page")
    body = {key: (value.format(info=info) if isinstance(value, str) else value)
            for key, value in body.items()}
    response = _analyze(client, body)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["detail"]


def test_upstream_failures_map_to_gateway_errors(client, fault_server):
    refused = _analyze(client, {"image": "http://127.0.0.1:1/iiif/x/info.json",
                                "models": ["tiny-detector"]})
    assert refused.status_code == 502
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_forbidden_host_is_refused(app, client, reference_server):
    app.extensions["annoserver.iiif"].close()
    from annoserver.iiif import make_session

    app.extensions["annoserver.iiif"] = make_session()  # loopback not allow-listed
    response = _analyze(client, {"image": reference_server.info_url("3.0", "cat"),
                                 "models": ["tiny-detector"]})
    assert response.status_code == 403


@pytest.fixture
def svc(fault_server):
    """A fake v3 service on the fault server whose image is ``payload``; returns info.json."""
    def register(name, payload, size=(640, 480)):
        fault_server.payloads[name] = (payload, size)
        return f"{fault_server.url}/svc/{name}/info.json"
    return register


def test_bomb_and_corrupt_images_are_413_and_422(client, svc):
    from tests.iiif.test_decode import encode, png_claiming

    bomb = _analyze(client, {"image": svc("bomb", png_claiming(100_000, 100_000)),
                             "models": ["tiny-detector"]})
    assert bomb.status_code == 413, bomb.get_data(as_text=True)
    truncated = encode(np.zeros((480, 640, 3), np.uint8), ".jpg")[:2000]
    corrupt = _analyze(client, {"image": svc("cut", truncated), "models": ["tiny-detector"]})
    assert corrupt.status_code == 422
    assert corrupt.headers["Content-Type"] == "application/problem+json"


def test_image_authorization_goes_to_the_image_host_only(client, svc, fault_server):
    from tests.iiif.test_decode import encode

    info = svc("restricted", encode(np.zeros((48, 64, 3), np.uint8), ".png"), (64, 48))
    response = _analyze(client, {"image": info, "models": ["tiny-detector"]},
                        {"IIIF-Authorization": "Bearer for-the-image"})
    assert response.status_code == 200
    sent = [h.get("Authorization") for h in fault_server.seen_headers]
    assert sent == ["Bearer for-the-image"] * 2


@pytest.mark.parametrize("version", [2, 3])
def test_level0_tile_sets_are_assembled(client, static_server, version):
    response = _analyze(client, {"image": static_server.info_url(version, "tiled"),
                                 "region": "100,100,600,400", "models": ["tiny-detector"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    [item] = response.get_json()["items"]
    # Tiles at a scale factor > 1 cover the region up to rounding on their pixel grid; the box
    # is the middle of what the model saw, so it may move by a few pixels.
    box = [int(n) for n in item["target"]["selector"]["value"].removeprefix("xywh=").split(",")]
    assert box == pytest.approx([250, 200, 300, 200], abs=8)


@pytest.fixture
def impatient(settings):
    return {**settings, "FETCH_READ_TIMEOUT": 0.5, "FETCH_DEADLINE": 2.0}


def test_a_stalled_upstream_is_a_504(impatient, fault_server):
    from annoserver.app import create_app

    app = create_app(impatient)
    response = app.test_client().post("/analyze", json={
        "image": f"{fault_server.url}/slow-headers/info.json", "models": ["tiny-detector"]})
    assert response.status_code == 504, response.get_data(as_text=True)
    app.extensions["annoserver.db"].dispose()

