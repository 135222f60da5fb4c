"""Fixtures for batch jobs: models, a manifest server, manifests on the IIIF reference server."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import cv2
import numpy as np
import pytest

from tests.model_repos import write_test_models

TERMINAL = ("done", "failed", "cancelled")


@pytest.fixture(scope="session")
def job_models_dir(tmp_path_factory):
    return write_test_models(tmp_path_factory.mktemp("job-models"))


@pytest.fixture
def settings(settings, job_models_dir):
    return {**settings, "MODELS_DIR": str(job_models_dir), "ALLOWED_HOSTS": ["127.0.0.1"],
            "JOB_THREADS": 2, "JOB_BACKOFF": 0.05, "JOB_POLL_INTERVAL": 0.05,
            "JOB_HEARTBEAT": 0.2, "JOB_STALE_AFTER": 2.0}


@pytest.fixture
def app(app):
    yield app
    app.extensions["annoserver.executor"].stop()


class ManifestServer:
    """Serves JSON documents from a dict on 127.0.0.1 (``/path`` → document)."""

    def __init__(self) -> None:
        self.documents: dict[str, object] = {}

    def __enter__(self) -> ManifestServer:
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                document = documents.get(self.path)
                body = json.dumps(document).encode() if document is not None else b"{}"
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def publish(self, path: str, document: object) -> str:
        self.documents[path] = document
        return self.url + path


class CountingImageServer:
    """A slow level-2 IIIF image service on 127.0.0.1 counting the requests it serves at once.

    ``/iiif/<name>/info.json`` describes a ``width`` × ``height`` image; any other path
    under it answers a small JPEG after ``delay`` seconds. ``max_active`` is the most
    requests (of any kind) that were in progress together.
    """

    def __init__(self, width: int = 1200, height: int = 800, delay: float = 0.25) -> None:
        self.width, self.height, self.delay = width, height, delay
        self.lock = threading.Lock()
        self.active = self.max_active = self.images = 0

    def __enter__(self) -> CountingImageServer:
        server = self
        jpeg = cv2.imencode(".jpg", np.full((100, 150, 3), 128, np.uint8))[1].tobytes()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                with server.lock:
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    name = self.path.split("/")[2]
                    if self.path.endswith("/info.json"):
                        body, kind = json.dumps({
                            "@context": "http://iiif.io/api/image/3/context.json",
                            "id": f"{server.url}/iiif/{name}", "type": "ImageService3",
                            "protocol": "http://iiif.io/api/image", "profile": "level2",
                            "width": server.width, "height": server.height}).encode(), "json"
                    else:
                        time.sleep(server.delay)
                        body, kind = jpeg, "jpeg"
                        with server.lock:
                            server.images += 1
                finally:
                    with server.lock:
                        server.active -= 1
                self.send_response(200)
                self.send_header("Content-Type", f"application/{kind}" if kind == "json"
                                 else "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def service(self, name: str) -> str:
        """The id of the image service ``name``."""
        return f"{self.url}/iiif/{name}"


@pytest.fixture
def counting_server():
    with CountingImageServer() as server:
        yield server


@pytest.fixture(scope="session")
def manifest_server():
    with ManifestServer() as server:
        yield server


def canvas(manifest_id: str, n: int, width: int, height: int, service: str | None,
           service_type: str = "ImageService3") -> dict:
    """A v3 canvas painting one image (with a IIIF service when ``service`` is given)."""
    canvas_id = f"{manifest_id}/canvas/{n}"
    body = {"id": f"{service or manifest_id + '/static'}/full/max/0/default.jpg",
            "type": "Image", "format": "image/jpeg"}
    if service:
        body["service"] = [{"id": service, "type": service_type, "profile": "level2"}]
    return {"id": canvas_id, "type": "Canvas", "label": {"en": [f"p. {n}"]},
            "width": width, "height": height,
            "items": [{"id": f"{canvas_id}/page", "type": "AnnotationPage",
                       "items": [{"id": f"{canvas_id}/page/paint", "type": "Annotation",
                                  "motivation": "painting", "body": body,
                                  "target": canvas_id}]}]}


def manifest(manifest_id: str, canvases: list[dict]) -> dict:
    return {"@context": "http://iiif.io/api/presentation/3/context.json", "id": manifest_id,
            "type": "Manifest", "label": {"en": ["A test book"]}, "items": canvases}


def publish_book(manifest_server: ManifestServer, name: str, service: str,
                 canvases: int) -> tuple[str, str]:
    """Publish a manifest ``/<name>/manifest.json`` of ``canvases`` 1200×800 canvases painting
    the image service ``service`` (``{n}`` in it: canvas n's number); return its id and URL."""
    manifest_id = f"{manifest_server.url}/{name}/manifest.json"
    url = manifest_server.publish(f"/{name}/manifest.json", manifest(
        manifest_id, [canvas(manifest_id, n, 1200, 800, service.replace("{n}", str(n)))
                      for n in range(1, canvases + 1)]))
    return manifest_id, url


def poll(read, until, timeout: float):
    """Call ``read`` until ``until`` holds for what it returns or ``timeout`` s have passed;
    return the last value."""
    deadline = time.monotonic() + timeout
    while not until(value := read()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def over(job) -> bool:
    """Whether a job (a record or a JSON document) is in a terminal state."""
    return (job["state"] if isinstance(job, dict) else job.state) in TERMINAL


def wait_for(client, job_url: str, timeout: float = 30.0, until=over) -> dict:
    """Poll a job until it is over (or ``until`` holds); return its last document."""
    return poll(lambda: client.get(job_url).get_json(), until, timeout)


def annotations_by_canvas(get_json, base: str, manifest_id: str,
                          model: str | None = None) -> Counter:
    """How many stored annotations target each canvas of a manifest (every page read).

    ``get_json`` reads a URL as JSON (a test client's or a real server's); ``base`` is the
    server's URL (empty for a Flask test client).
    """
    query = urlencode({"manifest": manifest_id, **({"model": model} if model else {})})
    page = get_json(f"{base}/annotations/?{query}")["first"]
    counts: Counter = Counter()
    while page:
        counts.update(item["target"]["source"]["id"] for item in page["items"])
        page = page.get("next") and get_json(page["next"])
    return counts
