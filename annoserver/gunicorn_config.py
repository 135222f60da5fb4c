"""gunicorn settings for ``annoserver serve`` (the repository's gunicorn.conf.py uses them).

The master migrates the database once before forking, so workers never race to create
tables; Prometheus runs in multiprocess mode so /metrics adds up every worker.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

wsgi_app = "annoserver.app:create_app()"
bind = os.environ.get("ANNOSERVER_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("ANNOSERVER_WORKERS", "2"))
threads = int(os.environ.get("ANNOSERVER_THREADS", "4"))
timeout = 60
graceful_timeout = 20
accesslog = "-"

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="annoserver-metrics-")


def on_starting(server: Any) -> None:
    """Migrate once, in the master, then tell workers not to.

    Only the database is touched here: no app, no models. ONNX Runtime sessions (and their
    thread pools) made before the fork would be inherited half-alive by every worker, which
    then aborted on exit ("terminate called ... std::system_error").
    """
    from flask import Flask

    from annoserver.config import configure
    from annoserver.store.db import make_engine, upgrade

    settings = Flask("annoserver-migrate")
    configure(settings)
    if settings.config["AUTO_MIGRATE"]:
        engine = make_engine(settings.config["DATABASE_URL"])
        upgrade(engine)
        engine.dispose()
    os.environ["ANNOSERVER_AUTO_MIGRATE"] = "false"


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the multiprocess metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
