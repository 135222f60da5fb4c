"""SSRF: every entry point that fetches a URL refuses non-public targets, before any byte.

The forbidden target is a loopback server (a :class:`FaultServer` on 127.0.0.1, "the canary")
that counts every request it receives; each test asserts it received none. It is named in
many spellings (decimal, hex, octal, short forms, IPv4-mapped IPv6, ``localhost`` in any
case, userinfo tricks, other schemes) and reached directly or through redirects from an allow-listed
loopback server (the redirector, allow-listed by host *and port*, so the canary's port on the
same address stays forbidden). Entry points: ``POST /analyze``, ``POST /manifests`` (the
manifest itself, and image services a fetched manifest names), the super-resolution image
service ``/iiif/sr/...`` (info.json and image requests) and ``GET /similar?image=``. Only
loopback addresses are used; nothing leaves this machine.
"""

from __future__ import annotations

import shutil
from urllib.parse import quote

import pytest

from annoserver.superres.params import encode_upstream
from tests.iiif.servers import FaultServer
from tests.jobs.conftest import ManifestServer, canvas, manifest, wait_for
from tests.model_repos import SHIPPED, write_test_models


@pytest.fixture(scope="module")
def canary():
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="module")
def redirector():
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="module")
def manifests():
    with ManifestServer() as server:
        yield server


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = write_test_models(tmp_path_factory.mktemp("ssrf-models"))
    shutil.copytree(SHIPPED / "espcn-x2", root / "espcn-x2")
    return root


@pytest.fixture
def settings(settings, models_dir, redirector, manifests):
    port = manifests.url.rsplit(":", 1)[1]
    return {**settings, "MODELS_DIR": str(models_dir), "JOB_POLL_INTERVAL": 0.05,
            "JOB_BACKOFF": 0.05, "ALLOWED_HOSTS": [f"127.0.0.1:{redirector.port}",
                                                   f"127.0.0.1:{port}"]}


@pytest.fixture
def app(app):
    yield app
    app.extensions["annoserver.executor"].stop()


@pytest.fixture(autouse=True)
def fresh(canary):
    canary.reset()
    yield
    assert sum(canary.hits.values()) == 0, f"the forbidden server was reached: {canary.hits}"


def spellings(port: int) -> list[str]:
    """The canary's info.json under names that all mean 127.0.0.1 (or loopback)."""
    path = "/json/info.json"
    return [f"http://{host}:{port}{path}" for host in (
        "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1",
        "localhost", "LOCALHOST", "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]", "[::1]", "0.0.0.0", "127.0.0.2", "allowed@127.0.0.1",
    )] + [f"https://127.0.0.1:{port}{path}", "file:///etc/passwd", f"gopher://127.0.0.1:{port}/",
          f"ftp://127.0.0.1:{port}/x", f"http://127.0.0.1:{port}\\@example.org/"]


def via_redirect(redirector: FaultServer, target: str, code: int = 302) -> str:
    return f"{redirector.url}/redirect?code={code}&to={quote(target, safe='')}"


def refused(response) -> None:
    """A clear problem (403 for a forbidden address); the canary's zero hits are checked
    after each test."""
    assert 400 <= response.status_code < 500, (response.status_code,
                                               response.get_data(as_text=True)[:300])
    assert response.content_type == "application/problem+json"
    assert response.get_json()["detail"]


def targets(canary, redirector) -> list[str]:
    direct = spellings(canary.port)
    return direct + [via_redirect(redirector, url, code) for url, code in
                     zip(direct[:15], [301, 302, 303, 307, 308] * 3, strict=True)]


def test_analyze_refuses_every_spelling_and_redirect(client, canary, redirector):
    for url in targets(canary, redirector):
        refused(client.post("/analyze", json={"image": url, "models": ["efficientnet-lite0"]}))


def test_similar_refuses_every_spelling_and_redirect(client, canary, redirector):
    for url in targets(canary, redirector):
        refused(client.get("/similar", query_string={"image": url}))


def test_manifest_registration_refuses_every_spelling_and_redirect(client, write_headers,
                                                                   canary, redirector):
    for url in targets(canary, redirector):
        refused(client.post("/manifests", headers=write_headers,
                            json={"url": url.replace("info.json", "manifest.json"),
                                  "models": ["efficientnet-lite0"]}))


def test_super_resolution_refuses_every_spelling_and_redirect(client, canary, redirector):
    for url in targets(canary, redirector):
        upstream = encode_upstream(url.removesuffix("/info.json"))
        refused(client.get(f"/iiif/sr/espcn-x2/{upstream}/info.json"))
        refused(client.get(f"/iiif/sr/espcn-x2/{upstream}/full/max/0/default.jpg"))


def test_image_services_named_by_an_allowed_manifest_are_guarded(client, write_headers,
                                                                 canary, manifests):
    """A manifest on an allowed host cannot make jobs fetch from a forbidden one."""
    manifest_id = f"{manifests.url}/ssrf/manifest.json"
    services = [f"http://{host}:{canary.port}/svc/x" for host in
                ("127.0.0.1", "localhost", "2130706433", "[::1]")]
    document = manifest(manifest_id, [canvas(manifest_id, n, 100, 100, service)
                                      for n, service in enumerate(services)])
    url = manifests.publish("/ssrf/manifest.json", document)
    response = client.post("/manifests", headers=write_headers,
                           json={"url": url, "models": ["efficientnet-lite0"],
                                 "options": {"attempts": 1}})
    assert response.status_code == 202, response.get_data(as_text=True)
    job = wait_for(client, response.headers["Location"].removeprefix("http://annoserver.test"),
                   timeout=60)
    assert job["state"] == "failed" and job["failed"] == len(services), job
    assert all(error["status"] == 403 for error in job["errors"]), job["errors"]


def test_the_allow_list_is_by_host_and_port(client, redirector, canary):
    """The redirector itself is fetched (allowed), so the refusals above are the guard's."""
    before = redirector.hits["/json/info.json"]
    response = client.post("/analyze", json={"image": f"{redirector.url}/json/info.json",
                                             "models": ["efficientnet-lite0"]})
    assert redirector.hits["/json/info.json"] == before + 1
    assert response.status_code != 403


def test_traversal_tricks_on_an_allowed_host_are_refused_everywhere(client, write_headers,
                                                                     redirector):
    """Dot segments, however encoded, never reach even an allowed image server."""
    redirector.reset()
    tricks = [f"{redirector.url}/json/{trick}/info.json" for trick in
              ("..", "%2e%2e", ".%2E", "a%2F..%2Fb", "%252e%252e", "..%5C..", ".")]
    for url in tricks:
        for response in (
                client.post("/analyze", json={"image": url, "models": ["efficientnet-lite0"]}),
                client.get("/similar", query_string={"image": url}),
                client.post("/manifests", headers=write_headers,
                            json={"url": url.replace("info.json", "manifest.json"),
                                  "models": ["efficientnet-lite0"]}),
                client.get(f"/iiif/sr/espcn-x2/{encode_upstream(url.removesuffix('/info.json'))}"
                           "/info.json")):
            refused(response)
            assert response.status_code == 403 and "path segment" in response.get_json()["detail"]
    assert sum(redirector.hits.values()) == 0, redirector.hits
