"""Training data from IIIF: a CSV of region URLs, reviewed-annotation exports, canvas regions."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from annoserver.app import create_app
from annoserver.cli import main
from annoserver.iiif import Target
from annoserver.store.export import csv_text, jsonl
from annoserver.training import read_source
from annoserver.training.pixels import PixelSource
from annoserver.training.sources import CanvasRegion, ImageRegion, Sample, image_region
from tests.training.synthetic import CELL, SHEET_COLUMNS, SHEET_ROWS

MANIFEST = "https://example.org/iiif/book/manifest"
CANVAS = "https://example.org/iiif/book/canvas/p1"


def _region_csv(path, server, version="3.0"):
    rows = ["url,label"]
    for row, label in enumerate(SHEET_ROWS):
        for column in range(SHEET_COLUMNS):
            base = server.info_url("2.1" if column % 2 else version, "sheet")
            region = f"{column * CELL},{row * CELL},{CELL},{CELL}"
            rows.append(f"{base.removesuffix('/info.json')}/{region}/max/0/default.jpg,{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_csv_of_iiif_region_urls(runner, training_server, tmp_path):
    data = _region_csv(tmp_path / "regions.csv", training_server)
    result = runner.invoke(main, ["train", "classifier", "--data", str(data), "--name", "cells",
                                  "--out", str(tmp_path / "models"), "--test-size", "0.25"])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((tmp_path / "models" / "cells" / "eval.json").read_text())
    assert evaluation["data"]["kind"] == "CSV of IIIF image URLs"
    assert evaluation["data"]["unreadable"] == 0
    assert evaluation["data"]["counts"] == {"circles": {"train": 3, "test": 1},
                                            "stripes": {"train": 3, "test": 1}}
    assert evaluation["heldout"]["images"] == 2


def test_the_ssrf_guard_applies_to_training_data(settings, training_server, tmp_path):
    # Without ALLOWED_HOSTS loopback is refused, as it is for /analyze.
    app = create_app({**settings, "ALLOWED_HOSTS": []})
    try:
        data = _region_csv(tmp_path / "regions.csv", training_server)
        result = app.test_cli_runner().invoke(main, [
            "train", "classifier", "--data", str(data), "--name", "cells",
            "--out", str(tmp_path / "models")])
    finally:
        app.extensions["annoserver.db"].dispose()
    assert result.exit_code != 0
    assert "no readable sample" in result.output and "8 unreadable" in result.output
    assert not (tmp_path / "models" / "cells").exists()


def test_region_urls_fetch_the_region(session, training_server, sheet):
    url = training_server.info_url("3.0", "sheet").removesuffix("/info.json")
    location = image_region(f"{url}/{CELL},{CELL},{CELL},{CELL}/max/0/default.jpg")
    assert location == ImageRegion(url, f"{CELL},{CELL},{CELL},{CELL}")
    pixels = PixelSource(session, Target(width=CELL, height=CELL)).pixels(
        Sample("stripes", location, url))
    expected = sheet[CELL:2 * CELL, CELL:2 * CELL].astype(float)
    assert pixels.shape == (CELL, CELL, 3)
    assert np.abs(pixels.astype(float) - expected).mean() < 20  # JPEG, nothing else
    assert image_region(url + "/info.json") == ImageRegion(url)
    with pytest.raises(Exception, match="rotated"):
        image_region(f"{url}/full/max/90/default.jpg")


def _annotation(slug, label, review=None, xywh="0,0,80,80", manifest=MANIFEST):
    source = {"id": CANVAS, "type": "Canvas"}
    if manifest:
        source["partOf"] = [{"id": manifest, "type": "Manifest"}]
    document = {"id": f"http://annoserver.test/annotations/{slug}", "type": "Annotation",
                "motivation": "tagging",
                "body": {"type": "TextualBody", "value": label, "purpose": "tagging"},
                "target": {"type": "SpecificResource", "source": source,
                           "selector": {"type": "FragmentSelector", "value": f"xywh={xywh}"}}}
    if review:
        document["review"] = review
    return document


REVIEWED = [
    _annotation("a", "cat", {"verdict": "accepted"}),
    _annotation("b", "cat", {"verdict": "corrected",
                             "body": {"type": "TextualBody", "value": "dog"}}),
    _annotation("c", "cat", {"verdict": "rejected"}),
    _annotation("d", "=cat"),
    _annotation("e", "=sum(1)", {"verdict": "accepted"}, xywh="10,10,20,20"),
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_exports_give_only_reviewed_annotations(tmp_path, fmt):
    path = tmp_path / f"export.{fmt}"
    text = "".join(jsonl(REVIEWED) if fmt == "jsonl" else csv_text(REVIEWED, MANIFEST))
    path.write_text(text, newline="")
    source = read_source(path)
    assert [(s.label, s.location) for s in source.samples] == [
        ("cat", CanvasRegion(MANIFEST, CANVAS, "0,0,80,80")),
        ("dog", CanvasRegion(MANIFEST, CANVAS, "0,0,80,80")),
        ("=sum(1)", CanvasRegion(MANIFEST, CANVAS, "10,10,20,20"))]
    assert source.left_out == {"rejected annotation(s)": 1, "unreviewed annotation(s)": 1}


def test_an_annotation_on_an_image_is_its_region(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text("".join(jsonl([_annotation("a", "cat", {"verdict": "accepted"},
                                               manifest=None)])))
    [sample] = read_source(path).samples
    assert sample.location == ImageRegion(CANVAS, "0,0,80,80")


@pytest.fixture
def manifest_server(tmp_path, training_server):
    """A v3 manifest painting ``sheet`` (640 x 320) on a 320 x 160 canvas, over HTTP."""
    service = training_server.info_url("3.0", "sheet").removesuffix("/info.json")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{server.server_address[1]}/manifest.json"
    canvas = {"id": CANVAS, "type": "Canvas", "width": 320, "height": 160, "items": [{
        "id": CANVAS + "/page", "type": "AnnotationPage", "items": [{
            "id": CANVAS + "/paint", "type": "Annotation", "motivation": "painting",
            "target": CANVAS,
            "body": {"id": f"{service}/full/max/0/default.jpg", "type": "Image",
                     "format": "image/jpeg", "width": 640, "height": 320,
                     "service": [{"id": service, "type": "ImageService3",
                                  "profile": "level1"}]}}]}]}
    (tmp_path / "manifest.json").write_text(json.dumps({
        "@context": "http://iiif.io/api/presentation/3/context.json", "id": url,
        "type": "Manifest", "label": {"en": ["sheet"]}, "items": [canvas]}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


def test_canvas_regions_are_placed_through_the_manifest(session, manifest_server, sheet):
    source = PixelSource(session, Target(width=CELL, height=CELL))
    # Canvas units are half the image's pixels: canvas 80,80,80,80 is pixels 160,160,160,160.
    pixels = source.pixels(Sample("stripes", CanvasRegion(manifest_server, CANVAS,
                                                          "80,80,80,80"), "x"))
    expected = sheet[CELL:2 * CELL, CELL:2 * CELL].astype(float)
    assert np.abs(pixels.astype(float) - expected).mean() < 20
    with pytest.raises(Exception, match="not a canvas"):
        source.pixels(Sample("x", CanvasRegion(manifest_server, CANVAS + "x"), "x"))
