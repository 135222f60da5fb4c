from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from annoserver.presentation import (
    Box,
    CanvasImage,
    OutsideImage,
    canvas_to_image,
    image_to_canvas,
    parse_xywh,
    read_manifest,
)
from annoserver.presentation.geometry import parse_image_region, parse_rotation

from .conftest import load


def placed(width, height, canvas=(1000, 1000), region=None, **extra) -> CanvasImage:
    region = region or Box(0, 0, *canvas)
    return CanvasImage(image_url=None, service_id=None, service_version=None, width=width,
                       height=height, region_on_canvas=region, canvas_width=canvas[0],
                       canvas_height=canvas[1], **extra)


@pytest.mark.parametrize(("fragment", "expected"), [
    ("xywh=1,2,3,4", Box(1, 2, 3, 4)),
    ("https://x.test/canvas/1#xywh=552,1584,3360,2368", Box(552, 1584, 3360, 2368)),
    ("xywh=pixel:1,2,3,4", Box(1, 2, 3, 4)),
    ("xywh=percent:10,20,50,50", Box(100, 400, 500, 1000)),
    ("t=1,2&xywh=5,5,10,10", Box(5, 5, 10, 10)),
    ("xywh=1,2,0,4", None), ("xywh=1,2,3", None), ("xywh=a,b,c,d", None),
    ("xywh=inch:1,2,3,4", None), ("https://x.test/canvas/1", None)])
def test_parse_xywh(fragment, expected):
    assert parse_xywh(fragment, 1000, 2000) == expected


@pytest.mark.parametrize(("region", "expected"), [
    ("10,20,30,40", Box(10, 20, 30, 40)), ("pct:50,50,50,50", Box(50, 100, 50, 100)),
    ("full", None), ("square", None), ("0,0,0,5", None)])
def test_parse_image_region(region, expected):
    assert parse_image_region(region, 100, 200) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("90", (90, False)), ("!180", (180, True)), (270, (270, False)), ("45", (0, False)),
    (None, (0, False)), ("junk", (0, False)), ("-90", (270, False))])
def test_parse_rotation(value, expected):
    assert parse_rotation(value) == expected


def test_small_image_on_large_canvas_scales_up():
    image = read_manifest(load("cookbook/0004-canvas-size/manifest.json")).canvases[0].images[0]
    assert (image.width, image.height, image.canvas_width) == (640, 360, 1920)
    assert image_to_canvas((10, 10, 20, 20), image) == Box(30, 30, 60, 60)
    assert canvas_to_image((30, 30, 60, 60), image) == Box(10, 10, 20, 20)


def test_large_image_on_small_canvas_scales_down():
    image = read_manifest(load("v3/validator/version2image.json")).canvases[0].images[0]
    assert image_to_canvas((100, 100, 201, 201), image) == Box(50, 50, 101, 101)  # outward
    assert canvas_to_image((50, 50, 100, 100), image) == Box(100, 100, 200, 200)


def test_image_painted_on_part_of_the_canvas():
    canvas = read_manifest(
        load("cookbook/0036-composition-from-multiple-images/manifest.json")).canvases[0]
    miniature = canvas.images[1]  # 2138×2414 px painted at xywh=3949,994,1091,1232
    whole = image_to_canvas((0, 0, 2138, 2414), miniature)
    assert whole == Box(3949, 994, 1091, 1232)
    assert canvas_to_image((3949, 994, 1091, 1232), miniature) == Box(0, 0, 2138, 2414)
    with pytest.raises(OutsideImage) as raised:
        canvas_to_image((0, 0, 100, 100), miniature)
    assert raised.value.status == 400


def test_painted_region_of_an_image():
    image = read_manifest(load("cookbook/0299-region/manifest.json")).canvases[0].images[0]
    assert image_to_canvas((1768, 2423, 100, 100), image) == Box(0, 0, 100, 100)
    assert canvas_to_image((0, 0, 1768, 2080), image) == Box(1768, 2423, 1768, 2080)
    with pytest.raises(OutsideImage):
        image_to_canvas((0, 0, 10, 10), image)


