"""On-demand analysis: a region of a IIIF image, through models, to machine annotations.

The flow of DESIGN.md in one place, with no Flask: read the image service, fetch only the
pixels each model needs (models wanting the same size share one fetch), run the models
(through the runtime's dynamic batchers), map their results from fetched pixels to the full
image, and build W3C annotations on the canvas (or image). Results are keyed by what made
them (model version, image, region, canvas), so an identical request is answered from the
store and a persisted rerun replaces instead of duplicating.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import onnxruntime

from annoserver.annotation_builder import AnnotationBuilder, Placement, Provenance
from annoserver.errors import BadRequest
from annoserver.iiif import (
    Box,
    IIIFSession,
    ImageService,
    Target,
    fetch_region,
    load_service,
    parse_region,
)
from annoserver.iiif.client import RegionImage
from annoserver.inference import Runtime
from annoserver.inference.results import Box as FoundBox
from annoserver.inference.results import Boxes, Result
from annoserver.inference.runtime import Model
from annoserver.store.annotations import AnnotationStore, StoredAnnotation
from annoserver.store.embeddings import FULL, EmbeddingRef, EmbeddingStore
from annoserver.superres import region_image

ANNOTATING_KINDS = {"classifier", "detector", "text-lines", "watermark", "recognizer",
                    "faces"}
# Kinds whose on-demand result is a derived view: an annotation whose body is the image the
# IIIF super-resolution service serves for the region (computed when it is fetched).
VIEW_KINDS = {"superres"}
# A model serving this kind stores its vector of the region when the analysis persists
# (for /similar); a model of only this kind makes no annotations.
EMBEDDING_KIND = "embedding"
# Detected regions embedded per model and image when asked (the best-scored first): each is
# one more fetch, so a page of hundreds of text lines must not become hundreds of requests.
MAX_EMBEDDED_REGIONS = 32


@dataclass(frozen=True)
class CanvasRef:
    """The canvas the image is painted on; without a size, the image's size is assumed.

    ``painted`` is the canvas box ``(x, y, w, h)`` the analysed region of the image is
    painted into, when that is not the whole canvas (a painting targeting ``#xywh=``, or
    painting only a region of the image): results are mapped through it.
    """

    id: str
    width: int | None = None
    height: int | None = None
    painted: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class AnalysisRequest:
    """What to analyse, with which models, and where the annotations belong."""

    image: str
    models: tuple[str, ...]
    region: str = "full"
    canvas: CanvasRef | None = None
    manifest: str | None = None
    persist: bool = False
    authorization: str | None = None
    embed_regions: str | None = None  # an embedding model: store each detected box's vector


@dataclass(frozen=True)
class Outcome:
    """The annotations one model gave, and whether they came from the store."""

    model_id: str
    annotations: list[dict[str, Any]]
    from_store: bool


class Analyzer:
    """Runs analysis requests against one runtime, IIIF session and store."""

    def __init__(self, runtime: Runtime, session: IIIFSession, store: AnnotationStore,
                 embeddings: EmbeddingStore, public_url: str) -> None:
        self.runtime = runtime
        self.session = session
        self.store = store
        self.embeddings = embeddings
        self.public_url = public_url.rstrip("/") + "/"

    def analyze(self, request: AnalysisRequest) -> list[Outcome]:
        """Analyse ``request``; raises the IIIF, inference and request errors it meets."""
        models = [self._analysing_model(model_id, request.persist)
                  for model_id in request.models]
        if request.embed_regions and not request.persist:
            raise BadRequest("'embed_regions' stores vectors: it needs 'persist'.")
        region_embedder = (embedding_model(self.runtime, request.embed_regions)
                           if request.embed_regions else None)
        service = load_service(request.image, session=self.session,
                               authorization=request.authorization)
        region = parse_region(request.region, service.width, service.height)
        placement = _placement(request, service.id, service.width, service.height, region)
        # Labels of an image painted on part of a canvas target that part, not the canvas.
        whole = ((region.w, region.h) == (service.width, service.height)
                 and placement.painted is None)
        builder = AnnotationBuilder(self.public_url + "ns/annoserver.jsonld", datetime.now(UTC))
        fetched: dict[Target, RegionImage] = {}

        def pixels(model: Model) -> RegionImage:
            """The region as ``model`` wants it; models wanting the same size share a fetch."""
            target = _target_for(model)
            if target not in fetched:
                fetched[target] = fetch_region(service, region, target, session=self.session,
                                               authorization=request.authorization,
                                               auth_origin=request.image)
            return fetched[target]

        outcomes = []
        for model in models:
            if request.persist and EMBEDDING_KIND in model.kinds:
                # A job's region is what its canvas paints: the canvas's own picture.
                canvas_picture = whole or (request.canvas and request.canvas.painted)
                ref = EmbeddingRef(placement.source, request.manifest, service.id,
                                   FULL if canvas_picture else region.as_iiif())
                version = model.config.version
                if not self.embeddings.has(model.id, version, ref.canvas, ref.region):
                    self.embeddings.put(model.id, version, ref, self._embed(model, pixels(model)))
            if model.config.kind == EMBEDDING_KIND:
                outcomes.append(Outcome(model.id, [], False))
                continue
            key = _result_key(model, service.id, region, request)
            stored = self.store.results(key)
            if stored:
                outcomes.append(Outcome(model.id, [self._render(s) for s in stored], True))
                continue
            if model.config.kind in VIEW_KINDS:
                documents = builder.build_view(
                    self._provenance(model),
                    region_image(self.public_url, model.id, service.id, region,
                                 model.kind().scale),
                    placement.target(None if whole else _as_tuple(region)))
                outcomes.append(self._keep(model.id, key, documents, request.persist))
                continue
            image = pixels(model)
            result = _to_full_image(self.runtime.infer(model.id, [image.pixels])[0], image)
            if region_embedder and isinstance(result, Boxes):
                self._embed_boxes(region_embedder, result, service, placement.source, request)
            documents = builder.build(self._provenance(model), result, _as_tuple(region),
                                      placement, whole)
            outcomes.append(self._keep(model.id, key, documents, request.persist))
        return outcomes

    def embed(self, image: str, region: str, model_id: str,
              authorization: str | None = None) -> np.ndarray:
        """The vector ``model_id`` gives a region of a IIIF image (a /similar query)."""
        model = self.runtime.get(model_id)
        service = load_service(image, session=self.session, authorization=authorization)
        box = parse_region(region, service.width, service.height)
        return self._embed(model, self._fetch(model, service, box, authorization, image))

    def _fetch(self, model: Model, service: ImageService, box: Box,
               authorization: str | None, origin: str) -> RegionImage:
        return fetch_region(service, box, _target_for(model), session=self.session,
                            authorization=authorization, auth_origin=origin)

    def _embed(self, model: Model, image: RegionImage) -> np.ndarray:
        [vector] = self.runtime.infer(model.id, [image.pixels], kind=EMBEDDING_KIND)
        return np.asarray(vector.values, np.float32)

    def _embed_boxes(self, model: Model, boxes: Boxes, service: ImageService, canvas: str,
                     request: AnalysisRequest) -> None:
        """Store ``model``'s vector of each detected box, so /similar finds details too."""
        version = model.config.version
        best = sorted(boxes, key=lambda found: -found.score)[:MAX_EMBEDDED_REGIONS]
        for found in best:
            box = _pixel_box(found, service.width, service.height)
            if box is None:
                continue
            ref = EmbeddingRef(canvas, request.manifest, service.id, box.as_iiif())
            if not self.embeddings.has(model.id, version, ref.canvas, ref.region):
                image = self._fetch(model, service, box, request.authorization, request.image)
                self.embeddings.put(model.id, version, ref, self._embed(model, image))

    def _analysing_model(self, model_id: str, persist: bool) -> Model:
        model = self.runtime.get(model_id)
        kind = model.config.kind
        if kind == EMBEDDING_KIND and not persist:
            raise BadRequest(f"Model {model_id!r} is an embedding model: it makes no "
                             "annotations, and stores its vector only when 'persist' is set "
                             "(then see /similar).")
        if kind not in ANNOTATING_KINDS | VIEW_KINDS | {EMBEDDING_KIND}:
            raise BadRequest(f"Model {model_id!r} is a {kind} model: it makes no annotations.")
        return model

    def _provenance(self, model: Model) -> Provenance:
        config = model.config
        return Provenance(config.id, config.version, config.sha256,
                          f"onnxruntime {onnxruntime.__version__}", model.session.provider,
                          f"{self.public_url}models/{config.id}")

    def _keep(self, model_id: str, key: str, documents: list[dict[str, Any]],
              persist: bool) -> Outcome:
        if persist:
            stored = self.store.put_results(key, documents)
            return Outcome(model_id, [self._render(s) for s in stored], False)
        # Unsaved annotations still need ids (a W3C MUST); they are not dereferenceable.
        return Outcome(model_id, [{"id": f"urn:uuid:{uuid.uuid4()}", **document}
                                  for document in documents], False)

    def _render(self, stored: StoredAnnotation) -> dict[str, Any]:
        return {"id": f"{self.public_url}annotations/{stored.slug}", **stored.document}


