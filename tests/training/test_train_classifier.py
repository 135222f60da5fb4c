"""``annoserver train classifier`` end to end: folder → fused model folder → /analyze."""

from __future__ import annotations

import json
import re

from annoserver.app import create_app
from annoserver.cli import main
from tests.training.synthetic import CLASSES


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

    checked = runner.invoke(main, ["models", "check", str(models)])
    assert checked.exit_code == 0 and "0 error(s), 0 warning(s)" in checked.output, \
        checked.output

    served = create_app({**settings, "MODELS_DIR": str(models),
                         "DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}"})
    try:
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
    finally:
        served.extensions["annoserver.db"].dispose()


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
