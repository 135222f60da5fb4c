"""Enriched manifests and collections: the registered source plus one annotation page per model.

Every canvas lists, per model any job ran on the manifest, the page ``/pages/{id}`` (one canvas
× model, read live from the store, so new annotations appear without regenerating anything),
labelled with the model's name and version and ``partOf`` that model's AnnotationCollection
(the container filtered to the manifest and model), and the manifest lists its IIIF Content
Search services (:func:`search_services`). A registered collection becomes a
Presentation 3 collection of the enriched manifests of its members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from annoserver.presentation import Limits, enrich_v2, enrich_v3, read_manifest
from annoserver.store.keys import page_id
from annoserver.store.manifests import ManifestRecord

PRESENTATION_3 = "http://iiif.io/api/presentation/3/context.json"
PRESENTATION_2 = "http://iiif.io/api/presentation/2/context.json"
SEARCH_1 = "http://iiif.io/api/search/1/context.json"
SEARCH_2 = "http://iiif.io/api/search/2/context.json"


@dataclass(frozen=True)
class Layer:
    """A model's machine-annotation layer: its id and the label viewers show."""

    model_id: str
    label: str


def manifest_url(base_url: str, key: str, version: int = 3) -> str:
    """Where the enriched manifest (or collection) ``key`` is served."""
    return f"{base_url}manifests/{key}" + ("?version=2" if version == 2 else "")


def page_url(base_url: str, page: str, version: int = 3) -> str:
    """Where annotation page ``page`` is served (``?version=2``: as an sc:AnnotationList)."""
    return f"{base_url}pages/{quote(page, safe='')}" + ("?version=2" if version == 2 else "")


def layer_collection_url(base_url: str, manifest_id: str, model_id: str) -> str:
    """The AnnotationCollection of one model's annotations on one manifest."""
    return f"{base_url}annotations/?" + urlencode({"manifest": manifest_id, "model": model_id})


def search_url(base_url: str, key: str, version: int = 2) -> str:
    """Where the Content Search service (2.0, or 1.0 with ``version=1``) of ``key`` answers."""
    return f"{base_url}search/{key}" + ("/v1" if version == 1 else "")


def search_services(base_url: str, key: str, presentation: int) -> list[dict[str, Any]]:
    """A manifest's search services: 1.0 (the one Mirador reads) and, in v3, also 2.0."""
    v1, v2 = search_url(base_url, key, 1), search_url(base_url, key)
    search_1 = {"profile": "http://iiif.io/api/search/1/search"}
    autocomplete_1 = {"profile": "http://iiif.io/api/search/1/autocomplete"}
    if presentation == 2:
        return [{"@context": SEARCH_1, "@id": v1, **search_1,
                 "service": {"@id": f"{v1}/autocomplete", **autocomplete_1}}]
    return [{"@context": SEARCH_1, "id": v1, "type": "SearchService1", **search_1,
             "service": [{"id": f"{v1}/autocomplete", "type": "AutoCompleteService1",
                          **autocomplete_1}]},
            {"@context": SEARCH_2, "id": v2, "type": "SearchService2",
             "service": [{"id": f"{v2}/autocomplete", "type": "AutoCompleteService2"}]}]


def page_links(record: ManifestRecord, layers: Sequence[Layer], base_url: str, version: int,
               limits: Limits) -> dict[str, list[dict[str, str]]]:
    """Per canvas id, the model pages :func:`~annoserver.presentation.enrich_v3` lists."""
    manifest = read_manifest(record.source, limits=limits)
    return {canvas.id: [{"model_id": layer.model_id, "label": layer.label,
                         "url": page_url(base_url, page_id(record.key, canvas.id,
                                                           layer.model_id), version),
                         "collection": layer_collection_url(base_url, record.iiif_id,
                                                            layer.model_id)}
                        for layer in layers]
            for canvas in manifest.canvases}


def enriched_manifest(record: ManifestRecord, layers: Sequence[Layer], base_url: str,
                      version: int, limits: Limits) -> dict[str, Any]:
    """The enriched manifest as Presentation 3 (or 2.1 with ``otherContent``)."""
    pages = page_links(record, layers, base_url, version, limits)
    writer = enrich_v2 if version == 2 else enrich_v3
    return writer(record.source, pages, manifest_id=manifest_url(base_url, record.key, version),
                  services=search_services(base_url, record.key, version), limits=limits)


def enriched_collection(record: ManifestRecord, members: Sequence[ManifestRecord],
                        base_url: str, version: int) -> dict[str, Any]:
    """A collection of the enriched manifests of a registered collection's members."""
    own = manifest_url(base_url, record.key, version)
    if version == 2:
        return {"@context": PRESENTATION_2, "@id": own, "@type": "sc:Collection",
                "label": record.label or record.url,
                "manifests": [{"@id": manifest_url(base_url, m.key, 2), "@type": "sc:Manifest",
                               "label": m.label or m.url} for m in members]}
    return {"@context": PRESENTATION_3, "id": own, "type": "Collection",
            "label": {"none": [record.label or record.url]},
            "items": [{"id": manifest_url(base_url, m.key), "type": "Manifest",
                       "label": {"none": [m.label or m.url]}} for m in members]}
