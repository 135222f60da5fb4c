"""Batch jobs end to end: POST /manifests → the in-process executor → enriched manifest → pages.

Real parts: the IIIF reference image server process, a manifest served over HTTP, the shipped
classifier and a tiny generated detector, SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from annoserver.app import create_app
from annoserver.store.tables import JobUnitRow
from tests.jobs.conftest import canvas, manifest, wait_for
from tests.presentation.conftest import V3_SCHEMA, schema_errors

DETECTOR, CLASSIFIER = "tiny-detector", "efficientnet-lite0"


def _name(request):
    """The test's name as a URL path segment."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)


@pytest.fixture
def book(manifest_server, reference_server, request):
    """A v3 manifest of three canvases whose sizes differ from their images' sizes."""
    manifest_id = f"{manifest_server.url}/{_name(request)}/manifest.json"
    service = reference_server.info_url("3.0", "small").removesuffix("/info.json")  # 600×400
    cat = reference_server.info_url("3.0", "cat").removesuffix("/info.json")  # 451×300
    v2 = reference_server.info_url("2.1", "small").removesuffix("/info.json")
    document = manifest(manifest_id, [
        canvas(manifest_id, 1, 1200, 800, service),        # image ×2 on the canvas
        canvas(manifest_id, 2, 902, 600, cat),
        canvas(manifest_id, 3, 300, 200, v2, "ImageService2"),  # image ×0.5
    ])
    return manifest_server.publish(f"/{_name(request)}/manifest.json", document), document


def _register(client, headers, url, models, **options):
    body = {"url": url, "models": models, **({"options": options} if options else {})}
    return client.post("/manifests", json=body, headers=headers)


def _count(client, manifest_id):
    return client.get("/annotations/", query_string={"manifest": manifest_id}).get_json()["total"]


def _job_path(response):
    return response.headers["Location"].removeprefix("http://annoserver.test")


def test_a_manifest_is_enriched_end_to_end(client, write_headers, book):
    url, source = book
    response = _register(client, write_headers, url, [DETECTOR, CLASSIFIER])
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    assert body["job"] == response.headers["Location"]
    assert body["manifest"] == f"http://annoserver.test/manifests/{body['key']}"
    job = wait_for(client, _job_path(response))
    assert job["state"] == "done", job
    assert (job["total"], job["done"], job["failed"], job["errors"]) == (6, 6, 0, [])
    assert job["rate"] > 0 and job["eta"] == 0

    enriched = client.get(f"/manifests/{body['key']}")
    assert enriched.status_code == 200
    assert "presentation/3" in enriched.headers["Content-Type"]
    document = enriched.get_json()
    assert schema_errors(V3_SCHEMA, document) == []
    assert document["id"] == body["manifest"]
    pages = {}
    for item in document["items"]:
        refs = item["annotations"]
        assert [ref["label"]["en"][0] for ref in refs] == [
            "tiny-detector 0.1.0 annotations", "efficientnet-lite0 1.0.0 annotations"]
        assert refs[0]["partOf"][0]["type"] == "AnnotationCollection"
        pages[item["id"]] = [ref["id"].removeprefix("http://annoserver.test") for ref in refs]

    expected = {1: "xywh=300,200,600,400", 2: None, 3: "xywh=75,50,150,100"}
    for n, canvas_id in enumerate([c["id"] for c in source["items"]], 1):
        detector_page, classifier_page = pages[canvas_id]
        page = client.get(detector_page)
        assert page.status_code == 200 and page.headers["ETag"]
        page = page.get_json()
        assert page["type"] == "AnnotationPage"
        assert page["@context"][-1] == "http://iiif.io/api/presentation/3/context.json"
        [annotation] = page["items"]
        assert annotation["target"]["source"]["id"] == canvas_id
        assert annotation["target"]["source"]["partOf"][0]["id"] == source["id"]
        assert annotation["creator"]["name"] == DETECTOR
        assert annotation["id"].startswith("http://annoserver.test/annotations/")
        if expected[n]:
            assert annotation["target"]["selector"]["value"] == expected[n]
        labels = client.get(classifier_page).get_json()["items"]
        assert labels and all(a["creator"]["name"] == CLASSIFIER for a in labels)
    cat_labels = client.get(pages[source["items"][1]["id"]][1]).get_json()["items"]
    assert any("cat" in a["body"]["value"] for a in cat_labels[:3])


