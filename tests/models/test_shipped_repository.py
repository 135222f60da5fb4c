"""The shipped model repository as a whole: what CI checks of every model in onnx_models/.

Each model's own file in this folder runs it on a fixture image; this one checks that every
folder is complete and honest: valid config, files matching their sha256 (``models check``),
a model card naming its source, license and checksum, and no license the default install
may not carry.
"""

from __future__ import annotations

import tomllib

import pytest

from annoserver.config import SHIPPED_MODELS
from annoserver.inference import check_repository

FOLDERS = sorted(path for path in SHIPPED_MODELS.iterdir() if (path / "model.toml").is_file())
# Apache-2.0 project: no copyleft-network or non-commercial weights in the default set.
REFUSED_LICENSES = ("AGPL", "GPL-3", "CC-BY-NC", "NC-", "non-commercial")


def test_the_repository_checks_clean():
    problems = check_repository(SHIPPED_MODELS)
    assert [p for p in problems if p.severity == "error"] == [], problems
    assert len(FOLDERS) >= 7


@pytest.mark.parametrize("folder", FOLDERS, ids=[folder.name for folder in FOLDERS])
def test_every_model_has_an_honest_card(folder):
    config = tomllib.loads((folder / "model.toml").read_text("utf-8"))
    card = (folder / "MODEL_CARD.md").read_text("utf-8")
    assert config["sha256"] in card, "the card names the file it describes"
    assert config["license"] in card
    assert not any(word.lower() in config["license"].lower() for word in REFUSED_LICENSES)
    assert config.get("source"), "model.toml says where the weights come from"
    for heading in ("license", "limit"):
        assert heading in card.lower(), f"the card has no {heading!r} section"
