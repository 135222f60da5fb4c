"""Reading info.json of Image API 2.x and 3.0, tolerantly, and the level feature table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annoserver.iiif import ImageService, TileSpec, UpstreamError, info_url, load_service
from annoserver.iiif.image_api import LEVEL_FEATURES, detect_version, parse_info

PROFILES = Path(__file__).resolve().parent / "fixtures" / "profiles"
V2 = "http://iiif.io/api/image/2/context.json"
V3 = "http://iiif.io/api/image/3/context.json"


def profile_documents():
    for path in sorted(PROFILES.glob("image-*-level*.json")):
        _, version, level = path.stem.split("-")
        yield int(version), int(level[-1]), json.loads(path.read_text())


def test_level_table_matches_the_iiif_profiles():
    seen = 0
    for version, level, document in profile_documents():
        declared = document["supports"] if version == 2 else document["extraFeatures"]
        assert LEVEL_FEATURES[(version, level)] == set(declared), (version, level)
        seen += 1
    assert seen == 6


@pytest.mark.parametrize(("version", "level", "document"), list(profile_documents()))
def test_info_with_each_profile(version, level, document):
    if version == 2:
        info = {"@context": V2, "@id": "http://images.test/a/", "width": 100, "height": 50,
                "profile": [document["@id"], {k: v for k, v in document.items()
                                              if not k.startswith("@")}]}
    else:
        info = {"@context": V3, "id": "http://images.test/a", "type": "ImageService3",
                "width": 100, "height": 50, "profile": f"level{level}",
                **{k: v for k, v in document.items() if k.startswith("extra")}}
    service = parse_info(info)
    assert (service.version, service.level, service.id) == (version, level, "http://images.test/a")
    assert service.features >= LEVEL_FEATURES[(version, level)]
    formats = document.get("formats", document.get("extraFormats"))
    assert service.formats >= set(formats)


def test_v3_info_in_full():
    service = parse_info({
        "@context": [V3], "id": "https://images.test/iiif/3/abc", "type": "ImageService3",
        "protocol": "http://iiif.io/api/image", "profile": "level1", "width": 6000,
        "height": 4000, "maxWidth": 2000, "maxArea": 3_000_000,
        "sizes": [{"width": 150, "height": 100}, {"width": 600, "height": 400}, {"width": 0}],
        "tiles": [{"width": 512, "scaleFactors": [1, 2, 4, 8, 16]}],
        "extraFeatures": ["sizeUpscaling"], "extraFormats": ["png", "webp"],
        "extraQualities": ["gray"]})
    assert service == ImageService(
        id="https://images.test/iiif/3/abc", version=3, width=6000, height=4000, level=1,
        max_width=2000, max_height=2000, max_area=3_000_000, sizes=((150, 100), (600, 400)),
        tiles=(TileSpec(512, 512, (1, 2, 4, 8, 16)),), extra_features=frozenset({"sizeUpscaling"}),
        formats=frozenset({"jpg", "png", "webp"}), qualities=frozenset({"default", "gray"}))
    assert service.supports("sizeByWh") and service.supports("sizeUpscaling")
    assert not service.supports("regionByPct")
    assert service.image_url("full", "max") == "https://images.test/iiif/3/abc/full/max/0/default.jpg"


def test_v2_info_with_limits_in_the_profile():
    service = parse_info({
        "@context": V2, "@id": "https://images.test/iiif/2/abc", "protocol":
        "http://iiif.io/api/image", "width": 3000, "height": 2000,
        "profile": ["http://iiif.io/api/image/2/level2.json",
                    {"formats": ["gif"], "supports": ["regionSquare"], "maxWidth": 1000}],
        "tiles": [{"width": 256, "height": 512, "scaleFactors": [1, 2]}]})
    assert (service.version, service.level, service.max_width, service.max_height) == (
        2, 2, 1000, 1000)
    assert service.supports("regionSquare") and service.supports("sizeByWh")
    assert service.tiles == (TileSpec(256, 512, (1, 2)),)
    assert service.formats == {"jpg", "png", "gif"} and service.max_size_keyword == "full"


@pytest.mark.parametrize(("info", "version", "level"), [
    ({"@context": V2, "@id": "x", "width": 1, "height": 1}, 2, 0),  # no profile at all
    ({"@context": V2, "@id": "x", "width": 1, "height": 1,
      "profile": "http://iiif.io/api/image/2/level1.json"}, 2, 1),  # a bare string
    ({"@context": V2, "@id": "x", "width": 1, "height": 1,
      "profile": "http://library.stanford.edu/iiif/image-api/1.1/compliance.html#level2"}, 2, 2),
    ({"@context": V2, "@id": "x", "width": 1, "height": 1,
      "profile": [{"supports": ["regionByPx"]}]}, 2, 0),  # a description without a level
    ({"id": "x", "type": "ImageService2", "profile": "level2", "width": 1, "height": 1}, 2, 2),
    ({"@id": "x", "@type": "iiif:Image", "profile": "level1", "width": 1, "height": 1}, 2, 1),
    ({"id": "x", "type": "ImageService3", "profile": "level0", "width": 1, "height": 1}, 3, 0),
    ({"id": "x", "profile": "level2", "width": 1, "height": 1}, 3, 2),  # v3 by its id key
    ({"@context": ["http://example.org/extra.json", V3], "id": "x", "width": 1,
      "height": 1.0}, 3, 0),
])
def test_tolerated_variants(info, version, level):
    service = parse_info(info)
    assert (service.version, service.level, service.width, service.height) == (
        version, level, 1, 1)


def test_id_from_the_url_when_missing_and_trailing_parts_dropped():
    assert parse_info({"@context": V3, "width": 5, "height": 5},
                      url="http://images.test/a/info.json").id == "http://images.test/a"
    assert parse_info({"@context": V3, "id": "http://images.test/b/info.json", "width": 5,
                       "height": 5}).id == "http://images.test/b"
    assert info_url("http://images.test/a/") == "http://images.test/a/info.json"
    assert info_url("http://images.test/a/info.json") == "http://images.test/a/info.json"


@pytest.mark.parametrize("info", [
    [], "text", {"@context": V3, "id": "x", "height": 10},
    {"@context": V3, "id": "x", "width": -1, "height": 10},
    {"@context": V3, "id": "x", "width": "wide", "height": 10},
    {"@context": V3, "id": "x", "width": True, "height": 10},
    {"@context": V3, "width": 10, "height": 10},  # no id, no URL
    {"@context": "http://library.stanford.edu/iiif/image-api/1.1/context.json",
     "@id": "x", "width": 1, "height": 1},
])
def test_unusable_info_is_an_upstream_error(info):
    with pytest.raises(UpstreamError) as caught:
        parse_info(info)
    assert caught.value.status == 502


def test_version_detection_prefers_context_over_other_hints():
    assert detect_version({"@context": V2, "id": "x", "type": "ImageService3"}) == 2
    assert detect_version({"@context": V3, "@id": "x"}) == 3


@pytest.mark.parametrize(("version", "keyword"), [("2.1", "full"), ("3.0", "max")])
def test_reference_server_info(reference_server, session, version, keyword):
    service = load_service(reference_server.info_url(version, "small"), session=session)
    assert service.version == int(version[0]) and (service.width, service.height) == (600, 400)
    assert service.id == f"{reference_server.url}/{version}_pil/small"
    assert service.level >= 1 and "png" in service.formats
    assert service.supports("regionByPx") and service.max_size_keyword == keyword
    assert service.tiles and service.tiles[0].width == 512


@pytest.mark.parametrize("version", [2, 3])
def test_static_level0_info(static_server, session, version):
    service = load_service(static_server.info_url(version, "tiled"), session=session)
    assert (service.version, service.level, service.width, service.height) == (
        version, 0, 1000, 700)
    assert service.tiles[0].width == 256 and (250, 175) in service.sizes
    assert not service.supports("regionByPx")
