from __future__ import annotations

import numpy as np
import pytest

from annoserver.inference import get_plugin_manager, model_kinds
from annoserver.inference.plugins import BUILTIN_PLUGINS_DIR
from tests.inference.onnx_factory import FEATURES, linear_model, write_model

HEADER = """kind = "{kind}"
version = "1.0"
license = "Apache-2.0"
sha256 = "{{sha256}}"
description = "tiny test model"
"""
CLASSIFIER_LABELS = ["cat", "dog", "bird"]
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)


def header(kind, **extra):
    lines = [HEADER.format(kind=kind)]
    lines += [f"{key} = {value!r}".replace("'", '"') for key, value in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def plugin_manager():
    return get_plugin_manager(plugin_dirs=[BUILTIN_PLUGINS_DIR], load_entry_points=False)


@pytest.fixture(scope="session")
def kinds(plugin_manager):
    return model_kinds(plugin_manager)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def weights(rng):
    return {"logits": (rng.normal(0, 0.3, (FEATURES, 3)), rng.normal(0, 0.3, 3)),
            "embedding": (rng.normal(0, 0.3, (FEATURES, 4)), rng.normal(0, 0.3, 4))}


@pytest.fixture
def images(rng):
    return [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(8)]


@pytest.fixture
def repo(tmp_path, weights):
    """A repository with a classifier, an embedding, and a classifier+embedding model."""
    root = tmp_path / "onnx_models"
    write_model(root / "tiny-classifier", linear_model({"logits": weights["logits"]}),
                header("classifier", labels="labels.txt", max_batch_size=8)
                + f"[input]\nmean = {list(MEAN)}\nstd = {list(STD)}\n"
                + "[thresholds]\ntop_k = 2\nmin_score = 0.0\n"
                + "[quality]\ntop1 = 0.5\n",
                labels=CLASSIFIER_LABELS)
    write_model(root / "tiny-embedding", linear_model({"embedding": weights["embedding"]}),
                header("embedding", max_batch_size=4))
    write_model(root / "tiny-both", linear_model(weights),
                header("classifier", labels="labels.txt", max_batch_size=8)
                + '[output]\nlogits = "logits"\nembedding = "embedding"\n',
                labels=CLASSIFIER_LABELS)
    return root
