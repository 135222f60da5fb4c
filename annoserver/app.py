"""The application factory: ``gunicorn "annoserver.app:create_app()"``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import Flask
from flask_cors import CORS

from annoserver.config import configure
from annoserver.store.annotations import AnnotationStore
from annoserver.store.db import make_engine, upgrade
from annoserver.store.embeddings import EmbeddingStore
from annoserver.store.tokens import TokenStore
from annoserver.web import (
    activity,
    analyze,
    annotations,
    auth,
    contexts,
    demo,
    export,
    health,
    jobs,
    manifests,
    models,
    openapi,
    pages,
    problems,
    review,
    search,
    similar,
    sr,
    viewer,
)

# Headers a browser client may send on reads and read back (W3C protocol needs these).
CORS_ALLOW_HEADERS = ["Content-Type", "Prefer", "If-Match", "If-None-Match", "Authorization",
                      "IIIF-Authorization"]
CORS_EXPOSE_HEADERS = ["ETag", "Link", "Location", "Allow", "Vary", "Content-Location",
                       "Preference-Applied"]


def init_store(app: Flask) -> None:
    """Create the engine and repositories; migrate first when ``AUTO_MIGRATE`` is set."""
    engine = make_engine(app.config["DATABASE_URL"])
    if app.config["AUTO_MIGRATE"]:
        upgrade(engine)
    app.extensions["annoserver.db"] = engine
    app.extensions["annoserver.annotations"] = AnnotationStore(engine)
    app.extensions["annoserver.tokens"] = TokenStore(engine)
    app.extensions["annoserver.embeddings"] = EmbeddingStore(engine)


def _init_broker(app: Flask) -> None:
    """With BROKER_URL, jobs send their units to Dramatiq (``annoserver worker`` runs them)."""
    if not app.config["BROKER_URL"]:
        return
    from annoserver.jobs.broker import BrokerDispatcher

    context = app.extensions["annoserver.jobs"]
    dispatcher = BrokerDispatcher(app.extensions["annoserver.db"], app.config["BROKER_URL"],
                                  context.settings.stale_after)
    app.extensions["annoserver.jobs"] = replace(context, dispatcher=dispatcher)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app; ``config`` overrides every other configuration layer."""
    app = Flask(__name__)
    configure(app, config)
    app.json.sort_keys = False
    init_store(app)
    models.init_app(app)
    analyze.init_app(app)
    sr.init_app(app)
    similar.init_app(app)
    jobs.init_app(app)
    _init_broker(app)
    problems.init_app(app)
    auth.init_app(app)
    health.init_app(app)
    # Reads are open to any origin; cross-origin writes are refused at preflight.
    CORS(app, origins="*", methods=["GET", "HEAD", "OPTIONS"],
         allow_headers=CORS_ALLOW_HEADERS, expose_headers=CORS_EXPOSE_HEADERS, max_age=600,
         automatic_options=False)
    for module in (activity, analyze, annotations, contexts, demo, health, jobs, manifests, models,
                   export, openapi, pages, review, search, similar, sr, viewer):
        app.register_blueprint(module.blueprint)
    return app
