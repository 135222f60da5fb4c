"""``GET /similar``: canvases and regions that look like a given one, from stored embeddings.

The query is a stored vector (``canvas=``, optionally with its ``region=``) or a region of any
IIIF image (``image=`` and ``region=``), fetched through the same guarded session as
``/analyze`` and embedded on the fly. Vectors come from jobs and persisted analyses with a
model that serves the ``embedding`` kind; only vectors of the same model version compare.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from annoserver.analysis import EMBEDDING_KIND
from annoserver.errors import BadRequest, NotFound
from annoserver.iiif import IIIFError, ImageService, load_service, thumbnail_url
from annoserver.inference.runtime import Model
from annoserver.similarity import IndexCache, Neighbour
from annoserver.store.embeddings import FULL
from annoserver.web.analyze import IMAGE_AUTHORIZATION, analyzer
from annoserver.web.annotations import query_number
from annoserver.web.jobs import registered_source
from annoserver.web.negotiation import json_response

blueprint = Blueprint("similar", __name__)
DEFAULT_K, MAX_K = 20, 100
SCOPES = ("all", "manifest")
THUMBNAIL_SIDE = 200  # pixels, the longer side


def init_app(app: Flask) -> None:
    """One index cache per process: reloaded only when the stored vectors change."""
    app.extensions["annoserver.similar"] = IndexCache(app.extensions["annoserver.embeddings"])


def _model() -> Model:
    runtime = current_app.extensions["annoserver.runtime"]
    model_id = request.args.get("model")
    if model_id is None:
        serving = [m for m in runtime.models() if EMBEDDING_KIND in m.kinds]
        if not serving:
            raise NotFound("No installed model computes embeddings, so nothing can be "
                           "compared.")
        return serving[0]
    model = runtime.get(model_id)
    if EMBEDDING_KIND not in model.kinds:
        raise BadRequest(f"Model {model_id!r} computes no embeddings (kinds: "
                         f"{', '.join(model.kinds)}).")
    return model


def _query(model: Model) -> tuple[dict[str, Any], Any, str | None]:
    """The query's description, its vector, and the manifest it belongs to (if known)."""
    args = request.args
    canvas, image = args.get("canvas"), args.get("image")
    if (canvas is None) == (image is None):
        raise BadRequest("Give either 'canvas' (a canvas with a stored embedding) or 'image' "
                         "(a IIIF image service, with an optional 'region').")
    region = args.get("region", FULL)
    if canvas is not None:
        found = current_app.extensions["annoserver.embeddings"].get(
            model.id, model.config.version, canvas, region)
        if found is None:
            raise NotFound(f"No embedding of canvas {canvas!r} (region {region!r}) by "
                           f"{model.id} {model.config.version}: enrich its manifest with that "
                           "model, or POST /analyze with 'persist'.")
        ref, vector = found
        return {"canvas": canvas, "region": region}, vector, ref.manifest
    vector = analyzer().embed(image, region, model.id, request.headers.get(IMAGE_AUTHORIZATION))
    return {"image": image, "region": region}, vector, None


def _scope(query_manifest: str | None) -> str | None:
    """The manifest to search within, or None for everything stored."""
    scope = request.args.get("scope", "all")
    if scope not in SCOPES:
        raise BadRequest(f"'scope' is one of {', '.join(SCOPES)}, not {scope!r}.")
    manifest = request.args.get("manifest")
    if manifest is not None:
        source = registered_source(manifest)
        manifest = source.iiif_id if source else manifest
    if scope == "all":
        return None
    if manifest is None and query_manifest is None:
        raise BadRequest("scope=manifest needs 'manifest', or a query canvas whose embedding "
                         "was stored with its manifest.")
    return manifest or query_manifest


def _services(hits: list[Neighbour]) -> dict[str, ImageService | None]:
    """The image service of each hit (its ``info.json``, cached by the IIIF session).

    Thumbnails must be URLs the service answers: a level-0 service has only its listed
    sizes. A service that cannot be read now gets ``None`` (and the usual level-2 URL).
    """
    session = current_app.extensions["annoserver.iiif"]
    services: dict[str, ImageService | None] = {}
    for image in {hit.ref.image for hit in hits}:
        try:
            services[image] = load_service(image, session=session)
        except IIIFError:
            services[image] = None
    return services


def _item(hit: Neighbour, service: ImageService | None) -> dict[str, Any]:
    ref = hit.ref
    image = ref.image.removesuffix("/info.json")
    thumbnail = (thumbnail_url(service, ref.region, THUMBNAIL_SIDE) if service is not None
                 else f"{image}/{ref.region}/!{THUMBNAIL_SIDE},{THUMBNAIL_SIDE}/0/default.jpg")
    return {"canvas": ref.canvas, "manifest": ref.manifest, "region": ref.region,
            "score": round(hit.score, 6), "image": image, "thumbnail": thumbnail}


@blueprint.get("/similar")
def similar() -> Response:
    """The ``k`` stored canvases/regions most similar to the query, best first."""
    model = _model()
    k = query_number("k", int, 1)
    k = DEFAULT_K if k is None else min(k, MAX_K)
    description, vector, query_manifest = _query(model)
    manifest = _scope(query_manifest)
    index = current_app.extensions["annoserver.similar"].index(model.id, model.config.version)
    itself = ((description["canvas"], description["region"])
              if "canvas" in description else None)
    in_scope = None if manifest is None else (lambda ref: ref.manifest == manifest)
    try:  # one more than asked, so the query's own vector can be left out
        hits = index.search(vector, k + 1, in_scope)
    except ValueError as error:  # a vector of another size: the store mixes model exports
        raise BadRequest(str(error)) from None
    hits = [hit for hit in hits if (hit.ref.canvas, hit.ref.region) != itself][:k]
    services = _services(hits)
    return json_response({
        "model": {"id": model.id, "version": model.config.version},
        "query": description, "scope": "manifest" if manifest else "all", "manifest": manifest,
        "k": k, "searched": len(index.vectors.refs),
        "items": [_item(hit, services[hit.ref.image]) for hit in hits]},
        media_type="application/json",
        headers={"Cache-Control": "no-cache"})
