"""Planning image requests: only the pixels needed, within the server's limits and features."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annoserver.iiif import Box, ImageService, Target, TileSpec, parse_region, plan_fetch

BASE = "http://images.test/iiif/page"


def service(version=3, level=2, width=6000, height=4000, **fields):
    return ImageService(id=BASE, version=version, width=width, height=height, level=level,
                        **fields)


def test_224_px_of_a_6000_by_4000_page_is_one_small_request():
    page = service()
    plan = plan_fetch(page, parse_region("full", 6000, 4000), Target(longest=224))
    assert [r.url for r in plan.requests] == [f"{BASE}/full/224,149/0/default.jpg"]
    assert plan.pixels <= 0.10 * 6000 * 4000
    assert plan.pixels == 224 * 149 and plan.covered == Box(0, 0, 6000, 4000)
    assert plan.scale == pytest.approx((6000 / 224, 4000 / 149))


@pytest.mark.parametrize(("version", "level", "url"), [
    (3, 2, f"{BASE}/100,200,1000,500/224,112/0/default.jpg"),
    (3, 1, f"{BASE}/100,200,1000,500/224,112/0/default.jpg"),
    (2, 2, f"{BASE}/100,200,1000,500/224,/0/default.jpg"),
    (2, 1, f"{BASE}/100,200,1000,500/224,/0/default.jpg"),
])
def test_region_and_size_are_spelt_per_version(version, level, url):
    plan = plan_fetch(service(version, level), Box(100, 200, 1000, 500), Target(longest=224))
    assert plan.strategy == "region" and plan.requests[0].url == url


@pytest.mark.parametrize(("version", "keyword"), [(3, "max"), (2, "full")])
def test_full_size_keyword_per_version(version, keyword):
    plan = plan_fetch(service(version), Box(10, 10, 100, 100), Target(longest=224))
    assert plan.requests[0].url == f"{BASE}/10,10,100,100/{keyword}/0/default.jpg"
    plan = plan_fetch(service(version), Box(0, 0, 6000, 4000), None)
    assert plan.requests[0].url == f"{BASE}/full/{keyword}/0/default.jpg"


def test_upscaling_only_in_v3_with_size_upscaling():
    region, target = Box(0, 0, 100, 50), Target(longest=400, upscale=True)
    upscaling = service(3, extra_features=frozenset({"sizeUpscaling"}))
    assert plan_fetch(upscaling, region, target).requests[0].url.endswith("/^400,200/0/default.jpg")
    assert plan_fetch(service(3), region, target).requests[0].url.endswith("/max/0/default.jpg")
    assert plan_fetch(service(2), region, target).requests[0].url.endswith("/full/0/default.jpg")
    # Without upscale=True nobody asks the server for more pixels than the region has.
    assert plan_fetch(upscaling, region, Target(longest=400)).requests[0].size == (100, 50)


def test_server_limits_are_honoured():
    limited = service(max_width=1000, max_area=400_000)
    plan = plan_fetch(limited, Box(0, 0, 6000, 4000), None)
    (w, h), = [r.size for r in plan.requests]
    assert w <= 1000 and h <= 1000 and w * h <= 400_000
    assert plan.requests[0].url == f"{BASE}/full/{w},{h}/0/default.jpg"
    v2 = plan_fetch(service(2, max_width=800), Box(0, 0, 6000, 4000), None)
    assert v2.requests[0].url == f"{BASE}/full/800,/0/default.jpg"


def test_png_only_where_offered():
    png = service(formats=frozenset({"jpg", "png"}))
    assert plan_fetch(png, Box(0, 0, 9, 9), None, "png").requests[0].url.endswith(".png")
    assert plan_fetch(service(), Box(0, 0, 9, 9), None, "png").requests[0].url.endswith(".jpg")


TILES = (TileSpec(256, 256, (1, 2, 4)),)


def level0(version=3, tiles=TILES, sizes=((250, 175), (125, 88))):
    return service(version, level=0, width=1000, height=700, tiles=tiles, sizes=sizes)


def test_level0_picks_the_coarsest_adequate_scale_factor():
    tiled = level0(sizes=())
    plan = plan_fetch(tiled, Box(0, 0, 600, 600), Target(longest=150))
    assert plan.strategy == "tiles"
    assert {r.box.w // r.size[0] for r in plan.requests} == {4}  # 600/4 = 150 ≥ 150
    plan = plan_fetch(tiled, Box(0, 0, 600, 600), Target(longest=151))
    assert {r.box.w // r.size[0] for r in plan.requests} == {2}


def test_level0_full_image_comes_from_the_nearest_listed_size():
    plan = plan_fetch(level0(), Box(0, 0, 1000, 700), Target(longest=200))
    assert plan.strategy == "sizes"
    assert plan.requests[0].url == f"{BASE}/full/250,175/0/default.jpg"
    assert plan.requests[0].alternates == (f"{BASE}/full/250,/0/default.jpg",)
    v2 = plan_fetch(level0(2), Box(0, 0, 1000, 700), Target(longest=200))
    assert v2.requests[0].url == f"{BASE}/full/250,/0/default.jpg"


def test_level0_tiles_are_spelt_canonically_with_an_alternate():
    plan = plan_fetch(level0(), Box(800, 600, 100, 100), None)
    (request,) = plan.requests
    assert request.url == f"{BASE}/768,512,232,188/232,188/0/default.jpg"
    assert request.alternates == (f"{BASE}/768,512,232,188/232,/0/default.jpg",)
    assert plan.crop == Box(32, 88, 100, 100) and plan.covered == Box(800, 600, 100, 100)


def test_level0_without_tiles_or_sizes_falls_back_to_the_full_image():
    plan = plan_fetch(level0(tiles=(), sizes=()), Box(10, 10, 50, 50), Target(longest=20))
    assert plan.strategy == "full"
    assert plan.requests[0].url == f"{BASE}/full/max/0/default.jpg"


def test_missing_profile_is_treated_as_level0():
    plan = plan_fetch(level0(), Box(10, 10, 50, 50), None)
    assert plan.strategy == "tiles" and "regionByPx" not in level0().features


@st.composite
def services(draw, arbitrary=True):
    width, height = draw(st.integers(1, 20000)), draw(st.integers(1, 20000))
    limit = st.none() | st.integers(64, 5000)
    fields = dict(max_width=draw(limit), max_area=draw(st.none() | st.integers(4096, 10**7)))
    fields["max_height"] = fields["max_width"]
    if not arbitrary:
        tile = draw(st.sampled_from([256, 512, 1024]))
        factors = draw(st.lists(st.sampled_from([1, 2, 4, 8, 16]), min_size=1, unique=True))
        fields = dict(tiles=(TileSpec(tile, tile, tuple(sorted(factors))),))
    return service(draw(st.sampled_from([2, 3])), 2 if arbitrary else 0, width, height,
                   **fields)


@st.composite
def boxes(draw, svc):
    x, y = draw(st.integers(0, svc.width - 1)), draw(st.integers(0, svc.height - 1))
    return Box(x, y, draw(st.integers(1, svc.width - x)), draw(st.integers(1, svc.height - y)))


targets = st.builds(Target, longest=st.none() | st.integers(1, 2048),
                    shortest=st.none() | st.integers(1, 1024))


@given(data=st.data(), target=targets)
def test_region_plans_fit_the_limits_and_never_exceed_the_region(data, target):
    svc = data.draw(services())
    box = data.draw(boxes(svc))
    plan = plan_fetch(svc, box, target)
    (request,) = plan.requests
    w, h = request.size
    assert w <= box.w and h <= box.h
    assert w <= (svc.max_width or w) and h <= (svc.max_height or h)
    assert w * h <= (svc.max_area or w * h)
    assert plan.covered == box and plan.crop == Box(0, 0, w, h)
    # Unless the server's limits forbid it, the model gets at least what it asked for.
    if not (svc.max_width or svc.max_area) and target.longest:
        assert max(w, h) >= min(target.longest, max(box.w, box.h)) - 1


@given(data=st.data(), target=targets)
def test_level0_plans_cover_the_region_with_tiles_inside_the_image(data, target):
    svc = data.draw(services(arbitrary=False))
    box = data.draw(boxes(svc))
    plan = plan_fetch(svc, box, target)
    whole = Box(0, 0, svc.width, svc.height)
    assert plan.covered.contains(box) and whole.contains(plan.covered)
    assert all(whole.contains(r.box) for r in plan.requests)
    mosaic = Box(0, 0, *plan.mosaic_size)
    assert mosaic.contains(plan.crop)
    placed = [Box(*r.offset, *r.size) for r in plan.requests]
    assert all(mosaic.contains(p) for p in placed)
    assert sum(p.area for p in placed) == mosaic.area  # tiles neither overlap nor leave gaps
    # Enough pixels for the target (the full image is always an adequate fallback).
    assert 1 / max(plan.scale) >= target.scale_for(box) - 1e-9
