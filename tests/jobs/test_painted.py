"""Painted sub-regions: only the painted pixels are analysed, results land where they are painted.

Real parts: the IIIF reference image server process (``small``, 600×400), manifests served
over HTTP, the tiny detector (its one box is the middle of whatever it is given), SQLite and
PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.jobs.conftest import canvas, manifest, wait_for

DETECTOR = "tiny-detector"


def _painted(manifest_id: str, n: int, width: int, height: int, service: str, *,
             target: str = "", region: str = "", rotation: str = "0") -> dict:
    """A canvas painting ``service`` into ``#xywh=target`` and/or only its ``region``."""
    painted = canvas(manifest_id, n, width, height, service)
    annotation = painted["items"][0]["items"][0]
    if target:
        annotation["target"] = f"{painted['id']}#xywh={target}"
    if region or rotation != "0":
        annotation["body"] = {"type": "SpecificResource", "source": annotation["body"],
                              "selector": {"type": "ImageApiSelector",
                                           "region": region or "full", "rotation": rotation}}
    return painted


def _boxes(client, manifest_id: str) -> dict[str, list[str]]:
    items = client.get("/annotations/", query_string={
        "manifest": manifest_id, "model": DETECTOR}).get_json()["first"]["items"]
    boxes: dict[str, list[str]] = {}
    for item in items:
        canvas_id = item["target"]["source"]["id"]
        boxes.setdefault(canvas_id.rsplit("/", 1)[1], []).append(
            item["target"]["selector"]["value"])
    return boxes


@pytest.fixture
def small(reference_server) -> str:
    return reference_server.info_url("3.0", "small").removesuffix("/info.json")  # 600×400


def test_boxes_land_where_the_image_is_painted(client, write_headers, manifest_server, small):
    manifest_id = f"{manifest_server.url}/painted/manifest.json"
    url = manifest_server.publish("/painted/manifest.json", manifest(manifest_id, [
        # the whole image, scaled ×0.5 into a box of a larger canvas
        _painted(manifest_id, 1, 2000, 1600, small, target="200,300,300,200"),
        # only the right half of the image (300×400), scaled ×2 onto the whole canvas
        _painted(manifest_id, 2, 600, 800, small, region="300,0,300,400"),
        # both: the image's bottom half (600×200) into a box, ×0.5
        _painted(manifest_id, 3, 1000, 1000, small, target="100,100,300,100",
                 region="0,200,600,200"),
        # the plain case stays as it was: the image ×2 on the whole canvas
        canvas(manifest_id, 4, 1200, 800, small),
    ]))
    response = client.post("/manifests", json={"url": url, "models": [DETECTOR]},
                           headers=write_headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    job = wait_for(client, response.headers["Location"].removeprefix("http://annoserver.test"))
    assert (job["state"], job["done"], job["failed"]) == ("done", 4, 0), job["errors"]
    # The detector's box is the middle half of what it saw, so of what was painted.
    assert _boxes(client, manifest_id) == {
        "1": ["xywh=275,350,150,100"],
        "2": ["xywh=150,200,300,400"],
        "3": ["xywh=175,125,150,50"],
        "4": ["xywh=300,200,600,400"],
    }


def test_a_rotated_painting_is_a_clear_unit_error(client, write_headers, manifest_server,
                                                  small):
    manifest_id = f"{manifest_server.url}/rotated/manifest.json"
    url = manifest_server.publish("/rotated/manifest.json", manifest(manifest_id, [
        _painted(manifest_id, 1, 400, 600, small, rotation="90")]))
    response = client.post("/manifests", json={"url": url, "models": [DETECTOR]},
                           headers=write_headers)
    job = wait_for(client, response.headers["Location"].removeprefix("http://annoserver.test"))
    assert (job["state"], job["failed"]) == ("failed", 1)
    assert job["errors"][0]["status"] == 422 and "rotated" in job["errors"][0]["detail"]
