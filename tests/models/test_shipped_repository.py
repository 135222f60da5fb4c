"""The shipped model repository as a whole: what CI checks of every model in onnx_models/.

Each model's own file in this folder runs it on a fixture image; this one checks that every
folder is complete and honest: valid config, files matching their sha256 (``models check``),
a model card naming its source, license and checksum, and no license the default install
may not carry. Opt-in packs (``annoserver models install``) may sit in the checkout's
repository once a user installs them there, but git must ignore them: they are not shipped.
"""

from __future__ import annotations

import subprocess
import tomllib

import pytest

from annoserver.config import SHIPPED_MODELS
from annoserver.inference import check_repository
from annoserver.packs import PACKS

FOLDERS = sorted(path for path in SHIPPED_MODELS.iterdir()
                 if (path / "model.toml").is_file() and path.name not in PACKS)
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


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=SHIPPED_MODELS.parent, capture_output=True,
                          text=True, check=False)


@pytest.mark.parametrize("name", sorted(PACKS))
def test_no_opt_in_pack_is_in_the_repository(name):
    if _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    assert _git("ls-files", f"onnx_models/{name}").stdout == ""
    assert _git("check-ignore", "-q", f"onnx_models/{name}/model.onnx").returncode == 0, \
        f"installing {name} into the checkout must not leave weights git would commit"
