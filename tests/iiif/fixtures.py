"""Fixtures for the IIIF client and analysis tests (a pytest plugin; see tests/conftest.py).

Generated images, real IIIF servers, a fault server."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from annoserver.iiif import make_session
from tests.iiif.servers import FaultServer, ReferenceServer, StaticServer

DEMO_IMAGES = Path(__file__).resolve().parents[2] / "manifests" / "demo" / "images"
PAGE_SIZE = (6000, 4000)
SMALL_SIZE = (600, 400)
TILED_SIZE = (1000, 700)


def make_image(width: int, height: int, period: float = 80) -> np.ndarray:
    """A smooth RGB image where every position has its own colour (so misplacement shows):
    red and green ramps, blue a texture of ``period`` pixels (large enough to survive the
    downscaling a test applies)."""
    x = np.arange(width, dtype=np.float32)[None, :]
    y = np.arange(height, dtype=np.float32)[:, None]
    red = np.broadcast_to(40 + 180 * x / width, (height, width))
    green = np.broadcast_to(40 + 180 * y / height, (height, width))
    blue = 128 + 90 * np.sin(x * 2 * np.pi / period) * np.cos(y * 2 * np.pi / period)
    return np.dstack([red, green, blue]).round().astype(np.uint8)


def write_rgb(path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> dict[str, np.ndarray]:
    """The generated images (RGB), by IIIF identifier."""
    return {"page": make_image(*PAGE_SIZE, period=1500), "small": make_image(*SMALL_SIZE),
            "tiled": make_image(*TILED_SIZE)}


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory, sources):
    folder = tmp_path_factory.mktemp("iiif-images")
    # A real photograph (CC0, the shipped demo's cat) for tests where the pixels must mean
    # something to a model.
    shutil.copy(DEMO_IMAGES / "chelsea.jpg", folder / "cat.jpg")
    write_rgb(folder / "page.jpg", sources["page"])
    write_rgb(folder / "small.png", sources["small"])
    write_rgb(folder / "tiled.png", sources["tiled"])
    return folder


@pytest.fixture(scope="session")
def reference_server(image_dir, tmp_path_factory):
    """The IIIF reference implementation (Image API 2.1 and 3.0) as a separate process."""
    with ReferenceServer(image_dir, tmp_path_factory.mktemp("iiif-testserver")) as server:
        yield server


@pytest.fixture(scope="session")
def static_server(image_dir, tmp_path_factory):
    """Level-0 static tile sets (v2.1 and v3.0, 256-px tiles) served by http.server."""
    root = tmp_path_factory.mktemp("iiif-static")
    with StaticServer({"tiled": image_dir / "tiled.png"}, root) as server:
        yield server


@pytest.fixture(scope="session")
def fault_server_instance():
    with FaultServer() as server:
        yield server


@pytest.fixture
def fault_server(fault_server_instance):
    fault_server_instance.reset()
    return fault_server_instance


@pytest.fixture
def session():
    """A session allowed to reach 127.0.0.1 (and nothing else private), with quick retries."""
    with make_session(allowed_hosts=["127.0.0.1"], backoff_factor=0.01, retries=2) as session:
        yield session


@pytest.fixture
def strict_session():
    """A session with the default guard: loopback and private addresses refused."""
    with make_session(backoff_factor=0.01, retries=1) as session:
        yield session
