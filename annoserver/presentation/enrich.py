"""Enriched manifests: the source manifest plus, on every canvas, one annotation page per model.

:func:`enrich_v3` writes Presentation 3 (a v2 source is upgraded first) valid against the IIIF
v3 JSON schema, each canvas's ``annotations`` listing the model pages; :func:`enrich_v2` writes
Presentation 2.1 with ``otherContent`` ``sc:AnnotationList`` entries, for Mirador 2 and UV-era
viewers. Pages are given per canvas id (as :func:`~.reader.read_manifest` reports it)::

    {"https://example.org/canvas/1": [{"model_id": "detector", "url": "https://server/pages/7",
                                        "label": "detector 1.2 annotations",      # optional
                                        "collection": "https://server/layers/3"}]}  # optional

Why not iiif-prezi3 (which DESIGN.md and issue 5 suggest): an enriched manifest is the
source manifest, every property kept, plus annotation links, and iiif-prezi3 3.1.1's models
refuse real manifests that Mirador opens: 5 of the 36 v3 fixtures (the validator's
deliberately broken ones aside) under
``tests/fixtures/iiif/v3`` (``mirador/0001-mvm-image``, ``001``, ``0015-start``, ``hamilton``,
``with_a_provider``), and ``Manifest(**v2)`` returns an empty manifest. So the output is
written as plain JSON and validated against the IIIF v3 JSON schema instead, in tests, for
every fixture (``tests/presentation/test_enrich.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from . import linking
from .downgrade import V2_CONTEXT, downgrade_manifest
from .model import DEFAULT_LIMITS, Limits
from .properties import as_list, dicts, node_id
from .reader import read_manifest
from .strict import Strict
from .upgrade import upgrade_manifest

PageLink = Mapping[str, str]
Pages = Mapping[str, Sequence[PageLink]]


def _label(link: PageLink) -> str:
    return link.get("label") or f"{link.get('model_id', 'machine')} annotations"


def page_reference(link: PageLink) -> dict[str, Any]:
    """The v3 ``annotations`` entry (an AnnotationPage reference) for one model's page."""
    ref: dict[str, Any] = {"id": link["url"], "type": "AnnotationPage",
                           "label": {"en": [_label(link)]}}
    if link.get("collection"):
        ref["partOf"] = [{"id": link["collection"], "type": "AnnotationCollection",
                          "label": {"en": [_label(link)]}}]
    return ref


def annotation_list_reference(link: PageLink) -> dict[str, Any]:
    """The v2 ``otherContent`` entry (an ``sc:AnnotationList``) for one model's page."""
    ref: dict[str, Any] = {"@id": link["url"], "@type": "sc:AnnotationList", "label": _label(link)}
    if link.get("collection"):
        ref["within"] = {"@id": link["collection"], "@type": "sc:Layer", "label": _label(link)}
    return ref


def _append(existing: Any, added: list[dict[str, Any]], id_key: str) -> list[Any]:
    kept = list(as_list(existing))
    known = {node_id(item) for item in kept}
    return kept + [ref for ref in added if ref[id_key] not in known]


def enrich_v3(source: Mapping[str, Any], pages: Pages, *, manifest_id: str | None = None,
              services: Sequence[Mapping[str, Any]] = (),
              limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Write the enriched Presentation 3 manifest.

    Args:
        source: the source manifest JSON, v2 or v3.
        pages: per canvas id, the model pages to list (see the module docstring).
        manifest_id: the enriched manifest's own URL (default: the source's id).
        services: extra manifest services (e.g. search), v3- or v2-shaped.
        limits: as for reading.

    Returns:
        A new dict; the source is not modified.

    Raises:
        NotIIIF: ``source`` is not a manifest (422). TooLarge: too many canvases (413).
    """
    manifest = read_manifest(source, limits=limits)
    manifest_id = manifest_id or manifest.id
    if manifest.version == 2:
        doc = upgrade_manifest(source, manifest_id)
    else:
        doc = copy.deepcopy(dict(source))
    for canvas in dicts(doc.get("items")):
        added = [page_reference(link) for link in pages.get(node_id(canvas) or "", ())]
        if added:
            canvas["annotations"] = _append(canvas.get("annotations"), added, "id")
    out = Strict(manifest_id).manifest(doc)
    extra = linking.services(list(services))
    if extra:
        out["service"] = [*out.get("service", []), *extra]
    return out


def enrich_v2(source: Mapping[str, Any], pages: Pages, *, manifest_id: str | None = None,
              services: Sequence[Mapping[str, Any]] = (),
              limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Write the enriched Presentation 2.1 manifest (``otherContent`` AnnotationLists).

    A v2 source is kept as published (plus ``@context`` when missing, ``otherContent`` made a
    list of objects); a v3 source is downgraded (see :mod:`.downgrade`). Arguments as for
    :func:`enrich_v3`; ``services`` should be v2-shaped here.
    """
    manifest = read_manifest(source, limits=limits)
    manifest_id = manifest_id or manifest.id
    if manifest.version == 3:
        doc = downgrade_manifest(source, manifest_id)
    else:
        doc = {"@context": V2_CONTEXT, **copy.deepcopy(dict(source)), "@id": manifest_id}
    for canvas in (c for s in dicts(doc.get("sequences")) for c in dicts(s.get("canvases"))):
        existing = [{"@id": node_id(o), "@type": "sc:AnnotationList"} if isinstance(o, str) else o
                    for o in as_list(canvas.get("otherContent")) if node_id(o)]
        added = [annotation_list_reference(link) for link in pages.get(node_id(canvas) or "", ())]
        if existing or added:
            canvas["otherContent"] = _append(existing, added, "@id")
    if services:
        doc["service"] = [*as_list(doc.get("service")), *services]
    return doc
