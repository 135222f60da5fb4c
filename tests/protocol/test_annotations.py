"""One annotation: create, read, replace, delete, with the W3C protocol's headers."""

from __future__ import annotations

import json

from tests.protocol.helpers import ANNO, annotation, create

LD = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'


def test_create_mints_id_and_answers_201(client, write_headers):
    response = create(client, write_headers)
    body = response.get_json()
    assert response.headers["Location"] == body["id"]
    assert body["id"].startswith("http://annoserver.test/annotations/")
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Content-Type"] == LD
    assert body["@context"] == ANNO and body["body"]["value"] == "ship"


def test_client_id_is_kept_in_via_and_slug_honoured(client, write_headers):
    document = {**annotation(), "id": "http://elsewhere.example/anno/7"}
    response = client.post("/annotations/", json=document,
                           headers={**write_headers, "Slug": "my-note"})
    body = response.get_json()
    assert body["id"] == "http://annoserver.test/annotations/my-note"
    assert body["via"] == "http://elsewhere.example/anno/7"
    again = client.post("/annotations/", json=annotation(),
                        headers={**write_headers, "Slug": "my-note"})
    assert again.status_code == 201 and again.get_json()["id"] != body["id"]
    unsafe = client.post("/annotations/", json=annotation(),
                         headers={**write_headers, "Slug": "../../etc"})
    assert "etc" not in unsafe.get_json()["id"]


def test_get_headers_and_conditional_get(client, write_headers):
    created = create(client, write_headers)
    path = created.headers["Location"].removeprefix("http://annoserver.test")
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == LD
    assert response.headers["Link"] == '<http://www.w3.org/ns/ldp#Resource>; rel="type"'
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {
        "GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
    assert "Accept" in response.headers["Vary"]
    assert response.headers["ETag"] == created.headers["ETag"]
    cached = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304 and cached.data == b""
    head = client.head(path)
    assert head.status_code == 200 and head.headers["ETag"] == response.headers["ETag"]
    options = client.options(path)
    assert options.status_code == 204 and "PUT" in options.headers["Allow"]


def test_content_negotiation(client, write_headers):
    path = create(client, write_headers).headers["Location"]
    as_json = client.get(path, headers={"Accept": "application/json"})
    assert as_json.headers["Content-Type"] == "application/json"
    with_profile = client.get(path, headers={"Accept": LD})
    assert with_profile.headers["Content-Type"] == LD
    refused = client.get(path, headers={"Accept": "text/html"})
    assert refused.status_code == 406
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_put_needs_current_etag(client, write_headers):
    created = create(client, write_headers)
    path, etag = created.headers["Location"], created.headers["ETag"]
    changed = {**annotation(label="boat"), "id": path}
    missing = client.put(path, json=changed, headers=write_headers)
    assert missing.status_code == 428
    updated = client.put(path, json=changed, headers={**write_headers, "If-Match": etag})
    assert updated.status_code == 200, updated.get_data(as_text=True)
    assert updated.headers["ETag"] != etag
    assert updated.get_json()["body"]["value"] == "boat"
    stale = client.put(path, json=annotation(label="raft"),
                       headers={**write_headers, "If-Match": etag})
    assert stale.status_code == 412
    assert client.get(path).get_json()["body"]["value"] == "boat"


def test_put_refuses_other_id_and_invalid_document(client, write_headers):
    created = create(client, write_headers)
    path, etag = created.headers["Location"], created.headers["ETag"]
    headers = {**write_headers, "If-Match": etag}
    other = client.put(path, json={**annotation(), "id": "http://x.example/1"}, headers=headers)
    assert other.status_code == 400
    invalid = client.put(path, json={"type": "Annotation"}, headers=headers)
    assert invalid.status_code == 400
    assert client.get(path).headers["ETag"] == etag


def test_delete_then_gone_and_out_of_container(client, write_headers):
    created = create(client, write_headers)
    path, etag = created.headers["Location"], created.headers["ETag"]
    before = client.get("/annotations/")
    assert client.delete(path, headers=write_headers).status_code == 428
    assert client.delete(path, headers={**write_headers, "If-Match": '"nope"'}).status_code \
        == 412
    deleted = client.delete(path, headers={**write_headers, "If-Match": etag})
    assert deleted.status_code == 204
    assert client.get(path).status_code == 410
    after = client.get("/annotations/")
    assert after.get_json()["total"] == before.get_json()["total"] - 1
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get("/annotations/does-not-exist").status_code == 404


def test_methods_not_allowed(client, write_headers):
    path = create(client, write_headers).headers["Location"]
    post_item = client.post(path, json=annotation(), headers=write_headers)
    assert post_item.status_code == 405 and "PUT" in post_item.headers["Allow"]
    delete_container = client.delete("/annotations/", headers=write_headers)
    assert delete_container.status_code == 405
    assert delete_container.headers["Content-Type"] == "application/problem+json"


def test_invalid_annotation_is_refused_with_schema_errors(client, write_headers):
    before = client.get("/annotations/").get_json()["total"]
    bad = {"@context": ANNO, "type": "Annotation", "body": "x", "bodyValue": "y"}
    response = client.post("/annotations/", json=bad, headers=write_headers)
    problem = response.get_json()
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert problem["detail"] and any("target" in error for error in problem["errors"])
    assert any("bodyValue" in error for error in problem["errors"])
    assert client.get("/annotations/").get_json()["total"] == before


def test_bad_bodies_get_clear_errors(client, write_headers, app):
    post = lambda data, **h: client.post("/annotations/", data=data,  # noqa: E731
                                         headers={**write_headers, **h})
    assert post(b"{not json").status_code == 400
    assert post(b'{"a": "\xff\xfe"}').status_code == 400
    deep = b"[" * 5000 + b"]" * 5000
    assert post(deep).status_code == 400
    assert post(b"[1, 2]").status_code == 400
    assert post(json.dumps(annotation()), **{"Content-Type": "text/plain"}).status_code == 415
    big = json.dumps({**annotation(), "pad": "x" * app.config["MAX_BODY_BYTES"]})
    too_big = post(big)
    assert too_big.status_code == 413
    assert too_big.headers["Content-Type"] == "application/problem+json"
    assert client.get("/annotations/").get_json()["total"] == 0


def test_hostile_values_get_clear_errors(client, write_headers):
    nul = {**annotation(), "bodyValue": "a\u0000b"}
    nul.pop("body")
    assert client.post("/annotations/", json=nul, headers=write_headers).status_code == 400
    assert client.get("/annotations/?page=99999999999999999999999").status_code == 400
    long_creator = {**annotation(), "creator": {"type": "Software", "name": "x" * 900}}
    assert client.post("/annotations/", json=long_creator,
                       headers=write_headers).status_code == 201
