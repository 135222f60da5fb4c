from __future__ import annotations

import pytest

from annoserver.presentation import (
    Limits,
    NotIIIF,
    TooDeep,
    TooLarge,
    iter_manifests,
    read_collection,
    read_document,
)

from .conftest import load

RECIPE = "https://cookbook.test/recipe/0032-collection"


def no_fetch(url):
    raise AssertionError(f"nothing should be fetched, asked for {url}")


def test_cookbook_simple_collection():
    collection = read_collection(load("cookbook/0032-collection/collection.json"))
    assert (collection.version, collection.label) == (3, "Simple Collection Example")
    assert [(m.id, m.type, m.label) for m in collection.members] == [
        (f"{RECIPE}/manifest-01.json", "Manifest", "The Gulf Stream"),
        (f"{RECIPE}/manifest-02.json", "Manifest", "Northeaster")]
    assert [m.id for m in iter_manifests(collection, no_fetch)] == [
        f"{RECIPE}/manifest-01.json", f"{RECIPE}/manifest-02.json"]


def test_cookbook_collection_members_are_readable_manifests():
    collection = read_collection(load("cookbook/0032-collection/collection.json"))
    documents = {f"{RECIPE}/{name}": load(f"cookbook/0032-collection/{name}")
                 for name in ("manifest-01.json", "manifest-02.json")}
    manifests = [read_document(documents[m.id]) for m in iter_manifests(collection, no_fetch)]
    assert [len(m.canvases) for m in manifests] == [1, 1]


def test_v2_collection_of_a_collection_is_fetched():
    parent = read_collection(load("v2/mirador/parentCollection.json"))
    child_doc = load("v2/mirador/collection.json")
    fetched = []

    def fetch(url):
        fetched.append(url)
        return child_doc

    manifests = list(iter_manifests(parent, fetch))
    assert fetched == ["http://iiif.io/api/presentation/2.1/example/fixtures/collection.json"]
    assert manifests[0].id.endswith("fixtures/1/manifest.json")
    assert len(manifests) == len(read_collection(child_doc).members)


def test_v3_embedded_and_referenced_sub_collections():
    top = read_collection(load("v3/validator/collection_of_collections.json"))
    embedded, referenced = top.members
    assert embedded.collection is not None and referenced.collection is None
    sub2 = {"id": referenced.id, "type": "Collection", "label": {"en": ["2"]},
            "items": [{"id": "https://example.org/iiif/3/manifest", "type": "Manifest"}]}
    ids = [m.id for m in iter_manifests(top, lambda url: sub2)]
    assert ids == ["https://example.org/iiif/1/manifest", "https://example.org/iiif/2/manifest",
                   "https://example.org/iiif/3/manifest"]


def test_members_that_are_not_manifests_or_collections_are_noted():
    collection = read_collection(load("v3/validator/collection_of_canvases.json"))
    assert collection.members == ()
    assert len(collection.notes) == 2


def chain(depth):
    """A fetchable chain of collections, each holding one manifest and the next collection."""
    docs = {}
    for level in range(depth + 1):
        items = [{"id": f"https://x.test/m{level}", "type": "Manifest"}]
        if level < depth:
            items.append({"id": f"https://x.test/c{level + 1}", "type": "Collection",
                          "label": {"en": ["next"]}})
        docs[f"https://x.test/c{level}"] = {
            "@context": "http://iiif.io/api/presentation/3/context.json",
            "id": f"https://x.test/c{level}", "type": "Collection", "label": {"en": ["c"]},
            "items": items}
    return docs


def test_nesting_within_the_limit():
    docs = chain(3)
    top = read_collection(docs["https://x.test/c0"])
    found = [m.id for m in iter_manifests(top, docs.__getitem__, limits=Limits(max_depth=3))]
    assert found == [f"https://x.test/m{level}" for level in range(4)]


def test_nesting_beyond_the_limit():
    docs = chain(6)
    top = read_collection(docs["https://x.test/c0"])
    with pytest.raises(TooDeep) as raised:
        list(iter_manifests(top, docs.__getitem__, limits=Limits(max_depth=3)))
    assert raised.value.status == 413
    assert "3 deep" in raised.value.detail


def test_embedded_nesting_beyond_the_limit():
    doc = {"id": "https://x.test/leaf", "type": "Collection", "label": {"en": ["leaf"]},
           "items": []}
    for level in range(5):
        doc = {"id": f"https://x.test/c{level}", "type": "Collection", "label": {"en": ["c"]},
               "items": [doc]}
    assert read_collection(doc, limits=Limits(max_depth=5)).members[0].collection is not None
    with pytest.raises(TooDeep):
        read_collection(doc, limits=Limits(max_depth=4))


def test_cycles_are_not_followed():
    docs = chain(2)
    docs["https://x.test/c2"]["items"].append(
        {"id": "https://x.test/c0", "type": "Collection", "label": {"en": ["loop"]}})
    top = read_collection(docs["https://x.test/c0"])
    assert len(list(iter_manifests(top, docs.__getitem__))) == 3


def test_too_many_manifests_in_all():
    docs = chain(4)
    top = read_collection(docs["https://x.test/c0"])
    with pytest.raises(TooLarge):
        list(iter_manifests(top, docs.__getitem__, limits=Limits(max_members=3)))


def test_too_many_members_in_one_collection():
    with pytest.raises(TooLarge):
        read_collection(load("v2/mirador/collection.json"), limits=Limits(max_members=3))


def test_fetched_document_must_be_a_collection():
    top = read_collection(load("v2/mirador/parentCollection.json"))
    with pytest.raises(NotIIIF):
        list(iter_manifests(top, lambda url: load("v2/mirador/001.json")))
