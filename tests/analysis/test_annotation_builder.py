"""Results in image pixels become valid W3C annotations in canvas coordinates."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from annoserver.annotation_builder import AnnotationBuilder, Placement, Provenance
from annoserver.inference.results import Box, Boxes, Label, Labels, Text, Vector
from annoserver.validation import annotation_errors

PROVENANCE = Provenance("efficientnet-lite0", "1.0.0", "ab" * 32, "onnxruntime 1.20",
                        "CPUExecutionProvider", "http://annoserver.test/models/efficientnet-lite0")
CANVAS = Placement(source="https://example.org/canvas/1", source_type="Canvas", width=3000,
                   height=2000, image_width=6000, image_height=4000,
                   manifest="https://example.org/manifest")
BUILDER = AnnotationBuilder("http://annoserver.test/ns/annoserver.jsonld",
                            datetime(2026, 11, 24, tzinfo=UTC))


def _valid(annotations):
    for annotation in annotations:
        assert annotation_errors({**annotation, "id": "http://annoserver.test/a/1"}) == []
    return annotations


def test_labels_on_a_region_are_scaled_to_the_canvas():
    result = Labels([Label("ship", 0.91), Label("boat", 0.4)])
    annotations = _valid(BUILDER.build(PROVENANCE, result, (1000, 500, 2000, 1000), CANVAS,
                                       whole_image=False))
    assert [a["body"]["value"] for a in annotations] == ["ship", "boat"]
    first = annotations[0]
    assert first["motivation"] == "tagging" and first["body"]["confidence"] == 0.91
    assert first["target"]["selector"]["value"] == "xywh=500,250,1000,500"
    assert first["target"]["source"]["partOf"][0]["id"] == "https://example.org/manifest"
    creator = first["creator"]
    assert creator["type"] == "Software" and creator["modelVersion"] == "1.0.0"
    assert creator["modelSha256"] == "ab" * 32 and first["created"] == "2026-11-24T00:00:00Z"


def test_whole_image_labels_target_the_whole_canvas():
    annotations = BUILDER.build(PROVENANCE, Labels([Label("page", 0.8)]), (0, 0, 6000, 4000),
                                CANVAS, whole_image=True)
    assert "selector" not in _valid(annotations)[0]["target"]


def test_boxes_and_text():
    boxes = Boxes([Box(600, 400, 60, 40, "face", 0.97), Box(0, 0, 10, 10, None, 0.5, "Hello")])
    annotations = _valid(BUILDER.build(PROVENANCE, boxes, (0, 0, 6000, 4000), CANVAS, False))
    assert annotations[0]["target"]["selector"]["value"] == "xywh=300,200,30,20"
    assert annotations[1]["motivation"] == "supplementing"
    assert annotations[1]["body"]["value"] == "Hello"
    text = _valid(BUILDER.build(PROVENANCE, Text("Chapter 1", 0.7), (0, 0, 10, 10), CANVAS,
                                True))
    assert text[0]["body"]["value"] == "Chapter 1"
    assert BUILDER.build(PROVENANCE, Text("  "), (0, 0, 1, 1), CANVAS, True) == []
    assert BUILDER.build(PROVENANCE, Vector([1.0, 0.0]), (0, 0, 1, 1), CANVAS, True) == []


def test_image_painted_on_part_of_a_canvas():
    placement = Placement("c", "Canvas", 1000, 1000, 500, 500, painted=(100, 100, 500, 500))
    assert placement.to_target((0, 0, 500, 500)) == (100, 100, 500, 500)
    assert placement.to_target((250, 250, 10, 10)) == (350, 350, 10, 10)


@given(st.integers(1, 20000), st.integers(1, 20000), st.integers(1, 20000),
       st.integers(1, 20000), st.data())
def test_scaled_boxes_stay_on_the_canvas(canvas_w, canvas_h, image_w, image_h, data):
    x = data.draw(st.floats(0, image_w - 1))
    y = data.draw(st.floats(0, image_h - 1))
    w = data.draw(st.floats(0.01, image_w - x))
    h = data.draw(st.floats(0.01, image_h - y))
    placement = Placement("c", "Canvas", canvas_w, canvas_h, image_w, image_h)
    left, top, width, height = placement.to_target((x, y, w, h))
    assert left >= 0 and top >= 0 and width >= 1 and height >= 1
    assert left + width <= canvas_w and top + height <= canvas_h
    assert abs(left - x * canvas_w / image_w) <= 1
