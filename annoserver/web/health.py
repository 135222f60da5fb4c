"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from annoserver.errors import ServiceUnavailable
from annoserver.store.db import ping

blueprint = Blueprint("health", __name__)

REQUESTS = Counter("annoserver_http_requests_total", "HTTP requests answered",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("annoserver_http_request_seconds", "Time to answer HTTP requests",
                    ["method", "endpoint"])


@blueprint.get("/health")
def health() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@blueprint.get("/ready")
def ready() -> dict[str, str]:
    """The database answers; 503 otherwise (load balancers stop sending traffic)."""
    try:
        ping(current_app.extensions["annoserver.db"])
    except SQLAlchemyError as error:
        raise ServiceUnavailable(f"The database is not reachable: {type(error).__name__}.") \
            from error
    return {"status": "ready", "database": "ok"}


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics; aggregated over gunicorn workers in multiprocess mode."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Count and time every request."""

    @app.before_request
    def _start_timer() -> None:
        g.annoserver_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.endpoint or "unmatched"
        REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        started = g.get("annoserver_started")
        if started is not None:
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response
