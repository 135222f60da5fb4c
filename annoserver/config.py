"""Configuration: documented defaults, then a TOML file, then ``ANNOSERVER_*`` variables.

Every key below is documented in README.md's configuration table (a test keeps the two in
step). Keys are upper case inside Flask's ``app.config``; the TOML file may use either case.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

SHIPPED_MODELS = Path(__file__).resolve().parent.parent / "onnx_models"

DEFAULTS: dict[str, Any] = {
    # Where the SQLite database and other state live when nothing else is configured.
    "DATA_DIR": "data",
    # SQLAlchemy URL; empty means ``sqlite:///<DATA_DIR>/annoserver.sqlite3``.
    "DATABASE_URL": "",
    # Base URL for the ids the server mints; empty means the request's own host.
    "PUBLIC_URL": "",
    # Hosts (``name`` or ``name:port``) the server may fetch even when they resolve to
    # private or loopback addresses.
    "ALLOWED_HOSTS": [],
    # Seconds to wait for any byte from a IIIF server, and for a whole download.
    "FETCH_READ_TIMEOUT": 20.0,
    "FETCH_DEADLINE": 60.0,
    # Concurrent requests to any one IIIF host (institutions' servers are treated politely).
    "FETCH_PER_HOST": 4,
    # Annotations per page of a container or filtered view.
    "PAGE_SIZE": 100,
    # Largest request body accepted, in bytes (413 above).
    "MAX_BODY_BYTES": 1_000_000,
    # When true, reads need a token with the ``read`` scope too.
    "PRIVATE_READS": False,
    # Migrate the database to the newest schema when the app starts.
    "AUTO_MIGRATE": True,
    # The model repository: one folder per model; empty means the checkout's onnx_models/.
    "MODELS_DIR": "",
    # ONNX Runtime execution providers in order; empty: CUDA first when present, then CPU.
    "ONNX_PROVIDERS": [],
    # ONNX Runtime threads inside one operator (0: ONNX Runtime's default).
    "ONNX_THREADS": 0,
    # How long (ms) the first request of a batch waits for others to the same model.
    "BATCH_LATENCY_MS": 5.0,
    # Dynamic batching of concurrent requests to one model (off: each runs alone).
    "BATCHING": True,
    # Built viewer (index.html and scripts); empty means the repository's viewer/dist.
    "VIEWER_DIR": "",
    # Manifest URL the viewer opens when none is given.
    "DEMO_MANIFEST": "",
    # Folder of the demo collection served under /demo/; empty means manifests/demo.
    "DEMO_DIR": "",
    # Batch jobs (POST /manifests, ``annoserver enrich``): units (canvas × model) one server
    # process runs at once in its in-process executor; 0 runs none in this process.
    "JOB_THREADS": 2,
    # Units analysed at once per IIIF image host, across every runner sharing the database.
    "JOB_PER_HOST": 2,
    # Tries per unit before it is recorded failed (the job goes on).
    "JOB_ATTEMPTS": 3,
    # Seconds before a failed unit's first retry; doubled for each further one.
    "JOB_BACKOFF": 5.0,
    # Seconds between a runner's heartbeats; a running unit silent for JOB_STALE_AFTER
    # seconds (its process died) is queued again, so jobs survive restarts.
    "JOB_HEARTBEAT": 10.0,
    "JOB_STALE_AFTER": 60.0,
    # Seconds an idle executor waits before looking for queued units again.
    "JOB_POLL_INTERVAL": 2.0,
    # Errors a job keeps (the first ones).
    "JOB_MAX_ERRORS": 50,
    # Dramatiq broker (``redis://host:6379/0``): units go to ``annoserver worker`` processes
    # and the server's in-process executor runs none; empty: the in-process executor.
    "BROKER_URL": "",
    # Bounds on what a job reads: canvases per manifest, collection nesting, manifests in all.
    "MANIFEST_MAX_CANVASES": 10_000,
    "COLLECTION_MAX_DEPTH": 5,
    "COLLECTION_MAX_MANIFESTS": 1_000,
    # Super-resolution service (/iiif/sr/): the disk cache of its images (empty means
    # <DATA_DIR>/sr-cache), the cache's size bound in bytes (least recently used out; 0: no
    # cache), and the most output pixels one image may have (its maxArea; memory per request
    # is about 10 bytes per pixel).
    "SR_CACHE_DIR": "",
    "SR_CACHE_BYTES": 512 * 2**20,
    "SR_MAX_PIXELS": 4_194_304,
}


def _load_toml(handle: Any) -> dict[str, Any]:
    """Read a TOML file, upper-casing keys so Flask's ``from_mapping`` keeps them."""
    return {key.upper(): value for key, value in tomllib.load(handle).items()}


def _as_list(value: Any) -> list[str]:
    """Accept a list, a JSON list (already parsed by Flask) or a comma-separated string."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item) for item in value or []]


def configure(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from defaults, ``ANNOSERVER_CONFIG``, the environment and overrides."""
    app.config.from_mapping(DEFAULTS)
    config_file = os.environ.get("ANNOSERVER_CONFIG")
    if config_file:
        app.config.from_file(config_file, load=_load_toml, text=False)
    app.config.from_prefixed_env("ANNOSERVER")
    if overrides:
        app.config.from_mapping({key.upper(): value for key, value in overrides.items()})
    _normalise(app.config)


def _normalise(config: dict[str, Any]) -> None:
    """Derive the values other keys imply, so the rest of the code reads one shape."""
    config["ALLOWED_HOSTS"] = _as_list(config["ALLOWED_HOSTS"])
    config["ONNX_PROVIDERS"] = _as_list(config["ONNX_PROVIDERS"])
    config["PAGE_SIZE"] = int(config["PAGE_SIZE"])
    config["MAX_BODY_BYTES"] = int(config["MAX_BODY_BYTES"])
    config["MAX_CONTENT_LENGTH"] = config["MAX_BODY_BYTES"]
    config["PUBLIC_URL"] = str(config["PUBLIC_URL"] or "").rstrip("/")
    if not config["DATABASE_URL"]:
        data_dir = Path(config["DATA_DIR"]).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{data_dir / 'annoserver.sqlite3'}"
    config["MODELS_DIR"] = str(config["MODELS_DIR"] or SHIPPED_MODELS)
