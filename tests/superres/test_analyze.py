"""``/analyze`` with a super-resolution model: an ``Image`` body served by ``/iiif/sr``.

On both stores (``persist`` keeps the annotation; a rerun is answered from the store).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annoserver.superres import encode_upstream
from annoserver.validation import annotation_errors
from tests.superres.conftest import upstream_id

CANVAS = {"id": "https://example.org/iiif/cat/canvas/1", "width": 902, "height": 600}


@pytest.fixture
def settings(settings):
    return {**settings, "ALLOWED_HOSTS": ["127.0.0.1"], "ONNX_THREADS": 1}


def test_superres_annotation_points_at_the_service(client, sr_upstream, write_headers):
    image = upstream_id(sr_upstream, "cat", "2.1")
    body = {"image": image, "region": "100,50,200,100", "models": ["espcn-x2"],
            "canvas": CANVAS, "persist": True}
    response = client.post("/analyze", json=body, headers=write_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_json()
    [annotation] = page["items"]
    service = f"http://annoserver.test/iiif/sr/espcn-x2/{encode_upstream(image)}"
    assert annotation["motivation"] == "supplementing"
    assert annotation["body"] == {
        "id": f"{service}/200,100,400,200/max/0/default.jpg", "type": "Image",
        "format": "image/jpeg",
        "service": [{"id": service, "type": "ImageService3", "profile": "level2"}]}
    creator = annotation["creator"]
    assert (creator["name"], creator["modelVersion"], creator["type"]) == (
        "espcn-x2", "1.0.0", "Software")
    assert creator["modelSha256"]
    # the canvas is twice the image: region 100,50,200,100 → canvas 200,100,400,200
    assert annotation["target"]["selector"]["value"] == "xywh=200,100,400,200"
    assert annotation["id"].startswith("http://annoserver.test/annotations/")
    assert annotation_errors({**annotation, "@context": page["@context"]}) == []
    # the body is dereferenceable: the enhanced region, 2 × the upstream region
    served = client.get(annotation["body"]["id"].removeprefix("http://annoserver.test"))
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    pixels = cv2.imdecode(np.frombuffer(served.data, np.uint8), cv2.IMREAD_COLOR)
    assert pixels.shape == (200, 400, 3)
    again = client.post("/analyze", json=body, headers=write_headers)
    assert again.headers["X-Annoserver-From-Store"] == "true"
    assert again.get_json()["items"][0]["id"] == annotation["id"]


def test_superres_is_not_a_batch_model(client, write_headers):
    response = client.post("/manifests", json={"url": "http://127.0.0.1:9/manifest.json",
                                                 "models": ["espcn-x2"]}, headers=write_headers)
    assert response.status_code == 400
    assert "espcn-x2" in response.get_json()["detail"]