def test_pages_are_conditional_filterable_and_v2(client, write_headers, book):
    url, source = book
    response = _register(client, write_headers, url, [CLASSIFIER])
    assert wait_for(client, _job_path(response))["state"] == "done"
    key = response.get_json()["key"]
    first = client.get(f"/manifests/{key}").get_json()["items"][0]["annotations"][0]["id"]
    path = first.removeprefix("http://annoserver.test")
    page = client.get(path)
    assert client.get(path, headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    everything = page.get_json()["items"]
    threshold = sorted(a["body"]["confidence"] for a in everything)[-1]
    confident = client.get(path, query_string={"min_confidence": threshold}).get_json()["items"]
    assert 0 < len(confident) < len(everything)
    assert all(a["body"]["confidence"] >= threshold for a in confident)
    assert client.get(path, query_string={"min_confidence": "x"}).status_code == 400

    v2 = client.get(f"/manifests/{key}", query_string={"version": 2}).get_json()
    assert v2["@context"] == "http://iiif.io/api/presentation/2/context.json"
    other = v2["sequences"][0]["canvases"][0]["otherContent"]
    [listed] = [o for o in other if o["@type"] == "sc:AnnotationList"]
    assert listed["@id"].endswith("?version=2")
    annotation_list = client.get(listed["@id"].removeprefix("http://annoserver.test"))
    assert annotation_list.get_json()["@type"] == "sc:AnnotationList"
    assert len(annotation_list.get_json()["resources"]) == len(everything)


def test_rerunning_a_job_duplicates_nothing(client, write_headers, book):
    url, source = book
    first = _register(client, write_headers, url, [DETECTOR, CLASSIFIER])
    assert wait_for(client, _job_path(first))["state"] == "done"
    count = _count(client, source["id"])
    assert count > 6
    again = _register(client, write_headers, url, [DETECTOR, CLASSIFIER])
    assert again.get_json()["key"] == first.get_json()["key"]
    assert again.headers["Location"] != first.headers["Location"]
    job = wait_for(client, _job_path(again))
    assert (job["state"], job["done"]) == ("done", 6)
    assert _count(client, source["id"]) == count
    enriched = client.get(f"/manifests/{first.get_json()['key']}").get_json()
    assert all(len(item["annotations"]) == 2 for item in enriched["items"])


def test_our_own_enriched_manifest_url_stands_for_its_source(client, write_headers, book,
                                                            reference_server):
    """Viewers only know /manifests/{key}: enriching or analysing with it must not wrap it."""
    url, source = book
    first = _register(client, write_headers, url, [CLASSIFIER])
    assert wait_for(client, _job_path(first))["state"] == "done"
    enriched_url = first.get_json()["manifest"]
    again = _register(client, write_headers, enriched_url, [DETECTOR])
    assert again.status_code == 202
    assert again.get_json()["key"] == first.get_json()["key"]
    assert wait_for(client, _job_path(again))["state"] == "done"

    canvas_id = source["items"][0]["id"]
    service = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    analysed = client.post("/analyze", headers=write_headers, json={
        "image": service, "region": "0,0,300,200", "models": [CLASSIFIER], "persist": True,
        "canvas": {"id": canvas_id, "width": 1200, "height": 800},
        "manifest": enriched_url + "?version=2"})
    assert analysed.status_code == 200, analysed.get_data(as_text=True)
    [annotation, *_] = analysed.get_json()["items"]
    assert annotation["target"]["source"]["partOf"][0]["id"] == source["id"]


def test_failing_canvases_are_retried_then_recorded(client, write_headers, manifest_server,
                                                    reference_server, fault_server, request):
    manifest_id = f"{manifest_server.url}/{_name(request)}/m.json"
    good = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    broken = f"{fault_server.url}/notjson/{_name(request)}"  # info.json is not JSON
    url = manifest_server.publish(f"/{_name(request)}/m.json", manifest(manifest_id, [
        canvas(manifest_id, 1, 600, 400, broken), canvas(manifest_id, 2, 600, 400, None),
        canvas(manifest_id, 3, 1200, 800, good)]))
    response = _register(client, write_headers, url, [DETECTOR], attempts=3)
    job = wait_for(client, _job_path(response))
    assert (job["state"], job["total"], job["done"], job["failed"]) == ("done", 3, 1, 2), job
    errors = {error["canvas"]: error for error in job["errors"]}
    assert errors[f"{manifest_id}/canvas/1"]["attempts"] == 3
    assert errors[f"{manifest_id}/canvas/1"]["status"] == 502
    assert "did not answer JSON" in errors[f"{manifest_id}/canvas/1"]["detail"]
    assert fault_server.hits[f"/notjson/{_name(request)}/info.json"] == 3
    no_service = errors[f"{manifest_id}/canvas/2"]
    assert (no_service["attempts"], no_service["status"]) == (1, 422)
    assert "no image with a IIIF Image API service" in no_service["detail"]
    assert _count(client, manifest_id) == 1


def _queued_job(idle, book):
    """An app with no executor, a write token, and a job registered for ``book``."""
    app = create_app(idle)
    client = app.test_client()
    headers = {"Authorization": "Bearer " + app.extensions["annoserver.tokens"].create(
        "write")[1]}
    return app, client, headers, _job_path(_register(client, headers, book[0], [DETECTOR]))


@pytest.fixture
def idle(settings):
    """No executor in the app: jobs stay queued until something runs them."""
    return {**settings, "JOB_THREADS": 0}


def test_cancel(idle, book):
    app, client, headers, path = _queued_job(idle, book)
    source = book[1]
    assert client.get(path).get_json()["state"] == "queued"
    assert client.delete(path).status_code == 401
    cancelled = client.delete(path, headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["state"] == "cancelled"
    assert client.delete(path, headers=headers).get_json()["state"] == "cancelled"
    runner = create_app({**idle, "JOB_THREADS": 2, "AUTO_MIGRATE": False})
    runner.extensions["annoserver.executor"].start()
    try:
        assert runner.extensions["annoserver.jobs"].repository.claim_next("t", 2) is None
    finally:
        runner.extensions["annoserver.executor"].stop()
    job = client.get(path).get_json()
    assert (job["state"], job["done"], job["eta"]) == ("cancelled", 0, 0)
    assert _count(client, source["id"]) == 0
    for each in (app, runner):
        each.extensions["annoserver.db"].dispose()


def test_a_job_left_running_by_a_killed_process_resumes(idle, book):
    app, client, headers, path = _queued_job(idle, book)
    source = book[1]
    engine = app.extensions["annoserver.db"]
    # What a process killed mid-job leaves: units running under its claims, silent since.
    silent_since = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as connection:
        connection.execute(update(JobUnitRow).values(
            state="running", claim="dead-process", attempts=1, heartbeat=silent_since))
    assert client.get(path).get_json()["state"] == "queued"

    restarted = create_app({**idle, "JOB_THREADS": 2, "AUTO_MIGRATE": False})
    try:
        restarted_client = restarted.test_client()
        assert restarted_client.get("/health").status_code == 200  # first request: resumes
        assert restarted.extensions["annoserver.executor"].running
        job = wait_for(restarted_client, path)
    finally:
        restarted.extensions["annoserver.executor"].stop()
    assert (job["state"], job["done"], job["failed"]) == ("done", 3, 0), job
    assert _count(client, source["id"]) == 3
    with engine.connect() as connection:
        attempts = connection.execute(select(func.min(JobUnitRow.attempts),
                                             func.max(JobUnitRow.attempts))).one()
    assert tuple(attempts) == (2, 2)
    for each in (app, restarted):
        each.extensions["annoserver.db"].dispose()


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["detail"]


def test_errors_are_problems(client, write_headers, manifest_server, book):
    url, _ = book
    _problem(client.get("/jobs/999999"), 404)
    _problem(client.get("/manifests/0123456789abcdef"), 404)
    _problem(client.get("/pages/nonsense"), 404)
    _problem(client.get("/pages/0123456789abcdef-0123456789abcdef-tiny-detector"), 404)
    _problem(_register(client, {}, url, [DETECTOR]), 401)
    _problem(client.delete("/jobs/1"), 401)
    _problem(_register(client, write_headers, url, ["no-such-model"]), 404)
    _problem(_register(client, write_headers, url, [DETECTOR], attempts=0), 400)
    _problem(client.post("/manifests", json={"models": [DETECTOR]}, headers=write_headers), 400)
    _problem(_register(client, write_headers, "ftp://example.org/m", [DETECTOR]), 400)
    not_iiif = manifest_server.publish("/not-iiif.json", {"hello": "world"})
    _problem(_register(client, write_headers, not_iiif, [DETECTOR]), 422)
    _problem(_register(client, write_headers, manifest_server.url + "/missing.json",
                       [DETECTOR]), 502)
    for private in ("http://169.254.169.254/latest/manifest.json",
                    manifest_server.url.replace("127.0.0.1", "localhost") + "/x.json"):
        _problem(_register(client, write_headers, private, [DETECTOR]), 403)
    key = _register(client, write_headers, url, [DETECTOR]).get_json()["key"]
    _problem(client.get(f"/manifests/{key}", query_string={"version": 4}), 400)


def test_a_collection_is_expanded_into_its_manifests(client, write_headers, manifest_server,
                                                     reference_server, request):
    name = _name(request)
    small = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    urls = []
    for n in (1, 2):
        manifest_id = f"{manifest_server.url}/{name}/m{n}.json"
        urls.append(manifest_server.publish(f"/{name}/m{n}.json", manifest(
            manifest_id, [canvas(manifest_id, 1, 1200, 800, small)])))
    inner = manifest_server.publish(f"/{name}/inner.json", {
        "@context": "http://iiif.io/api/presentation/3/context.json", "id": "inner",
        "type": "Collection", "label": {"en": ["inner"]},
        "items": [{"id": urls[1], "type": "Manifest", "label": {"en": ["second"]}}]})
    top = manifest_server.publish(f"/{name}/top.json", {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{manifest_server.url}/{name}/top.json", "type": "Collection",
        "label": {"en": ["top"]},
        "items": [{"id": urls[0], "type": "Manifest", "label": {"en": ["first"]}},
                  {"id": inner, "type": "Collection", "label": {"en": ["inner"]}},
                  {"id": manifest_server.url + "/gone.json", "type": "Manifest"}]})
    response = _register(client, write_headers, top, [DETECTOR])
    assert response.status_code == 202
    job = wait_for(client, _job_path(response))
    assert (job["state"], job["total"], job["done"]) == ("done", 2, 2), job
    assert [error["manifest"] for error in job["errors"]] == [manifest_server.url + "/gone.json"]
    collection = client.get(response.get_json()["manifest"].removeprefix(
        "http://annoserver.test")).get_json()
    assert schema_errors(V3_SCHEMA, collection) == []
    members = [item["id"].removeprefix("http://annoserver.test") for item in collection["items"]]
    assert len(members) == 2
    for member in members:
        enriched = client.get(member).get_json()
        assert schema_errors(V3_SCHEMA, enriched) == []
        page = enriched["items"][0]["annotations"][0]["id"]
        [box] = client.get(page.removeprefix("http://annoserver.test")).get_json()["items"]
        assert box["target"]["selector"]["value"] == "xywh=300,200,600,400"


def test_a_v2_manifest_is_upgraded_and_enriched(client, write_headers, manifest_server,
                                                reference_server, request):
    """As real v2 manifests come: no @context, otherContent as a bare string."""
    base = f"{manifest_server.url}/{_name(request)}"
    service = reference_server.info_url("2.1", "small").removesuffix("/info.json")
    canvases = [{"@id": f"{base}/canvas/{n}", "@type": "sc:Canvas", "label": f"p. {n}",
                 "width": 1200, "height": 800, "otherContent": f"{base}/list/{n}",
                 "images": [{"@type": "oa:Annotation", "motivation": "sc:painting",
                             "on": f"{base}/canvas/{n}",
                             "resource": {"@id": f"{service}/full/full/0/default.jpg",
                                          "@type": "dctypes:Image",
                                          "service": {"@id": service,
                                                      "profile": "http://iiif.io/api/image/2/level2.json"}}}]}
                for n in (1, 2)]
    url = manifest_server.publish(f"/{_name(request)}/v2.json", {
        "@id": f"{base}/v2.json", "@type": "sc:Manifest", "label": "A v2 book",
        "sequences": [{"@type": "sc:Sequence", "canvases": canvases}]})
    response = _register(client, write_headers, url, [DETECTOR])
    assert wait_for(client, _job_path(response))["state"] == "done"
    key = response.get_json()["key"]
    enriched = client.get(f"/manifests/{key}").get_json()
    assert schema_errors(V3_SCHEMA, enriched) == []
    page = enriched["items"][1]["annotations"][-1]["id"].removeprefix("http://annoserver.test")
    [box] = client.get(page).get_json()["items"]
    assert box["target"]["source"]["id"] == f"{base}/canvas/2"
    assert box["target"]["selector"]["value"] == "xywh=300,200,600,400"
    v2 = client.get(f"/manifests/{key}", query_string={"version": 2}).get_json()
    other = [o["@id"] for o in v2["sequences"][0]["canvases"][0]["otherContent"]]
    assert other[0] == f"{base}/list/1" and other[1].endswith("?version=2")
