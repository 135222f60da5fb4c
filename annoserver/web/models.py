"""``/models``: the installed models, what they take, what they give, and how good they are."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app

from annoserver.inference import Runtime, RuntimeSettings

blueprint = Blueprint("models", __name__)


def init_app(app: Flask) -> None:
    """Load the model repository (graphs only: sessions are made per process, on first use)."""
    settings = RuntimeSettings(
        providers=tuple(app.config["ONNX_PROVIDERS"]) or None,
        intra_op_threads=int(app.config["ONNX_THREADS"]),
        max_latency_ms=float(app.config["BATCH_LATENCY_MS"]),
        batching=bool(app.config["BATCHING"]))
    app.extensions["annoserver.runtime"] = Runtime(app.config["MODELS_DIR"], settings=settings)


def runtime() -> Runtime:
    """The app's inference runtime."""
    return current_app.extensions["annoserver.runtime"]


@blueprint.get("/models")
def list_models() -> dict[str, Any]:
    """Every installed model with kind, version, labels, input, license, provider, quality."""
    return {"models": runtime().describe()}


@blueprint.get("/models/<model_id>")
def one_model(model_id: str) -> dict[str, Any]:
    """One model, with its full label list (404 problem when unknown)."""
    return runtime().get(model_id).describe(all_labels=True)
