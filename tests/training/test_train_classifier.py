"""``annoserver train classifier`` end to end: folder → model folder (fused, or the head alone
on a shared backbone) → /analyze."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tomllib
from contextlib import contextmanager

import pytest

from annoserver.app import create_app
from annoserver.cli import main
from annoserver.config import SHIPPED_MODELS
from tests.training.synthetic import CLASSES


@contextmanager
def _checked_and_served(runner, settings, models, tmp_path):
    """``annoserver models check`` passes on ``models``; then an app serving them."""
    checked = runner.invoke(main, ["models", "check", str(models)])
    assert checked.exit_code == 0 and "0 error(s), 0 warning(s)" in checked.output, \
        checked.output
    served = create_app({**settings, "MODELS_DIR": str(models),
                         "DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}"})
    try:
        yield served
    finally:
        served.extensions["annoserver.db"].dispose()


def test_trains_checks_and_serves_a_classifier(runner, settings, dataset, training_server,
                                              tmp_path):
    models = tmp_path / "models"
    result = runner.invoke(main, ["train", "classifier", "--data", str(dataset),
                                  "--name", "shapes", "--out", str(models)])
    assert result.exit_code == 0, result.output
    reported = float(re.search(r"held-out accuracy: ([0-9.]+)", result.output).group(1))
    assert reported >= 0.9

    folder = models / "shapes"
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL_CARD.md", "eval.json", "labels.txt", "model.onnx", "model.toml"]
    evaluation = json.loads((folder / "eval.json").read_text())
    assert evaluation["heldout"]["accuracy"] == reported
    assert evaluation["data"]["counts"] == {label: {"train": 24, "test": 6} for label in CLASSES}
    assert evaluation["split"] == {"stratified": True, "test_size": 0.2, "seed": 0,
                                   "train": 72, "test": 18}
    assert evaluation["onnx_check"]["same_top1"] == "8/8"
    assert (folder / "labels.txt").read_text().split() == list(CLASSES)
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"Held-out accuracy {reported:.4f}" in card and evaluation["command"] in card
    assert evaluation["command"].startswith("annoserver train classifier --data ")

    with _checked_and_served(runner, settings, models, tmp_path) as served:
        client = served.test_client()
        described = client.get("/models/shapes").get_json()
        assert described["kind"] == "classifier" and "embedding" in described["kinds"]
        for label in CLASSES:
            response = client.post("/analyze", json={
                "image": training_server.info_url("3.0", f"new-{label}"), "models": ["shapes"]})
            assert response.status_code == 200, response.get_data(as_text=True)
            [item] = response.get_json()["items"]
            assert item["body"]["value"] == label
            assert item["creator"]["name"] == "shapes"
            assert item["body"]["confidence"] >= 0.5


def test_an_existing_model_is_not_replaced_without_overwrite(runner, dataset, tmp_path):
    (tmp_path / "models" / "shapes").mkdir(parents=True)
    result = runner.invoke(main, ["train", "classifier", "--data", str(dataset),
                                  "--name", "shapes", "--out", str(tmp_path / "models")])
    assert result.exit_code != 0 and "--overwrite" in result.output


def test_one_class_is_not_a_classifier(runner, dataset, tmp_path):
    data = tmp_path / "one"
    (data / "circles").mkdir(parents=True)
    for path in sorted((dataset / "circles").iterdir())[:3]:
        (data / "circles" / path.name).write_bytes(path.read_bytes())
    result = runner.invoke(main, ["train", "classifier", "--data", str(data), "--name", "x",
                                  "--out", str(tmp_path / "models")])
    assert result.exit_code != 0 and "at least 2" in result.output


def test_heads_stored_alone_share_the_backbone_and_match_the_fused_model(
        runner, settings, dataset, training_server, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(SHIPPED_MODELS / "efficientnet-lite0", models / "efficientnet-lite0")
    for name, extra in (("fused", []), ("head", ["--shared-backbone"]),
                        ("head-l2", ["--shared-backbone", "--l2", "1.0"])):
        result = runner.invoke(main, ["train", "classifier", "--data", str(dataset),
                                      "--name", name, "--out", str(models), *extra])
        assert result.exit_code == 0, result.output

    folder = models / "head"
    toml = tomllib.loads((folder / "model.toml").read_text())
    backbone_sha256 = hashlib.sha256(
        (models / "efficientnet-lite0" / "model.onnx").read_bytes()).hexdigest()
    assert (toml["backbone"], toml["backbone_sha256"]) == ("efficientnet-lite0", backbone_sha256)
    assert "input" not in toml and toml["output"] == {"logits": "probabilities"}
    assert (folder / "model.onnx").stat().st_size < 50_000  # 3 x 1280 weights, no backbone
    evaluation = json.loads((folder / "eval.json").read_text())
    assert evaluation["onnx_check"]["same_top1"] == "8/8"
    assert evaluation["stored"] == "head only, on the shared backbone"
    assert evaluation["command"].endswith("--shared-backbone")
    assert "the head alone" in (folder / "MODEL_CARD.md").read_text()
    with _checked_and_served(runner, settings, models, tmp_path) as served:
        client = served.test_client()
        assert client.get("/models/head").get_json()["backbone"] == "efficientnet-lite0"
        shared = served.extensions["annoserver.runtime"].get("efficientnet-lite0").shared
        for label in CLASSES:
            response = client.post("/analyze", json={
                "image": training_server.info_url("3.0", f"new-{label}"),
                "models": ["fused", "head", "head-l2"]})
            assert response.status_code == 200, response.get_data(as_text=True)
            items = {item["creator"]["name"]: item for item in response.get_json()["items"]}
            assert items["head"]["body"]["value"] == items["fused"]["body"]["value"] == label
            assert items["head"]["body"]["confidence"] == pytest.approx(
                items["fused"]["body"]["confidence"], abs=1e-4)
            assert items["head-l2"]["body"]["value"] == label
        # one backbone run per image for both heads; the fused graph runs its own copy
        assert (shared.computed, shared.reused) == (len(CLASSES), len(CLASSES))


def test_a_head_stored_alone_needs_its_backbone_beside_it(runner, dataset, tmp_path):
    result = runner.invoke(main, ["train", "classifier", "--data", str(dataset), "--name", "x",
                                  "--out", str(tmp_path / "models"), "--shared-backbone"])
    assert result.exit_code != 0
    assert "runs on a backbone installed beside it" in result.output
    assert not (tmp_path / "models" / "x").exists()


def test_heads_keep_their_backbone_from_being_replaced_or_trained_on(runner, dataset, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    # a symlinked backbone folder is beside the head as far as the server is concerned
    (models / "efficientnet-lite0").symlink_to(SHIPPED_MODELS / "efficientnet-lite0")
    train = ["train", "classifier", "--data", str(dataset), "--out", str(models)]
    result = runner.invoke(main, [*train, "--name", "head", "--shared-backbone"])
    assert result.exit_code == 0, result.output
    replaced = runner.invoke(main, [*train, "--name", "efficientnet-lite0", "--overwrite"])
    assert replaced.exit_code != 0
    assert "'efficientnet-lite0' is the backbone of head" in replaced.output
    on_head = runner.invoke(main, [*train, "--name", "other", "--backbone", "head"])
    assert on_head.exit_code != 0
    assert "'head' is a head stored without its backbone: train on 'efficientnet-lite0'" \
        in on_head.output
    assert sorted(p.name for p in models.iterdir()) == ["efficientnet-lite0", "head"]
