"""IIIF region strings → pixel boxes: examples, errors and round-trip properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annoserver.iiif import BadRegion, Box, parse_region


@pytest.mark.parametrize(("region", "box"), [
    ("full", Box(0, 0, 6000, 4000)),
    ("square", Box(1000, 0, 4000, 4000)),
    ("10,20,30,40", Box(10, 20, 30, 40)),
    (" 10, 20 ,30,40 ", Box(10, 20, 30, 40)),
    ("5900,3900,500,500", Box(5900, 3900, 100, 100)),  # clipped to the image
    ("pct:0,0,100,100", Box(0, 0, 6000, 4000)),
    ("pct:50,50,50,50", Box(3000, 2000, 3000, 2000)),
    ("pct:10.5,0,0.01,0.01", Box(630, 0, 1, 1)),
    ("pct:90,90,50,50", Box(5400, 3600, 600, 400)),
    (Box(1, 2, 3, 4), Box(1, 2, 3, 4)),
])
def test_regions(region, box):
    assert parse_region(region, 6000, 4000) == box


@pytest.mark.parametrize("region", [
    "", "nonsense", "1,2,3", "1,2,3,4,5", "-1,0,10,10", "0,0,0,10", "0,0,10,0",
    "6000,0,10,10", "0,4000,10,10", "10.5,0,10,10", "pct:100,0,10,10", "pct:0,0,0,10",
    "pct:-5,0,10,10", "pct:a,b,c,d", "1e3,0,10,10", "x" * 500, Box(0, 0, 0, 5),
    Box(7000, 0, 5, 5),
])
def test_bad_regions(region):
    with pytest.raises(BadRegion) as caught:
        parse_region(region, 6000, 4000)
    assert caught.value.status == 400 and caught.value.detail


sizes = st.integers(1, 20000)


@given(width=sizes, height=sizes, data=st.data())
def test_pixel_regions_round_trip(width, height, data):
    x = data.draw(st.integers(0, width - 1))
    y = data.draw(st.integers(0, height - 1))
    box = Box(x, y, data.draw(st.integers(1, width - x)), data.draw(st.integers(1, height - y)))
    assert parse_region(box.as_iiif(), width, height) == box


@given(width=sizes, height=sizes, x=st.integers(0, 30000), y=st.integers(0, 30000),
       w=st.integers(1, 30000), h=st.integers(1, 30000))
def test_pixel_regions_clip_or_refuse(width, height, x, y, w, h):
    try:
        box = parse_region(f"{x},{y},{w},{h}", width, height)
    except BadRegion:
        assert x >= width or y >= height
    else:
        assert Box(0, 0, width, height).contains(box) and box.area > 0
        assert (box.x, box.y) == (x, y)


def decimals(low, high):  # IIIF percentages are plain decimals, never exponents
    return st.integers(round(low * 10**4), round(high * 10**4)).map(lambda n: n / 10**4)


@given(width=sizes, height=sizes, px=decimals(0, 99.9999), py=decimals(0, 99.9999),
       pw=decimals(0.0001, 100), ph=decimals(0.0001, 100))
def test_percent_regions_hold_the_fractional_region(width, height, px, py, pw, ph):
    box = parse_region(f"pct:{px:.4f},{py:.4f},{pw:.4f},{ph:.4f}", width, height)
    assert Box(0, 0, width, height).contains(box) and box.area > 0
    assert box.x <= px * width / 100 + 1e-6 and box.y <= py * height / 100 + 1e-6
    assert box.right >= min(width, (px + pw) * width / 100) - 1e-6
    assert box.bottom >= min(height, (py + ph) * height / 100) - 1e-6
