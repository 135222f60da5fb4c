"""Fixtures for batch jobs: models, a manifest server, manifests on the IIIF reference server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def wait_for(client, job_url: str, timeout: float = 30.0) -> dict:
    """Poll a job until it is over; return its last document."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(job_url).get_json()
        if job["state"] in TERMINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.05)
