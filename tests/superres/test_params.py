"""Image API 3 request parsing of the super-resolution service (no server needed)."""

from __future__ import annotations

import pytest

from annoserver.errors import BadRequest, NotFound, UnsupportedMediaType
from annoserver.iiif import BadRegion, Box
from annoserver.superres import Limits, decode_upstream, encode_upstream
from annoserver.superres.errors import NotImplementedFeature
from annoserver.superres.params import parse_params

LIMITS = Limits(4000, 4000, 600_000)


def parse(region="full", size="max", rotation="0", filename="default.jpg", limits=LIMITS):
    return parse_params(region, size, rotation, filename, 1200, 800, limits)


def test_upstream_round_trip_is_unpadded_base64url():
    upstream = "https://iiif.example.org/iiif/3/page~1?x"
    segment = encode_upstream(upstream)
    assert "=" not in segment and "/" not in segment and "+" not in segment
    assert decode_upstream(segment) == upstream


@pytest.mark.parametrize("segment", ["[frob]", "a/b", "bm90IGEgdXJs",  # "not a url"
                                     "67352ccc-d1b0-11e1-89ae-279075081939", "_-_-"])
def test_bad_upstream_is_404(segment):
    with pytest.raises(NotFound):
        decode_upstream(segment)


@pytest.mark.parametrize(("size", "expected"), [
    ("max", (948, 632)),  # confined to maxArea 600,000, aspect kept
    ("600,", (600, 400)), (",400", (600, 400)), ("pct:50", (600, 400)),
    ("!600,600", (600, 400)), ("300,300", (300, 300)),
])
def test_sizes(size, expected):
    params = parse(size=size)
    assert (params.width, params.height) == expected


def test_spellings_of_one_image_are_one_request():
    assert parse("full", "pct:50").path() == parse("0,0,1200,800", "600,400", "0",
                                                  "color.jpg").path()
    assert parse().path() != parse(filename="gray.jpg").path()


@pytest.mark.parametrize("size", ["full", "1300,", "pct:101", "!2000,3000", "0,", "abc", ",",
                                  "1100,900", "pct:0"])
def test_bad_or_upscaling_sizes_are_400(size):
    with pytest.raises(BadRequest):
        parse("0,0,1200,1000", size)


def test_size_beyond_max_area_is_400_naming_the_limit():
    with pytest.raises(BadRequest, match="maxArea"):
        parse(size="1200,800")


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"size": "^max"}, NotImplementedFeature), ({"size": "^pct:150"}, NotImplementedFeature),
    ({"size": "^abc"}, BadRequest), ({"rotation": "45"}, NotImplementedFeature),
    ({"rotation": "361"}, BadRequest), ({"rotation": "x"}, BadRequest),
    ({"filename": "default.tif"}, UnsupportedMediaType), ({"filename": "default.zz"}, BadRequest),
    ({"filename": "best.jpg"}, BadRequest), ({"filename": "default"}, BadRequest),
    ({"region": "0,0,0,10"}, BadRegion), ({"region": "1300,0,10,10"}, BadRegion),
    ({"region": "pct:x"}, BadRegion),
])
def test_errors(kwargs, error):
    with pytest.raises(error):
        parse(**kwargs)
    assert error.status in (400, 415, 501)


def test_rotation_mirror_quality():
    params = parse("square", "100,", "!270", "bitonal.png")
    assert params.region == Box(200, 0, 800, 800)
    assert (params.rotation, params.mirror, params.quality, params.format) == (
        270, True, "bitonal", "png")
    assert params.media_type == "image/png"
