"""Making a v3 manifest (upgraded or as published) valid against the IIIF v3 JSON schema.

"Read tolerantly, write strictly": descriptive properties go through :mod:`.linking` and
:mod:`.language`; canvases without a size are dropped; ids that are no http URIs are minted
under the manifest id (canvas targets follow); properties the schema forbids on a manifest or
an embedded AnnotationPage are dropped. A valid manifest passes through unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from . import bodies, linking
from .language import language_map
from .painting import intrinsic_size
from .properties import as_list, dicts, node_id, node_type, positive_int

log = logging.getLogger(__name__)

V3_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
_PRESENTATION_CONTEXT = "iiif.io/api/presentation/"
MANIFEST_KEYS = frozenset({
    "@context", "id", "type", "label", "metadata", "summary", "requiredStatement", "rendering",
    "service", "services", "viewingDirection", "placeholderCanvas", "accompanyingCanvas",
    "rights", "start", "navDate", "navPlace", "provider", "seeAlso", "thumbnail", "homepage",
    "behavior", "partOf", "items", "structures", "annotations"})
PAGE_KEYS = frozenset({"@context", "id", "type", "rendering", "label", "service", "thumbnail",
                       "items", "partOf", "next", "prev", "first", "last"})
_FIXERS: dict[str, Callable[[Any], Any]] = {
    "label": language_map, "summary": language_map,
    "metadata": lambda v: _pairs(v) or None, "requiredStatement": lambda v: _pair(v, True),
    "rights": linking.rights, "thumbnail": linking.resources,
    "seeAlso": lambda v: linking.linked(v, "Dataset"),
    "rendering": lambda v: linking.linked(v, "Text"),
    "homepage": lambda v: linking.linked(v, "Text"),
    "partOf": lambda v: linking.linked(v, "Manifest"),
    "provider": linking.provider, "service": linking.services, "services": linking.services,
    "behavior": linking.behavior, "viewingDirection": linking.viewing_direction,
    "navDate": lambda v: v if _is_date_time(v) else None, "navPlace": bodies.nav_place,
    "width": positive_int, "height": positive_int, "duration": linking.duration}


def _collection_ref(value: Any) -> dict[str, Any] | None:
    """A Range's ``supplementary`` AnnotationCollection, as a bare reference."""
    collection_id = node_id(value) if isinstance(value, Mapping) else None
    if not linking.is_http(collection_id):
        return None
    label = language_map(value.get("label"))
    return {"id": collection_id, "type": "AnnotationCollection", **({"label": label} if label
                                                                     else {})}


def _is_date_time(value: Any) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return False
    return "T" in value


def _pair(value: Any, default_label: bool = False) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    label, text = language_map(value.get("label")), language_map(value.get("value"))
    if label is None and default_label and text is not None:
        label = {"en": ["Attribution"]}
    return {"label": label, "value": text} if label and text else None


def _pairs(value: Any) -> list[dict[str, Any]]:
    return [p for p in (_pair(v) for v in as_list(value)) if p]


def fix_properties(node: dict[str, Any]) -> dict[str, Any]:
    """Fix every descriptive/linking property of ``node`` in place (dropping invalid ones)."""
    for key in [k for k in node if k in _FIXERS]:
        fixed = _FIXERS[key](node[key])
        if fixed is None:
            del node[key]
        else:
            node[key] = fixed
    if ("width" in node) != ("height" in node):
        node.pop("width", None)
        node.pop("height", None)
    return node


def _context(value: Any) -> str | list[str]:
    extensions = [c for c in as_list(value)
                  if linking.is_http(c) and _PRESENTATION_CONTEXT not in c]
    return [*extensions, V3_CONTEXT] if extensions or isinstance(value, list) else V3_CONTEXT


