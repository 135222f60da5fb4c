"""The demo collection: a valid v3 manifest and level-0 image services."""

from __future__ import annotations

import cv2
import numpy as np


def test_demo_manifest_and_images(client):
    manifest = client.get("/demo/manifest.json").get_json()
    assert manifest["type"] == "Manifest" and len(manifest["items"]) == 5
    canvas = manifest["items"][0]
    body = canvas["items"][0]["items"][0]["body"]
    service = body["service"][0]["id"].removeprefix("http://annoserver.test")
    info = client.get(service + "/info.json").get_json()
    assert info["profile"] == "level0" and info["width"] == canvas["width"]
    smallest = info["sizes"][0]
    with client.get(f"{service}/full/{smallest['width']},{smallest['height']}/0/default.jpg") \
            as response:
        decoded = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (smallest["height"], smallest["width"])
    assert client.get(f"{service}/full/17,17/0/default.jpg").status_code == 400
    assert client.get("/demo/iiif/nothing/info.json").status_code == 404


def test_demo_manifest_is_valid_presentation_3(client):
    import json
    from pathlib import Path

    from jsonschema import Draft7Validator

    schema = json.loads((Path(__file__).parent / "fixtures" / "iiif" / "iiif_3_0.json")
                        .read_text())
    manifest = client.get("/demo/manifest.json").get_json()
    errors = [error.message for error in Draft7Validator(schema).iter_errors(manifest)]
    assert errors == []
