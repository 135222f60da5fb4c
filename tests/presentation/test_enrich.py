from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annoserver.presentation import (
    NotIIIF,
    enrich_v2,
    enrich_v3,
    read_manifest,
)

from .conftest import V3_SCHEMA, fixture_files, fixture_id, load, render, schema_errors
from .test_reader import JSON, READABLE

SERVER = "https://annoserver.test"
MANIFEST_URL = f"{SERVER}/manifests/k1"
MANIFESTS = [p for p in READABLE if render(p).get("type", render(p).get("@type")) in
             ("Manifest", "sc:Manifest")] + fixture_files("v2/prezi-errors/[1-5]?.json")


def model_pages(manifest, models=("detector", "classifier")):
    return {canvas.id: [{"model_id": model, "url": f"{SERVER}/pages/{i}-{model}"}
                        for model in models]
            for i, canvas in enumerate(manifest.canvases)}


def readable(path):
    try:
        return read_manifest(render(path))
    except Exception:  # the deliberately broken ones that do not read at all
        return None


@pytest.mark.parametrize("path", MANIFESTS, ids=fixture_id)
def test_enriched_v3_is_valid_and_lists_every_model_page(path, v3_schema):
    manifest = readable(path)
    if manifest is None:
        pytest.skip("not a readable manifest")
    source = render(path)
    out = enrich_v3(source, model_pages(manifest), manifest_id=MANIFEST_URL)
    assert schema_errors(v3_schema, out) == []
    assert out["id"] == MANIFEST_URL
    assert source == render(path)  # not modified
    listed = {ref["id"] for canvas in out["items"] for ref in canvas.get("annotations", [])}
    for i in range(len(manifest.canvases)):
        assert f"{SERVER}/pages/{i}-detector" in listed
        assert f"{SERVER}/pages/{i}-classifier" in listed


@pytest.mark.parametrize("path", [p for p in MANIFESTS if "prezi-errors" not in p.parts],
                         ids=fixture_id)
def test_enriched_v2_lists_annotation_lists(path):
    manifest = readable(path)
    if manifest is None:
        pytest.skip("not a readable manifest")
    out = enrich_v2(render(path), model_pages(manifest, ("detector",)), manifest_id=MANIFEST_URL)
    assert out["@context"] == "http://iiif.io/api/presentation/2/context.json"
    again = read_manifest(out)
    assert again.version == 2
    assert [c.id for c in again.canvases] == [c.id for c in manifest.canvases]
    index = {canvas.id: i for i, canvas in enumerate(manifest.canvases)}
    first = out.get("sequences", [{}])[0].get("canvases", [])
    written = [c for c in first if c.get("@id") in index]
    assert len(written) == len(index)
    for canvas in written:
        assert all(isinstance(o, dict) for o in canvas["otherContent"])
        assert {"@id": f"{SERVER}/pages/{index[canvas['@id']]}-detector",
                "@type": "sc:AnnotationList", "label": "detector annotations"} \
            in canvas["otherContent"]


def test_page_reference_shape():
    source = load("cookbook/0009-book-1/manifest.json")
    first = read_manifest(source).canvases[0].id
    pages = {first: [{"model_id": "detector", "url": f"{SERVER}/pages/1",
                      "label": "detector 1.2 annotations", "collection": f"{SERVER}/layers/1"}]}
    out = enrich_v3(source, pages)
    assert out["items"][0]["annotations"] == [{
        "id": f"{SERVER}/pages/1", "type": "AnnotationPage",
        "label": {"en": ["detector 1.2 annotations"]},
        "partOf": [{"id": f"{SERVER}/layers/1", "type": "AnnotationCollection",
                    "label": {"en": ["detector 1.2 annotations"]}}]}]
    assert "annotations" not in out["items"][1]


def test_valid_v3_source_is_kept_as_published():
    source = load("cookbook/0009-book-1/manifest.json")
    out = enrich_v3(source, model_pages(read_manifest(source)))
    for canvas in out["items"]:
        del canvas["annotations"]
    assert out == source


def test_enriching_twice_adds_no_duplicates(v3_schema):
    source = load("v2/mirador/299843.json")
    pages = model_pages(read_manifest(source))
    once = enrich_v3(source, pages)
    twice = enrich_v3(once, pages)
    assert twice == once
    assert schema_errors(v3_schema, twice) == []