class Strict:
    """One manifest's strict rewrite: knows the manifest id and the canvas ids it re-minted."""

    def __init__(self, manifest_id: str) -> None:
        self.manifest_id = manifest_id
        self.renamed: dict[str, str] = {}
        self.nesting = 0  # embedded pages inside bodies inside pages...: bounded

    def mint(self, value: Any, path: str) -> str:
        """``value`` if it is an http id, else a stable id under the manifest."""
        if linking.is_http(value):
            return value
        minted = f"{self.manifest_id.split('#')[0]}/{path}"
        log.info("id %r is no http URI: written as %s", value, minted)
        return minted

    def manifest(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The strict form of a v3 manifest (a new dict; ``doc`` is left alone)."""
        out = {k: v for k, v in doc.items() if k in MANIFEST_KEYS}
        dropped = sorted(set(doc) - MANIFEST_KEYS)
        if dropped:
            log.info("manifest %s: properties not allowed in v3 dropped: %s",
                     self.manifest_id, ", ".join(dropped))
        out.update({"@context": _context(doc.get("@context")), "id": self.manifest_id,
                    "type": "Manifest"})
        fix_properties(out)
        out.setdefault("label", {"none": [self.manifest_id]})
        canvases = [self.canvas(c, f"canvas/{i}") for i, c in enumerate(dicts(doc.get("items")))]
        out["items"] = [c for c in canvases if c is not None]
        for key in ("placeholderCanvas", "accompanyingCanvas"):
            self._optional_canvas(out, key)
        linking.replace_or_drop(out, "structures", lambda v: [self.range(r, f"range/{i}")
                                                     for i, r in enumerate(dicts(v))] or None)
        linking.replace_or_drop(out, "annotations", self.page_refs)
        return out

    def _optional_canvas(self, node: dict[str, Any], key: str) -> None:
        linking.replace_or_drop(
            node, key, lambda v: self.canvas(v, key) if isinstance(v, Mapping) else None)

    def canvas(self, raw: Mapping[str, Any], path: str) -> dict[str, Any] | None:
        """A strict canvas, or ``None`` (logged) when it has neither a size nor a duration."""
        original = node_id(raw)
        canvas_id = self.mint(original, path)
        if original and original != canvas_id:
            self.renamed[original] = canvas_id
        out = fix_properties({**raw, "id": canvas_id, "type": "Canvas"})
        out = {k: v for k, v in out.items() if k not in ("@id", "@type", "@context")}
        pages = [self.page(p, f"{canvas_id}/page/{i}", canvas_id)
                 for i, p in enumerate(dicts(raw.get("items"))) if "items" in p]
        out["items"] = pages
        if not ("width" in out or "duration" in out):
            self._size_from_image(out)
        if not ("width" in out or "duration" in out):
            log.info("canvas %s has no size or duration: left out", canvas_id)
            return None
        linking.replace_or_drop(out, "annotations", lambda v: self.page_refs(v, canvas_id))
        for key in ("placeholderCanvas", "accompanyingCanvas"):
            self._optional_canvas(out, key)
        return out

    @staticmethod
    def _size_from_image(canvas: dict[str, Any]) -> None:
        paintings = [(a.get("body"), a.get("target")) for p in canvas["items"]
                     for a in p["items"] if a.get("motivation") == "painting"]
        width, height = intrinsic_size(paintings)
        if width and height:
            canvas.update(width=width, height=height)

    def page(self, raw: Mapping[str, Any], fallback_id: str, canvas_id: str) -> dict[str, Any]:
        """A strict embedded AnnotationPage (only the properties the schema allows)."""
        out = {k: v for k, v in raw.items() if k in PAGE_KEYS}
        page_id = node_id(raw)
        out.update(id=page_id if linking.is_http(page_id) else fallback_id, type="AnnotationPage")
        fix_properties(out)
        out.pop("partOf", None)  # pages are partOf AnnotationCollections, not worth fixing
        for key in ("next", "prev", "first", "last"):
            if not linking.is_http(node_id(out.get(key))):
                out.pop(key, None)
        out["items"] = [self.annotation(a, f"{out['id']}/annotation/{i}", canvas_id)
                        for i, a in enumerate(dicts(raw.get("items")))]
        return out

    def page_refs(self, value: Any, canvas_id: str = "") -> list[dict[str, Any]] | None:
        """Canvas/manifest ``annotations``: embedded pages made strict, references kept."""
        kept = []
        for item in as_list(value):
            embedded = isinstance(item, Mapping) and "items" in item and self.nesting < 3
            if embedded and linking.is_http(node_id(item)):
                self.nesting += 1
                kept.append(self.page(item, node_id(item) or "", canvas_id))
                self.nesting -= 1
            elif linking.is_http(node_id(item)):
                ref = {**item} if isinstance(item, Mapping) else {}
                ref = {k: v for k, v in ref.items() if k not in ("@id", "@type", "items")}
                kept.append(fix_properties({**ref, "id": node_id(item), "type": "AnnotationPage"}))
        return kept or None

    def annotation(self, raw: Mapping[str, Any], minted: str, canvas_id: str) -> dict[str, Any]:
        """A strict annotation: http id, motivation strings, valid body and target."""
        out = {k: v for k, v in raw.items() if k not in ("@id", "@type", "@context")}
        annotation_id = node_id(raw)
        out.update(id=annotation_id if linking.is_http(annotation_id) else minted,
                   type="Annotation")
        motivations = [m for m in as_list(raw.get("motivation")) if isinstance(m, str)]
        as_given = motivations[0] if len(motivations) == 1 and isinstance(
            raw.get("motivation"), str) else motivations
        out["motivation"] = as_given or "painting"
        fix_properties(out)
        bodies.fix_body(out)
        for resource in bodies.resources_in(out.get("body")):
            linking.replace_or_drop(resource, "annotations",
                                    lambda v: self.page_refs(v, canvas_id))
        out["target"] = self.target(raw.get("target"), canvas_id)
        return out

    def target(self, value: Any, canvas_id: str) -> Any:
        """An annotation target the schema accepts, following re-minted canvas ids."""
        for item in as_list(value):
            if isinstance(item, str):
                base, _, fragment = item.partition("#")
                base = self.renamed.get(base, base)
                if linking.is_http(base):
                    return f"{base}#{fragment}" if fragment else base
            elif isinstance(item, Mapping) and node_type(item) == "SpecificResource":
                source = node_id(item.get("source")) or ""
                renamed = {**item, "source": self.renamed.get(source, item.get("source"))}
                fixed = bodies.specific_resource(renamed)
                if fixed:
                    return fixed
            elif isinstance(item, Mapping) and linking.is_http(node_id(item)):
                return {"id": node_id(item), "type": node_type(item) or "Canvas"}
        return canvas_id or self.manifest_id

    def range(self, raw: Mapping[str, Any], path: str, depth: int = 0) -> dict[str, Any]:
        """A strict Range: http id, items as embedded Ranges or Canvas/Range references."""
        out = fix_properties({k: v for k, v in raw.items()
                              if k not in ("@id", "@type", "@context")})
        out.update(id=self.mint(node_id(raw), path), type="Range")
        items = []
        for i, item in enumerate(as_list(raw.get("items"))):
            kind = node_type(item) or "Canvas"
            if kind == "Range" and isinstance(item, Mapping) and "items" in item and depth < 20:
                items.append(self.range(item, f"{path}/{i}", depth + 1))
            elif kind == "SpecificResource":
                items.extend(r for r in [bodies.specific_resource(item)] if r)
            elif linking.is_http(self.renamed.get(node_id(item) or "", node_id(item))):
                target = node_id(item) or ""
                items.append({"id": self.renamed.get(target, target), "type": kind})
        out["items"] = items
        linking.replace_or_drop(out, "supplementary", _collection_ref)
        linking.replace_or_drop(out, "annotations", self.page_refs)
        for key in ("placeholderCanvas", "accompanyingCanvas"):
            self._optional_canvas(out, key)
        return out
