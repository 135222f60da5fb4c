from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annoserver.presentation import (
    Box,
    Limits,
    Manifest,
    NotIIIF,
    PresentationError,
    TooLarge,
    detect,
    read_document,
    read_manifest,
)

from .conftest import FIXTURES, fixture_files, fixture_id, load, render

NOT_MANIFESTS = {
    "v2/mirador/annotationMiradorDual.json", "v2/mirador/broken.json",
    "v3/mirador/svg-annotations.json", "v3/validator/annoPage.json",
    "v3/validator/annoPageInCollection.json", "v3/validator/annoPageMultipleMotivations.json",
    "v3/validator/anno_pointselector.json", "v3/validator/annotation_full.json",
    "v3/validator/content_state.json"}
READABLE = [p for p in fixture_files("v2/mirador/*.json", "v3/mirador/*.json",
                                     "v3/validator/*.json", "v3/prezi3/*.json",
                                     "v2/prezi-fixtures/*.json", "cookbook/*/*.json")
            if fixture_id(p) not in NOT_MANIFESTS]


@pytest.mark.parametrize("path", READABLE, ids=fixture_id)
def test_every_fixture_reads(path):
    result = read_document(render(path))
    if isinstance(result, Manifest):
        ids = [canvas.id for canvas in result.canvases]
        assert len(ids) == len(set(ids))
        for canvas in result.canvases:
            assert canvas.width > 0 and canvas.height > 0
            for image in canvas.images:
                assert image.canvas_width == canvas.width
                assert image.region_on_canvas.w > 0 and image.region_on_canvas.h > 0
                assert image.service_version in (None, 1, 2, 3)
    else:
        assert result.members or result.notes


@pytest.mark.parametrize("name", sorted(NOT_MANIFESTS))
def test_other_resources_are_not_iiif_manifests(name):
    with pytest.raises(NotIIIF) as raised:
        read_document(load(name))
    assert raised.value.status == 422
    assert raised.value.detail


@pytest.mark.parametrize("path", fixture_files("v2/prezi-errors/*.json"), ids=fixture_id)
def test_deliberately_invalid_v2_manifests_read_or_fail_cleanly(path):
    try:
        doc = render(path)
    except json.JSONDecodeError:
        pytest.skip("not JSON at all (on purpose); parsing is the HTTP client's job")
    try:
        read_document(doc)
    except PresentationError as error:
        assert error.status in (413, 422)


def test_europeana_other_content_as_bare_string():
    manifest = read_manifest(load("v2/mirador/BibliographicResource_3000126341277.json"))
    first = manifest.canvases[0]
    assert manifest.version == 2
    assert manifest.label == "Uusi Aura, nr: 274A - 1909-11-26"
    assert manifest.rights == "http://creativecommons.org/publicdomain/mark/1.0/"
    assert first.annotations == ("https://iiif.europeana.eu/presentation/9200301/"
                                 "BibliographicResource_3000126341277/annopage/1",)
    image = first.images[0]
    assert (first.width, first.height) == (1890, 2594)
    assert image.service_version == 2 and image.service_id.endswith("19091126_274B_1-0001")
    assert (image.width, image.height) == (None, None)  # not in the manifest: info.json says
    assert image.pixel_size == (1890, 2594)


def test_yale_manifest_without_context_and_image_api_1_service():
    doc = load("v2/mirador/Osbornfa1.json")
    assert "@context" not in doc
    assert detect(doc) == (2, "Manifest")
    manifest = read_manifest(doc)
    image = manifest.canvases[0].images[0]
    assert (manifest.canvases[0].width, manifest.canvases[0].height) == (3603, 4438)
    assert image.service_version == 1
    assert image.service_id == ("https://images.britishart.yale.edu/iiif/"
                                "b38081da-8991-4464-a71e-d9891226a35f")  # trailing / dropped


def test_bodleian_zero_width_canvas_is_skipped_and_recorded():
    manifest = read_manifest(load("v2/mirador/zeroWidthCanvas.json"))
    assert manifest.canvases == ()
    assert manifest.skipped[0].id.endswith("03472cb2-32d3-4c65-b9b6-51119609baac.json")
    assert "width" in manifest.skipped[0].reason


