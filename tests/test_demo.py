"""The demo: a v3 manifest, its v2 twin and a collection over level-0 image services, and
``annoserver demo`` (what ``make run`` starts) enriching it once through the job path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import pytest
import requests
from jsonschema import Draft7Validator

from annoserver.inference import Runtime
from annoserver.jobs.demo import default_models
from annoserver.presentation import read_collection, read_manifest
from tests.model_repos import SHIPPED, write_test_models
from tests.services import GunicornServer

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "iiif" / "iiif_3_0.json").read_text())
SHIPPED_IMAGES = ["page", "stamped", "astronaut", "rocket", "coffee", "chelsea"]


def _schema_errors(document: dict) -> list[str]:
    return [error.message for error in Draft7Validator(SCHEMA).iter_errors(document)]


def _viewer_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if "/viewer/" in line]


def test_demo_manifest_and_images(client):
    manifest = client.get("/demo/manifest.json").get_json()
    assert [c["id"].rsplit("/", 1)[1] for c in manifest["items"]] == SHIPPED_IMAGES
    assert manifest["items"][1]["label"] == {
        "en": ["A letter with a library stamp and a watermark"]}
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
    assert _schema_errors(client.get("/demo/manifest.json").get_json()) == []


def test_the_v2_twin_and_the_collection(client):
    v3 = read_manifest(client.get("/demo/manifest.json").get_json())
    twin = client.get("/demo/manifest-v2.json").get_json()
    assert twin["@context"] == "http://iiif.io/api/presentation/2/context.json"
    v2 = read_manifest(twin)
    assert v2.version == 2
    assert [(c.id, c.width, c.height, c.images[0].service_id) for c in v2.canvases] == [
        (c.id, c.width, c.height, c.images[0].service_id) for c in v3.canvases]
    collection = client.get("/demo/collection.json").get_json()
    assert _schema_errors(collection) == []
    members = [member.id for member in read_collection(collection).members]
    assert members == ["http://annoserver.test/demo/manifest.json",
                       "http://annoserver.test/demo/manifest-v2.json"]


def test_the_default_models_are_the_shipped_annotating_ones():
    runtime = Runtime(SHIPPED)
    try:
        models = default_models(runtime)
    finally:
        runtime.close()
    assert {"efficientnet-lite0", "ppocr-det-v4"} <= set(models)
    assert not [model for model in models if model.startswith("espcn")]  # super-resolution


@pytest.mark.slow
def test_annoserver_demo_enriches_once(tmp_path):
    """What ``make run`` does: the server, and ``annoserver demo`` beside it."""
    models = write_test_models(tmp_path / "models")
    env = {"ANNOSERVER_MODELS_DIR": str(models), "ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1",
           "ANNOSERVER_JOB_POLL_INTERVAL": "0.1"}
    database = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    with GunicornServer(database, workers=1, threads=2, extra_env=env) as server:
        run_env = {**os.environ, **env, "ANNOSERVER_DATABASE_URL": database}
        argv = [sys.executable, "-c", "from annoserver.cli import main; main()", "demo",
                "--public-url", server.url]
        first = subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr[-3000:]
        key_url = _viewer_lines(first.stdout)
        assert len(key_url) == 1 and key_url[0].startswith(f"{server.url}/viewer/?manifest=")
        manifest_url = requests.utils.unquote(key_url[0].split("manifest=", 1)[1])
        assert key_url[0].endswith(quote(manifest_url, safe=""))
        enriched = requests.get(manifest_url, timeout=10).json()
        assert _schema_errors(enriched) == []
        layers = {page["label"]["en"][0].split(" ")[0]
                  for canvas in enriched["items"] for page in canvas["annotations"]}
        assert layers == {"efficientnet-lite0", "tiny-detector"}
        listed = requests.get(server.url + "/annotations/", timeout=10, params={
            "manifest": f"{server.url}/demo/manifest.json"}).json()
        assert listed["total"] >= 2 * len(SHIPPED_IMAGES)  # a label and a box per canvas
        assert "done: 12 done, 0 failed of 12" in first.stderr

        again = subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr[-3000:]
        assert _viewer_lines(again.stdout) == key_url
        assert "queued" not in again.stderr and "enriching" not in again.stderr
        assert requests.get(server.url + "/annotations/", timeout=10, params={
            "manifest": f"{server.url}/demo/manifest.json"}).json()["total"] == listed["total"]