def embedding_model(runtime: Runtime, model_id: str) -> Model:
    """The installed model ``model_id`` if it gives embeddings; 404 or 400 otherwise."""
    model = runtime.get(model_id)
    if EMBEDDING_KIND not in model.kinds:
        raise BadRequest(f"Model {model_id!r} gives no embeddings ({model.config.kind}), so it "
                         "cannot embed detected regions.")
    return model


def _pixel_box(found: FoundBox, width: int, height: int) -> Box | None:
    """A detected box as whole image pixels inside the image; ``None`` when nothing is left."""
    x0, y0 = max(0, round(found.x)), max(0, round(found.y))
    x1, y1 = min(width, round(found.x + found.w)), min(height, round(found.y + found.h))
    return Box(x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def _placement(request: AnalysisRequest, service_id: str, width: int, height: int,
               region: Box) -> Placement:
    if request.canvas is None:
        return Placement(service_id, "Image", width, height, width, height, request.manifest)
    canvas = request.canvas
    frame = None
    if canvas.painted is not None:  # where the whole image would lie, given the region's box
        px, py, pw, ph = canvas.painted
        sx, sy = pw / region.w, ph / region.h
        frame = (px - region.x * sx, py - region.y * sy, width * sx, height * sy)
    return Placement(canvas.id, "Canvas", canvas.width or width, canvas.height or height,
                     width, height, request.manifest, frame)


def _target_for(model: Model) -> Target:
    """The smallest fetch that still fills the model's input without upscaling on the server."""
    spec = model.config.input
    if spec.size is None:
        return Target()
    height, width = spec.size
    if spec.resize == "letterbox" or spec.resize == "longest-side":
        return Target(longest=max(height, width))
    if spec.resize == "shorter-side-crop":
        return Target(shortest=min(height, width))
    return Target(width=width, height=height)


def _to_full_image(result: Result, image: RegionImage) -> Result:
    """Move boxes from fetched pixels to full-resolution image pixels."""
    if not isinstance(result, Boxes):
        return result
    sx, sy = image.scale
    return Boxes([replace(box, x=image.covered.x + box.x * sx, y=image.covered.y + box.y * sy,
                          w=box.w * sx, h=box.h * sy) for box in result])


def _as_tuple(box: Box) -> tuple[float, float, float, float]:
    return (box.x, box.y, box.w, box.h)


def _result_key(model: Model, service_id: str, region: Box, request: AnalysisRequest) -> str:
    canvas = request.canvas
    parts = [model.id, model.config.version, model.config.sha256, service_id, region.as_iiif(),
             canvas.id if canvas else "", str(canvas.width if canvas else ""),
             str(canvas.height if canvas else ""), request.manifest or ""]
    if canvas and canvas.painted:
        parts.append(",".join(f"{v:g}" for v in canvas.painted))
    if model.config.backbone_sha256:  # a head's results depend on its backbone's file too
        parts.append(model.config.backbone_sha256)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