def test_rotated_image():
    image = read_manifest(
        load("cookbook/0040-image-rotation-service/manifest-service.json")).canvases[0].images[0]
    # 1523×2105 px turned 90° clockwise onto a 2105×1523 canvas: the image's top-left corner
    # lands at the canvas's top-right corner.
    assert image_to_canvas((0, 0, 10, 20), image) == Box(2085, 0, 20, 10)
    assert canvas_to_image((2085, 0, 20, 10), image) == Box(0, 0, 10, 20)


def test_unknown_image_size_maps_one_to_one():
    image = placed(None, None, canvas=(800, 600))
    assert image.pixel_size == (800, 600)
    assert image_to_canvas((1, 2, 3, 4), image) == Box(1, 2, 3, 4)


def test_results_are_clipped_and_never_empty():
    image = placed(100, 100, canvas=(1000, 1000))
    assert image_to_canvas((90, 90, 50, 50), image) == Box(900, 900, 100, 100)
    assert image_to_canvas((100, 100, 0, 0), image) == Box(999, 999, 1, 1)
    assert canvas_to_image((0, 0, 0, 0), image) == Box(0, 0, 1, 1)
    with pytest.raises(OutsideImage):
        image_to_canvas((200, 200, 5, 5), image)


@st.composite
def placements(draw):
    width, height = draw(st.integers(1, 6000)), draw(st.integers(1, 6000))
    canvas = (draw(st.integers(1, 6000)), draw(st.integers(1, 6000)))
    rotation = draw(st.sampled_from([0, 90, 180, 270]))
    if draw(st.booleans()):
        region = Box(0, 0, *canvas)
    else:
        x, y = draw(st.integers(0, canvas[0] - 1)), draw(st.integers(0, canvas[1] - 1))
        region = Box(x, y, draw(st.integers(1, canvas[0] - x)), draw(st.integers(1, canvas[1] - y)))
    return placed(width, height, canvas=canvas, region=region, rotation=rotation,
                  mirrored=draw(st.booleans()))


@st.composite
def boxes_in(draw, width, height):
    x, y = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
    return Box(x, y, draw(st.integers(1, width - x)), draw(st.integers(1, height - y)))


def _canvas_units_per_pixel(image):
    """Canvas units per image pixel along the image's x and y axes."""
    turned = image.rotation in (90, 270)
    along_x = (image.region_on_canvas.h if turned else image.region_on_canvas.w) / image.width
    along_y = (image.region_on_canvas.w if turned else image.region_on_canvas.h) / image.height
    return along_x, along_y


def _inside(box, width, height):
    return box.x >= 0 and box.y >= 0 and box.w >= 1 and box.h >= 1 and \
        box.x + box.w <= width and box.y + box.h <= height and \
        all(isinstance(v, int) for v in box)


def _covers(outer, inner):
    return outer.x <= inner.x and outer.y <= inner.y and \
        outer.x + outer.w >= inner.x + inner.w and outer.y + outer.h >= inner.y + inner.h


@settings(max_examples=300, deadline=None)
@given(data=st.data(), image=placements())
def test_image_canvas_image_round_trip(data, image):
    box = data.draw(boxes_in(image.width, image.height))
    on_canvas = image_to_canvas(box, image)
    assert _inside(on_canvas, image.canvas_width, image.canvas_height)
    back = canvas_to_image(on_canvas, image)
    assert _inside(back, image.width, image.height)
    assert _covers(back, box)
    scale_x, scale_y = _canvas_units_per_pixel(image)
    slack_x, slack_y = 1 + 1 / scale_x + 1e-6, 1 + 1 / scale_y + 1e-6
    assert box.x - back.x < slack_x and (back.x + back.w) - (box.x + box.w) < slack_x
    assert box.y - back.y < slack_y and (back.y + back.h) - (box.y + box.h) < slack_y