@pytest.mark.parametrize(("name", "count"), [("v2/mirador/gau.json", 13),
                                             ("v2/mirador/multipleSequences.json", 1)])
def test_e_codices_multiple_sequences_use_the_first(name, count):
    manifest = read_manifest(load(name))
    assert len(manifest.canvases) == count
    assert manifest.canvases[0].label == "fragm1a"
    assert any("Sequence-1741" in note for note in manifest.notes)


@pytest.mark.parametrize(("name", "service"), [
    ("v3/validator/version2image.json", "https://example.org/iiif2/image1/identifier"),
    ("v3/mirador/001.json", "https://iiif.bodleian.ox.ac.uk/iiif/image/"
                            "9cca8fdd-4a61-4429-8ac1-f648764b4d6d"),
    ("v3/prezi3/mcinnis-39-v3.json", "https://api-pre.library.tamu.edu/iiif/2/"
                                     "558c93e3-7fd3-388c-8114-08d20a9e47b0")])
def test_v2_image_service_inside_v3_manifest(name, service):
    manifest = read_manifest(load(name))
    image = manifest.canvases[0].images[0]
    assert manifest.version == 3
    assert (image.service_id, image.service_version) == (service, 2)


def test_v2_image_size_differs_from_canvas_size():
    image = read_manifest(load("v3/validator/version2image.json")).canvases[0].images[0]
    assert (image.canvas_width, image.canvas_height) == (750, 1000)
    assert (image.width, image.height) == (1500, 2000)
    assert image.region_on_canvas == Box(0, 0, 750, 1000)


def test_harvard_manifest_canvases_and_other_content():
    manifest = read_manifest(load("v2/mirador/299843.json"))
    assert len(manifest.canvases) == 6
    first = manifest.canvases[0]
    assert (first.label, first.width, first.height) == ("1", 2087, 2550)
    assert first.annotations == ("https://iiif.harvardartmuseums.org/manifests/object/299843/"
                                 "list/47174896",)
    assert first.images[0].service_id == "https://ids.lib.harvard.edu/ids/iiif/47174896"


def test_canvas_level_non_image_service_is_ignored():
    image = read_manifest(load("v2/mirador/canvasService.json")).canvases[0].images[0]
    assert image.service_id == "https://api.digitale-sammlungen.de/iiif/image/v2/bsb00122140_00001"


def test_v2_choice_and_xywh_targets():
    canvas = read_manifest(load("v2/mirador/hamilton.json")).canvases[0]
    assert canvas.images[0].service_id.endswith("HL_524_1r_00_PSC")  # oa:Choice default
    assert canvas.images[1].region_on_canvas == Box(552, 1584, 3360, 2368)
    assert (canvas.images[1].width, canvas.images[1].height) == (739, 521)


def test_canvas_without_service_has_static_image_url():
    image = read_manifest(load("cookbook/0001-mvm-image/manifest.json")).canvases[0].images[0]
    assert image.service_id is None and image.service_version is None
    assert image.image_url.endswith("page1-full.png")


def test_cookbook_composition_of_two_images():
    canvas = read_manifest(
        load("cookbook/0036-composition-from-multiple-images/manifest.json")).canvases[0]
    assert [i.region_on_canvas for i in canvas.images] == [Box(0, 0, 7216, 5412),
                                                           Box(3949, 994, 1091, 1232)]


def test_cookbook_region_and_rotation_selectors():
    region = read_manifest(load("cookbook/0299-region/manifest.json")).canvases[0].images[0]
    assert region.image_region == Box(1768, 2423, 1768, 2080)
    rotated = read_manifest(
        load("cookbook/0040-image-rotation-service/manifest-service.json")).canvases[0].images[0]
    assert (rotated.rotation, rotated.width, rotated.height) == (90, 1523, 2105)


def test_cookbook_missing_image_and_audio_canvases():
    book = read_manifest(load("cookbook/0283-missing-image/manifest.json"))
    assert [len(c.images) for c in book.canvases] == [1, 0, 1, 1]
    audio = read_manifest(load("cookbook/0002-mvm-audio/manifest.json"))
    assert audio.canvases == () and len(audio.skipped) == 1


