"""Fault tests reuse the job tests' fixtures: job settings, models, the manifest server."""

from __future__ import annotations

from collections import Counter

from tests.jobs.conftest import (  # noqa: F401 - fixtures
    annotations_by_canvas,
    app,
    counting_server,
    job_models_dir,
    manifest_server,
    settings,
)

DETECTOR = "tiny-detector"  # one box per canvas: one annotation per canvas × model


def register(client, headers, url: str, **options) -> str:
    """Register ``url`` for the detector through the test client; return its job's path."""
    body = {"url": url, "models": [DETECTOR], **({"options": options} if options else {})}
    response = client.post("/manifests", json=body, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.headers["Location"].removeprefix("http://annoserver.test")


def counts(client, manifest_id: str) -> Counter:
    """Stored annotations per canvas of the manifest, read through the test client."""
    return annotations_by_canvas(lambda url: client.get(url).get_json(), "", manifest_id)