def test_v2_upgrade_keeps_descriptive_properties():
    out = enrich_v3(load("v2/mirador/BibliographicResource_3000126341277.json"), {})
    assert out["label"] == {"none": ["Uusi Aura, nr: 274A - 1909-11-26"]}
    assert out["rights"] == "http://creativecommons.org/publicdomain/mark/1.0/"
    assert out["requiredStatement"]["label"] == {"en": ["Attribution"]}
    assert out["metadata"][0]["value"]["en"] == ["Analytic serial", "Newspaper",
                                                  "Newspaper Issue"]
    assert out["navDate"] == "1909-11-26T00:00:00Z"
    assert out["partOf"] == [{"id": "http://data.theeuropeanlibrary.org/Collection/a0611",
                              "type": "Collection"}]
    assert out["provider"][0]["logo"][0]["id"].endswith("europeana-logo-default.png")
    canvas = out["items"][0]
    assert canvas["annotations"] == [{"id": "https://iiif.europeana.eu/presentation/9200301/"
                                           "BibliographicResource_3000126341277/annopage/1",
                                     "type": "AnnotationPage"}]
    body = canvas["items"][0]["items"][0]["body"]
    assert body["type"] == "Image" and body["service"][0]["@type"] == "ImageService2"


@pytest.mark.parametrize(("licence", "rights", "in_metadata"), [
    ("https://creativecommons.org/licenses/by/4.0/", "http://creativecommons.org/licenses/by/4.0/",
     False),
    ("https://rightsstatements.org/page/InC/1.0/", "http://rightsstatements.org/vocab/InC/1.0/",
     False),
    ("https://example.org/our-terms", None, True)])
def test_v2_license_becomes_valid_rights_or_metadata(licence, rights, in_metadata, v3_schema):
    source = copy.deepcopy(load("v2/mirador/minimumRequired.json"))
    source["license"] = licence
    out = enrich_v3(source, {})
    assert out.get("rights") == rights
    licences = [m for m in out.get("metadata", []) if m["label"] == {"en": ["License"]}]
    assert bool(licences) == in_metadata
    assert schema_errors(v3_schema, out) == []


def test_invalid_nav_date_is_dropped():
    source = load("v2/mirador/2017498721.json")
    assert source["navDate"] == "1949-01-01:T00:00:00Z"
    assert "navDate" not in enrich_v3(source, {})
    assert enrich_v3(load("v2/mirador/BibliographicResource_3000126341277.json"), {})[
        "navDate"] == "1909-11-26T00:00:00Z"


def test_invalid_v3_rights_are_dropped():
    assert read_manifest(load("v3/validator/non_cc_license.json")).rights
    assert "rights" not in enrich_v3(load("v3/validator/non_cc_license.json"), {})


def test_service_objects_become_arrays():
    out = enrich_v3(load("v3/validator/broken_service.json"), {})
    service = out["items"][0]["items"][0]["items"][0]["body"]["service"]
    assert service == [{"id": "https://example.org/iiif/book1/page1", "type": "ImageService3",
                        "profile": "level2"}]


def test_further_v2_sequences_become_sequence_ranges():
    out = enrich_v3(load("v2/mirador/gau.json"), {})
    sequences = [r for r in out["structures"] if r.get("behavior") == ["sequence"]]
    assert len(sequences) == 1 and len(sequences[0]["items"]) == 16
    assert len(out["items"]) == 13


def test_v2_structures_become_nested_ranges():
    out = enrich_v3(load("v2/mirador/structures.json"), {})
    root, orphan = out["structures"]  # 0-1-2-0 is in no other range: a top range too
    assert (root["id"], orphan["id"]) == ("http://foo.test/1/range/root",
                                          "http://foo.test/1/range/0-1-2-0")
    assert [item["id"] for item in root["items"]][:2] == ["http://foo.test/1/range/0-0",
                                                          "http://foo.test/1/range/0-1"]
    assert root["items"][0]["items"][0]["type"] == "Range"


def test_non_http_canvas_ids_are_minted_and_targets_follow(v3_schema):
    source = load("v2/mirador/iiifauth.json")
    out = enrich_v3(source, {}, manifest_id=MANIFEST_URL)
    canvas = out["items"][0]
    assert canvas["id"] == f"{MANIFEST_URL}/canvas/0"
    assert canvas["items"][0]["items"][0]["target"] == canvas["id"]
    assert schema_errors(v3_schema, out) == []