@st.composite
def finer_placements(draw):
    """Images painted at one canvas unit per pixel or more, on a canvas a little larger."""
    width, height = draw(st.integers(1, 3000)), draw(st.integers(1, 3000))
    rotation = draw(st.sampled_from([0, 90, 180, 270]))
    painted_w, painted_h = (height, width) if rotation in (90, 270) else (width, height)
    painted_w = draw(st.integers(painted_w, 4 * painted_w))
    painted_h = draw(st.integers(painted_h, 4 * painted_h))
    x, y = draw(st.integers(0, 100)), draw(st.integers(0, 100))
    return placed(width, height, canvas=(x + painted_w, y + painted_h),
                  region=Box(x, y, painted_w, painted_h), rotation=rotation,
                  mirrored=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), image=finer_placements())
def test_round_trip_within_one_pixel_when_canvas_is_finer(data, image):
    assert min(_canvas_units_per_pixel(image)) >= 1
    box = data.draw(boxes_in(image.width, image.height))
    back = canvas_to_image(image_to_canvas(box, image), image)
    assert max(abs(back.x - box.x), abs(back.y - box.y),
               abs(back.x + back.w - box.x - box.w), abs(back.y + back.h - box.y - box.h)) <= 1


@settings(max_examples=200, deadline=None)
@given(data=st.data(), image=placements())
def test_canvas_boxes_map_inside_the_image(data, image):
    region = image.region_on_canvas
    box = data.draw(boxes_in(image.canvas_width, image.canvas_height))
    assume(box.x < region.x + region.w and region.x < box.x + box.w)
    assume(box.y < region.y + region.h and region.y < box.y + box.h)
    on_image = canvas_to_image(box, image)
    assert _inside(on_image, image.width, image.height)
    again = image_to_canvas(on_image, image)
    assert _inside(again, image.canvas_width, image.canvas_height)
    assert not math.isnan(again.x)


def test_absurd_dimensions_are_treated_as_absent():
    from annoserver.iiif.image_api import _positive
    from annoserver.presentation.properties import positive_int

    for absurd in (10**400, 10**20, 1e300, "1e300", -5, 0):
        assert positive_int(absurd) is None
        assert _positive(absurd) is None
    assert positive_int("640") == 640 and _positive(640) == 640


SIDES = st.integers(min_value=0, max_value=10**6)
POSITIVE = st.integers(min_value=1, max_value=10**6)


@given(SIDES, SIDES, POSITIVE, POSITIVE, st.sampled_from(["", "pixel:"]),
       st.sampled_from(["xywh={}", "https://x.org/canvas/1#xywh={}", "#t=5&xywh={}"]))
def test_xywh_selectors_round_trip(x, y, w, h, unit, spelling):
    fragment = spelling.format(f"{unit}{x},{y},{w},{h}")
    assert parse_xywh(fragment, 1000, 2000) == Box(x, y, w, h)


@given(st.integers(0, 100), st.integers(0, 100), st.integers(1, 100), st.integers(1, 100),
       st.integers(1, 10**5), st.integers(1, 10**5))
def test_percent_selectors_scale_with_the_canvas(x, y, w, h, width, height):
    box = parse_xywh(f"xywh=percent:{x},{y},{w},{h}", width, height)
    assert box == Box(x * width / 100, y * height / 100, w * width / 100, h * height / 100)


@given(st.text(max_size=60) | st.from_regex(r"xywh=(pixel:|percent:)?[-\d., e]{0,30}"))
@example("xywh=percent:0,0,1e308,1e308")  # percentages of a canvas overflowed to infinity
def test_any_selector_text_parses_to_a_positive_box_or_nothing(fragment):
    box = parse_xywh(fragment, 1000, 2000)
    assert box is None or (box.w > 0 and box.h > 0 and all(
        math.isfinite(v) for v in (box.x, box.y, box.w, box.h)))
