"""The annoserver app plus a static-file route, so the benchmark can compare the two inside
the same gunicorn: ``gunicorn "bench.static_app:create_app()"``."""

from __future__ import annotations

import os

from flask import Flask, send_from_directory

from annoserver.app import create_app as create_annoserver


def create_app() -> Flask:
    app = create_annoserver()
    directory = os.environ["BENCH_STATIC_DIR"]

    @app.get("/bench-static/<path:name>")
    def bench_static(name: str):
        return send_from_directory(directory, name, mimetype="application/ld+json")

    return app