def test_search_services_are_added(v3_schema):
    services = [{"id": f"{SERVER}/search/k1", "type": "SearchService2"},
                {"@context": "http://iiif.io/api/search/1/context.json",
                 "@id": f"{SERVER}/search1/k1", "profile": "http://iiif.io/api/search/1/search"}]
    out = enrich_v3(load("cookbook/0001-mvm-image/manifest.json"), {}, services=services)
    assert out["service"][1]["@type"] == "SearchService1"
    assert schema_errors(v3_schema, out) == []
    v2 = enrich_v2(load("v2/mirador/001.json"), {}, services=services[1:])
    assert v2["service"] == services[1:]


def test_v2_variant_of_a_v3_source():
    source = load("cookbook/0299-region/manifest.json")
    manifest = read_manifest(source)
    out = enrich_v2(source, model_pages(manifest, ("detector",)), manifest_id=MANIFEST_URL)
    resource = out["sequences"][0]["canvases"][0]["images"][0]["resource"]
    assert resource["@type"] == "oa:SpecificResource"
    assert resource["selector"]["region"] == "1768,2423,1768,2080"
    again = read_manifest(out).canvases[0].images[0]
    assert again == manifest.canvases[0].images[0]


def test_v2_variant_of_a_v2_source_keeps_it_and_fixes_other_content():
    source = load("v2/mirador/Osbornfa1.json")
    out = enrich_v2(source, {})
    assert out["@context"] == "http://iiif.io/api/presentation/2/context.json"
    assert out["sequences"] == source["sequences"]
    europeana = enrich_v2(load("v2/mirador/BibliographicResource_3000126341277.json"), {})
    first = europeana["sequences"][0]["canvases"][0]
    assert first["otherContent"] == [{"@id": "https://iiif.europeana.eu/presentation/9200301/"
                                             "BibliographicResource_3000126341277/annopage/1",
                                      "@type": "sc:AnnotationList"}]


def test_only_manifests_are_enriched():
    with pytest.raises(NotIIIF):
        enrich_v3(load("cookbook/0032-collection/collection.json"), {})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk=JSON)
@example(junk="http")  # matches the schema's ^http pattern but is no URI (found by this test)
def test_junk_is_written_strictly(junk):
    for source in (
        {"id": "https://x.test/m", "type": "Manifest", "label": junk, "metadata": junk,
         "items": [junk, {"id": "https://x.test/c", "width": 5, "height": 5, "thumbnail": junk,
                          "items": [{"items": [junk, {"body": junk, "target": junk}]}]}]},
        {"@id": "https://x.test/m", "@type": "sc:Manifest", "label": junk, "license": junk,
         "sequences": [{"canvases": [junk, {"@id": "https://x.test/c", "width": 5, "height": 5,
                                            "images": [{"resource": junk, "on": junk}]}]}]}):
        out = enrich_v3(source, {"https://x.test/c": [{"model_id": "m", "url": f"{SERVER}/p"}]})
        assert schema_errors(V3_SCHEMA, out) == []


V3_KEYS = ["label", "summary", "metadata", "requiredStatement", "rights", "thumbnail", "seeAlso",
           "rendering", "homepage", "partOf", "provider", "service", "services", "behavior",
           "viewingDirection", "navDate", "navPlace", "start", "structures", "annotations",
           "placeholderCanvas", "accompanyingCanvas", "width", "height", "duration"]
V2_KEYS = ["label", "metadata", "description", "attribution", "license", "logo", "thumbnail",
           "service", "seeAlso", "rendering", "related", "within", "viewingHint",
           "viewingDirection", "navDate", "structures", "otherContent", "width", "height"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v3=st.dictionaries(st.sampled_from(V3_KEYS), JSON, max_size=6),
       v2=st.dictionaries(st.sampled_from(V2_KEYS), JSON, max_size=6))
def test_junk_properties_are_written_strictly(v3, v2):
    for source in (
        {"id": "https://x.test/m", "type": "Manifest", **v3,
         "items": [{**v3, "id": "https://x.test/c", "width": 5, "height": 5, "items": []}]},
        {"@id": "https://x.test/m", "@type": "sc:Manifest", **v2,
         "sequences": [{"canvases": [{**v2, "@id": "https://x.test/c", "width": 5,
                                      "height": 5}]}]}):
        assert schema_errors(V3_SCHEMA, enrich_v3(source, {})) == []
