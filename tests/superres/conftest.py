"""Fixtures of the super-resolution service tests: a real upstream IIIF server, the app.

The upstream is the IIIF reference server (a separate process, GPLv3) serving the Image API
validator's test image at half size (so its ×2 view has the validator's 1000-px grid) under
the validator's identifier, and a photograph (the demo's CC0 cat).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import cv2
import pytest
from werkzeug.serving import make_server

from annoserver.app import create_app
from annoserver.superres import encode_upstream
from tests.iiif.fixtures import DEMO_IMAGES
from tests.iiif.servers import ReferenceServer

VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"
# The Image API validator's 1000 × 1000 test image (a 10 × 10 grid of coloured squares), copied
# from the shared conformance folder (conformance/iiif-image/; IIIF image-validator, Apache-2.0).
VALIDATOR_IMAGE = Path(__file__).resolve().parent / f"{VALIDATOR_ID}.png"


@pytest.fixture(scope="session")
def sr_image_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sr-images")
    grid = cv2.imread(str(VALIDATOR_IMAGE))
    cv2.imwrite(str(folder / f"{VALIDATOR_ID}.png"),
                cv2.resize(grid, (500, 500), interpolation=cv2.INTER_AREA))
    shutil.copy(DEMO_IMAGES / "chelsea.jpg", folder / "cat.jpg")
    return folder


@pytest.fixture(scope="session")
def sr_upstream(sr_image_dir, tmp_path_factory):
    """The IIIF reference server (Image API 2.1 and 3.0) over ``sr_image_dir``."""
    with ReferenceServer(sr_image_dir, tmp_path_factory.mktemp("sr-upstream")) as server:
        yield server


def upstream_id(server: ReferenceServer, identifier: str = "cat", version: str = "3.0") -> str:
    """The upstream service id of ``identifier``."""
    return server.info_url(version, identifier).removesuffix("/info.json")


def sr_path(server: ReferenceServer, identifier: str = "cat", version: str = "3.0",
            model: str = "espcn-x2") -> str:
    """The path of the super-resolution service of an upstream image."""
    return f"/iiif/sr/{model}/{encode_upstream(upstream_id(server, identifier, version))}"


@pytest.fixture
def sr_settings(tmp_path):
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'annoserver.sqlite3'}",
            "DATA_DIR": str(tmp_path), "TESTING": True, "ALLOWED_HOSTS": ["127.0.0.1"],
            "ONNX_THREADS": 1}


@pytest.fixture
def sr_app(sr_settings):
    app = create_app(sr_settings)
    yield app
    app.extensions["annoserver.db"].dispose()


@pytest.fixture
def sr_client(sr_app):
    return sr_app.test_client()


@pytest.fixture
def live_sr(sr_app):
    """The app served over HTTP on 127.0.0.1 (for clients that need a socket)."""
    server = make_server("127.0.0.1", 0, sr_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
