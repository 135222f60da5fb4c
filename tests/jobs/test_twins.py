"""The same canvas × model is analysed once, however many jobs ask for it.

Real parts: a slow IIIF image service counting its requests, the in-process executor, SQLite
and PostgreSQL.
"""

from __future__ import annotations

from tests.jobs.conftest import canvas, manifest, wait_for

DETECTOR, CLASSIFIER = "tiny-detector", "efficientnet-lite0"


def _register(client, headers, url, models):
    response = client.post("/manifests", json={"url": url, "models": models}, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.headers["Location"].removeprefix("http://annoserver.test")


def test_a_manifest_registered_twice_is_analysed_once(client, write_headers, manifest_server,
                                                      counting_server):
    manifest_id = f"{manifest_server.url}/twice/manifest.json"
    url = manifest_server.publish("/twice/manifest.json", manifest(manifest_id, [
        canvas(manifest_id, 1, 1200, 800, counting_server.service("p1"))]))
    first = _register(client, write_headers, url, [DETECTOR])
    second = _register(client, write_headers, url, [DETECTOR])  # while the first runs
    for job in (wait_for(client, first), wait_for(client, second)):
        assert (job["state"], job["done"], job["failed"]) == ("done", 1, 0), job["errors"]
    # Not 2: the second job's unit waited for its twin (the pool has a free thread), then
    # found its results stored.
    assert counting_server.images == 1
    listed = client.get("/annotations/", query_string={"manifest": manifest_id}).get_json()
    assert listed["total"] == 1

    # Later: only the new model's units fetch pixels; the detector's are answered as stored.
    job = wait_for(client, _register(client, write_headers, url, [DETECTOR, CLASSIFIER]))
    assert (job["state"], job["done"], job["total"]) == ("done", 2, 2), job["errors"]
    assert counting_server.images == 2
