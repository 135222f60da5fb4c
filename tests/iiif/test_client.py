"""fetch_region end to end against real IIIF servers: the reference implementation (levels 1/2,
Image API 2.1 and 3.0) and a level-0 static tile set, plus a fake service for broken images."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from annoserver.iiif import (
    BadRegion,
    Box,
    ImageTooLarge,
    Limits,
    Target,
    UndecodableImage,
    fetch_region,
    load_service,
)
from tests.iiif.fixtures import PAGE_SIZE
from tests.iiif.test_decode import encode, jpeg_claiming, png_claiming

VERSIONS = ["2.1", "3.0"]


def mean_error(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def expected(source: np.ndarray, box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """What ``box`` of ``source`` looks like at ``shape``."""
    crop = source[box.y:box.bottom, box.x:box.right]
    return cv2.resize(crop, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def assert_aligned(result, source: np.ndarray, tolerance: float) -> None:
    """The pixels match ``source`` at ``result.covered``, better than one pixel off either way."""
    error = mean_error(result.pixels, expected(source, result.covered, result.pixels.shape))
    assert error < tolerance
    sx, sy = result.scale
    height, width = source.shape[:2]
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        moved = Box(result.covered.x + round(dx * sx), result.covered.y + round(dy * sy),
                    result.covered.w, result.covered.h)
        if moved.x >= 0 and moved.y >= 0 and moved.right <= width and moved.bottom <= height:
            shifted = expected(source, moved, result.pixels.shape)
            assert error < mean_error(result.pixels, shifted), (dx, dy)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("region", "box"), [
    ("10,20,100,50", Box(10, 20, 100, 50)), ("pct:50,50,10,10", Box(300, 200, 60, 40)),
    ("590,390,100,100", Box(590, 390, 10, 10)), ("full", Box(0, 0, 600, 400)),
])
def test_exact_pixels_of_a_region(reference_server, session, sources, version, region, box):
    result = fetch_region(reference_server.info_url(version, "small"), region, session=session,
                          fmt="png")
    assert result.region == result.covered == box and result.scale == (1.0, 1.0)
    assert np.array_equal(result.pixels, sources["small"][box.y:box.bottom, box.x:box.right])


@pytest.mark.parametrize("version", VERSIONS)
def test_224_px_of_a_6000_by_4000_page(reference_server, session, sources, image_dir, version):
    result = fetch_region(reference_server.info_url(version, "page"), "full", 224,
                          session=session)
    assert result.pixels.shape == (149, 224, 3)
    full_pixels, full_bytes = PAGE_SIZE[0] * PAGE_SIZE[1], (image_dir / "page.jpg").stat().st_size
    assert result.pixels.shape[0] * result.pixels.shape[1] <= 0.10 * full_pixels
    assert result.bytes_fetched <= 0.10 * full_bytes
    assert result.urls[0].endswith("/full/224,149/0/default.jpg" if version == "3.0"
                                   else "/full/224,/0/default.jpg")
    assert_aligned(result, sources["page"], 4)
    assert result.scale == pytest.approx((6000 / 224, 4000 / 149))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_region_of_the_page_at_model_size(reference_server, session, sources, version):
    result = fetch_region(reference_server.info_url(version, "page"), "1000,500,2000,1000",
                          Target(longest=224), session=session)
    assert result.pixels.shape == (112, 224, 3) and result.covered == Box(1000, 500, 2000, 1000)
    assert_aligned(result, sources["page"], 4)
    assert result.to_image(112, 56) == pytest.approx((2000, 1000), abs=10)


@pytest.mark.parametrize("region", ["6000,0,10,10", "0,0,0,10", "pct:0,0,0,0", "bogus"])
def test_bad_regions_fail_before_any_image_request(reference_server, session, region):
    with pytest.raises(BadRegion):
        fetch_region(reference_server.info_url("3.0", "page"), region, 224, session=session)


def test_plans_over_the_pixel_limit_are_refused(reference_server, session):
    with pytest.raises(ImageTooLarge):
        fetch_region(reference_server.info_url("3.0", "page"), "full", None, session=session,
                     limits=Limits(max_pixels=1_000_000))


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize(("region", "target", "strategy", "requests"), [
    ("100,100,300,300", None, "tiles", 4),    # full resolution: four 256-px tiles
    ("900,600,100,100", None, "tiles", 1),    # the partial corner tile
    ("0,0,1000,700", 224, "sizes", 1),        # the listed 250x175 size
    ("200,100,500,500", 120, "sizes", 1),     # 250x175 gives 125 ≥ 120 px, the cheapest
    ("0,0,500,500", 200, "tiles", 1),         # 250x175 gives too few: the 2x tile 0,0,512,512
    ("500,400,500,300", 200, "tiles", 4),     # four 2x tiles, three of them partial
])
def test_level0_assembly_matches_the_source(static_server, session, sources, version, region,
                                            target, strategy, requests):
    service = load_service(static_server.info_url(version, "tiled"), session=session)
    result = fetch_region(service, region, target, session=session)
    assert result.covered.contains(result.region)
    assert result.strategy == strategy and len(result.urls) == requests
    if target is None:
        assert result.covered == result.region and result.pixels.shape[:2] == (
            result.region.h, result.region.w)
    else:
        assert max(result.pixels.shape[:2]) >= target
    # Static tiles are JPEGs, resampled by the generator: compare with a tolerance.
    assert_aligned(result, sources["tiled"], 4)


@pytest.fixture
def svc(fault_server):
    """Register a payload as a fake v3 service on the fault server; returns its info.json."""
    def register(name: str, payload: bytes, size=(640, 480)) -> str:
        fault_server.payloads[name] = (payload, size)
        return f"{fault_server.url}/svc/{name}/info.json"
    return register


@pytest.mark.parametrize(("payload", "error"), [
    (png_claiming(100_000, 100_000), ImageTooLarge),
    (jpeg_claiming(60_000, 60_000), ImageTooLarge),
    (encode(np.zeros((480, 640, 3), np.uint8), ".jpg")[:2000], UndecodableImage),
    (b"<html>upstream error page served as 200</html>", UndecodableImage),
])
def test_broken_images_from_upstream(svc, session, payload, error):
    with pytest.raises(error) as caught:
        fetch_region(svc("broken", payload), "full", 224, session=session)
    assert caught.value.to_problem()["status"] in (413, 422)


def test_true_size_differing_from_info_json_is_measured(svc, session):
    # info.json says 640x480 but the server's pixels are half that: the scale is measured.
    info = svc("half", encode(np.full((240, 320, 3), 90, np.uint8), ".png"), (640, 480))
    result = fetch_region(info, "full", None, session=session)
    assert result.pixels.shape == (240, 320, 3) and result.scale == (2.0, 2.0)
    assert result.to_image(10, 10) == (20.0, 20.0)


def test_authorization_reaches_the_image_host(svc, fault_server, session):
    info = svc("restricted", encode(np.zeros((48, 64, 3), np.uint8), ".png"), (64, 48))
    fetch_region(info, "full", None, session=session, authorization="Bearer secret")
    image_requests = [h for h in fault_server.seen_headers if h.get("Authorization")]
    assert len(image_requests) == 2  # info.json and the image
    assert json.dumps(fault_server.seen_headers).count("Bearer secret") == 2
