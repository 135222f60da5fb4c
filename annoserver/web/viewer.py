"""``/viewer/``: Mirador 3 with the annoserver plugin (built from ``viewer/`` by npm)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, send_from_directory

from annoserver.errors import NotFound
from annoserver.web.urls import base_url

blueprint = Blueprint("viewer", __name__)
BUILT_VIEWER = Path(__file__).resolve().parents[2] / "viewer" / "dist"


def _viewer_dir() -> Path:
    directory = Path(current_app.config["VIEWER_DIR"] or BUILT_VIEWER)
    if not (directory / "index.html").exists():
        raise NotFound(f"The viewer is not built: run 'make run' (or 'npm ci && npm run "
                       f"build' in viewer/) so that {directory}/index.html exists.")
    return directory


@blueprint.get("/viewer")
def viewer_redirect() -> Response:
    """The page loads its scripts by relative path, so it must live under /viewer/."""
    return redirect("/viewer/", code=308)


@blueprint.get("/viewer/")
def viewer_page() -> Response:
    """Mirador with the plugin; ``?manifest=<url>`` opens a manifest (else the demo)."""
    return send_from_directory(_viewer_dir(), "index.html")


@blueprint.get("/viewer/config.js")
def viewer_config() -> Response:
    """Where the page finds this server and which manifest it opens by default."""
    config = {"server": base_url().rstrip("/"),
              "defaultManifest": current_app.config["DEMO_MANIFEST"] or None}
    script = f"window.ANNOSERVER_CONFIG = {json.dumps(config)};\n"
    return Response(script, content_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@blueprint.get("/viewer/<path:name>")
def viewer_file(name: str) -> Response:
    """The built scripts and assets."""
    return send_from_directory(_viewer_dir(), name)
