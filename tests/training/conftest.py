"""Fixtures for the training tests: a synthetic 3-class dataset and a IIIF server of new images."""

from __future__ import annotations

import numpy as np
import pytest

from tests.iiif.servers import ReferenceServer
from tests.training.synthetic import (
    CELL,
    CLASSES,
    SHEET_COLUMNS,
    SHEET_ROWS,
    draw,
    write_dataset,
    write_rgb,
)


@pytest.fixture
def database_url(tmp_path):
    # The recipe touches no database: one SQLite run is enough.
    return f"sqlite:///{tmp_path / 'annoserver.sqlite3'}"


@pytest.fixture
def settings(settings, tmp_path):
    # An empty model repository: the app loads fast and whatever else is being added to
    # onnx_models/ cannot break these tests; the backbone is found among the shipped models.
    (tmp_path / "installed").mkdir()
    return {**settings, "ALLOWED_HOSTS": ["127.0.0.1"], "MODELS_DIR": str(tmp_path / "installed")}


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """``<class>/<n>.png``, 30 images per class."""
    return write_dataset(tmp_path_factory.mktemp("shapes"), per_class=30, seed=0)


@pytest.fixture(scope="session")
def sheet() -> np.ndarray:
    """One image of cells: row ``r`` holds ``SHEET_COLUMNS`` drawings of ``SHEET_ROWS[r]``."""
    rng = np.random.default_rng(7)
    image = np.zeros((CELL * len(SHEET_ROWS), CELL * SHEET_COLUMNS, 3), np.uint8)
    for row, label in enumerate(SHEET_ROWS):
        for column in range(SHEET_COLUMNS):
            cell = draw(label, rng)[:CELL, :CELL]
            image[row * CELL:(row + 1) * CELL, column * CELL:(column + 1) * CELL] = cell
    return image


@pytest.fixture(scope="session")
def training_server(tmp_path_factory, sheet):
    """The IIIF reference server over images no model saw: ``new-<class>`` and ``sheet``."""
    folder = tmp_path_factory.mktemp("training-images")
    rng = np.random.default_rng(1234)  # not the dataset's seed: new drawings
    for label in CLASSES:
        write_rgb(folder / f"new-{label}.png", draw(label, rng))
    write_rgb(folder / "sheet.png", sheet)
    with ReferenceServer(folder, tmp_path_factory.mktemp("training-server")) as server:
        yield server