def test_v3_existing_annotation_pages_are_listed():
    canvas = read_manifest(load("cookbook/0269-embedded-or-referenced-annotations/"
                                "manifest.json")).canvases[0]
    assert canvas.annotations == ("https://cookbook.test/recipe/"
                                  "0269-embedded-or-referenced-annotations/annotationpage.json",)


@pytest.mark.parametrize(("doc", "expected"), [
    ({"@id": "https://x.test/m", "@type": "sc:Manifest", "sequences": []}, (2, "Manifest")),
    ({"id": "https://x.test/m", "type": "Manifest", "items": []}, (3, "Manifest")),
    ({"@id": "https://x.test/c", "manifests": []}, (2, "Collection")),
    ({"@context": "http://www.shared-canvas.org/ns/context.json", "@id": "https://x.test/m",
      "@type": "sc:Manifest"}, (2, "Manifest")),
    ({"@context": ["http://iiif.io/api/presentation/3/context.json"], "id": "https://x.test/c",
      "type": "Collection"}, (3, "Collection"))])
def test_detect(doc, expected):
    assert detect(doc) == expected


@pytest.mark.parametrize("doc", [
    [], "manifest", None, {}, {"test": "Unexpected value"},
    {"@context": "http://iiif.io/api/presentation/4/context.json", "type": "Manifest"},
    {"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Canvas"},
    {"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Manifest"}])
def test_not_iiif(doc):
    with pytest.raises(NotIIIF) as raised:
        read_manifest(doc)
    assert raised.value.status == 422


def test_collection_is_not_a_manifest():
    with pytest.raises(NotIIIF, match="expected a IIIF manifest"):
        read_manifest(load("cookbook/0032-collection/collection.json"))


def test_too_many_canvases():
    with pytest.raises(TooLarge) as raised:
        read_manifest(load("cookbook/0009-book-1/manifest.json"), limits=Limits(max_canvases=4))
    assert raised.value.status == 413
    assert "5 canvases" in raised.value.detail


WORDS = st.sampled_from([
    "Image", "Choice", "SpecificResource", "Canvas", "Range", "Annotation", "AnnotationPage",
    "TextualBody", "Feature", "ImageService2", "ImageService3", "FragmentSelector",
    "ImageApiSelector", "PointSelector", "sc:Canvas", "oa:Choice", "oa:SpecificResource",
    "dctypes:Image", "sc:painting", "painting", "level1", "image/jpeg", "https://x.test/a",
    "https://x.test/c#xywh=1,2,3,4", "xywh=percent:1,2,3,4", "90", "!180", "pct:1,1,50,50",
    "http://iiif.io/api/image/2/context.json", "http://creativecommons.org/licenses/by/4.0/",
    "en", "@none", "none", "info:x"])
KEYS = st.sampled_from([
    "@id", "id", "@type", "type", "width", "height", "duration", "items", "images", "resource",
    "body", "on", "target", "service", "selector", "label", "value", "canvases", "otherContent",
    "annotations", "default", "item", "source", "full", "profile", "@context", "thumbnail",
    "metadata", "rights", "license", "format", "region", "rotation", "motivation", "logo",
    "seeAlso", "partOf", "structures", "ranges", "behavior", "viewingHint", "en", "@value"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5000) | st.floats() | st.text(max_size=5)
    | WORDS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(canvas=JSON, version=st.sampled_from([2, 3]))
def test_junk_inside_a_manifest_never_crashes(canvas, version):
    if version == 2:
        doc = {"@id": "https://x.test/m", "@type": "sc:Manifest",
               "sequences": [{"canvases": [canvas, {"@id": "c", "width": 5, "height": 5,
                                                    "images": [canvas]}]}]}
    else:
        doc = {"id": "https://x.test/m", "type": "Manifest",
               "items": [canvas, {"id": "c", "width": 5, "height": 5,
                                  "items": [{"items": [canvas]}]}]}
    manifest = read_manifest(doc)
    assert all(c.width > 0 for c in manifest.canvases)


def test_fixture_folder_is_present():
    assert (FIXTURES / "iiif_3_0.json").is_file()
