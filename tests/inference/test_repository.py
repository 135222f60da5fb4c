from __future__ import annotations

import json

import numpy as np
import pytest

from annoserver.inference import (
    ModelConfigError,
    UnknownModel,
    check_repository,
    load_model_config,
    load_repository,
)
from annoserver.inference.model_config import schema_validator
from tests.inference.conftest import CLASSIFIER_LABELS, MEAN, STD, header
from tests.inference.onnx_factory import FEATURES, linear_model, write_model


def test_load_repository_completes_inputs_and_outputs_from_the_graph(repo, kinds):
    repository = load_repository(repo, kinds=kinds)
    assert [c.id for c in repository] == ["tiny-both", "tiny-classifier", "tiny-embedding"]
    config = repository["tiny-classifier"]
    assert config.input.name == "pixels"
    assert config.input.shape == (None, 3, 8, 8)
    assert config.input.size == (8, 8)
    assert config.input.dtype == np.float32
    assert (config.input.mean, config.input.std) == (MEAN, STD)
    assert config.outputs["logits"].name == "logits"
    assert config.outputs["logits"].shape == (None, 3)
    assert config.labels == tuple(CLASSIFIER_LABELS)
    assert config.batch_dim is None and config.batch_limit == 8
    assert repository["tiny-embedding"].outputs["embedding"].shape == (None, 4)
    assert set(repository["tiny-both"].outputs) == {"logits", "embedding"}


def test_describe_is_json_ready(repo, kinds):
    described = load_repository(repo, kinds=kinds).describe()
    json.dumps(described)
    one = next(d for d in described if d["id"] == "tiny-classifier")
    assert {"id", "kind", "version", "labels", "input", "license", "quality"} <= set(one)
    assert one["labels"] == {"count": 3, "values": CLASSIFIER_LABELS, "complete": True}
    assert one["input"]["size"] == [8, 8] and one["input"]["shape"] == [None, 3, 8, 8]
    assert one["quality"] == {"top1": 0.5}


def test_labels_are_truncated_in_the_list_view(tmp_path, weights, kinds):
    labels = [f"class {i}" for i in range(30)]
    weight, bias = np.zeros((FEATURES, 30)), np.zeros(30)
    write_model(tmp_path / "many", linear_model({"logits": (weight, bias)}),
                header("classifier", labels="labels.txt"), labels=labels)
    repository = load_repository(tmp_path, kinds=kinds)
    assert repository.describe()[0]["labels"]["count"] == 30
    assert len(repository.describe()[0]["labels"]["values"]) == 10
    assert repository.describe(all_labels=True)[0]["labels"]["values"] == labels


def test_unknown_model_is_404(repo, kinds):
    with pytest.raises(UnknownModel) as caught:
        load_repository(repo, kinds=kinds)["nope"]
    assert caught.value.status == 404 and "nope" in caught.value.detail


def test_sha256_mismatch_is_refused(tmp_path, weights, kinds):
    folder = write_model(tmp_path / "bad", linear_model({"logits": weights["logits"]}),
                         header("classifier"), sha256="0" * 64)
    with pytest.raises(ModelConfigError, match="sha256 mismatch"):
        load_model_config(folder, kinds)
    with pytest.raises(ModelConfigError, match="sha256 mismatch"):
        load_repository(tmp_path, kinds=kinds)
    problems = check_repository(tmp_path, kinds=kinds)
    assert [p.message for p in problems if p.severity == "error"][0].startswith("sha256 mismatch")


def test_schema_errors_are_reported(tmp_path, weights, kinds):
    model = linear_model({"logits": weights["logits"]})
    write_model(tmp_path / "no-kind", model,
                'version = "1"\nlicense = "MIT"\nsha256 = "{sha256}"\n')
    write_model(tmp_path / "bad-input", model, header("classifier")
                + '[input]\nresize = "squash"\nsize = [8]\nlayout = "NHCW"\n')
    write_model(tmp_path / "bad-types", model, header("classifier", max_batch_size=0)
                + 'unknown_key = 1\n')
    problems = {(p.model, p.message) for p in check_repository(tmp_path, kinds=kinds)}
    messages = "\n".join(f"{m}: {text}" for m, text in sorted(problems))
    assert "no-kind: model.toml: 'kind' is a required property" in messages
    assert "bad-input: input.resize: 'squash' is not one of" in messages
    assert "bad-input: input.size: [8] is too short" in messages
    assert "bad-input: input.layout: 'NHCW' is not one of" in messages
    assert "bad-types: max_batch_size: 0 is less than the minimum of 1" in messages
    assert "bad-types: model.toml: Additional properties are not allowed" in messages


def test_check_reports_graph_and_file_problems(tmp_path, weights, kinds):
    model = linear_model({"logits": weights["logits"]})
    write_model(tmp_path / "ok", model, header("classifier"))
    write_model(tmp_path / "no-plugin", model, header("captioner"))
    write_model(tmp_path / "no-labels", model, header("classifier", labels="labels.txt"))
    write_model(tmp_path / "wrong-labels", model, header("classifier", labels="labels.txt"),
                labels=["a", "b"])
    write_model(tmp_path / "wrong-size", model, header("classifier") + "[input]\nsize = [9, 9]\n")
    write_model(tmp_path / "wrong-output", model, header("classifier") + '[output]\nlogits = "x"\n')
    write_model(tmp_path / "no-card", model, header("classifier"), card=False)
    write_model(tmp_path / "nhwc", model, header("classifier") + '[input]\nlayout = "NHWC"\n')
    write_model(tmp_path / "fixed-batch", linear_model({"logits": weights["logits"]}, batch=4),
                header("classifier"))
    (tmp_path / "broken-toml").mkdir()
    (tmp_path / "broken-toml" / "model.toml").write_text("kind = ")
    found = {}
    for problem in check_repository(tmp_path, kinds=kinds):
        found.setdefault(problem.model, []).append(str(problem))
    assert "ok" not in found
    assert "no plugin provides 'captioner'" in found["no-plugin"][0]
    assert "labels: file 'labels.txt' not found" in found["no-labels"][0]
    assert "2 labels for 3 classes" in found["wrong-labels"][0]
    assert "[9, 9] differs from the graph's [8, 8]" in found["wrong-size"][0]
    assert "'x' is not an output of the graph" in found["wrong-output"][0]
    assert found["no-card"] == ["no-card: warning: MODEL_CARD.md is missing"]
    assert "fixed batch dimension of 4" in found["fixed-batch"][0]
    assert "not valid TOML" in found["broken-toml"][0]
    assert "8 channels in layout NHWC" in found["nhwc"][0]


def test_output_roles_need_mapping_when_ambiguous(tmp_path, weights, kinds):
    both = linear_model({"scores": weights["logits"], "features": weights["embedding"]})
    folder = write_model(tmp_path / "two", both, header("classifier"))
    with pytest.raises(ModelConfigError, match="needs a 'logits' output"):
        load_model_config(folder, kinds)
    (folder / "model.toml").write_text((folder / "model.toml").read_text()
                                       + '[output]\nlogits = "scores"\n')
    assert load_model_config(folder, kinds).outputs["logits"].name == "scores"


def test_empty_or_missing_repository(tmp_path, kinds):
    assert [p.severity for p in check_repository(tmp_path, kinds=kinds)] == ["warning"]
    assert "not a directory" in check_repository(tmp_path / "missing", kinds=kinds)[0].message
    assert len(load_repository(tmp_path, kinds=kinds)) == 0


def test_schema_itself_is_valid():
    schema_validator().check_schema(schema_validator().schema)


def test_shipped_repository_checks_clean(kinds):
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "onnx_models"
    if not any(shipped.glob("*/model.toml")):
        pytest.skip("no shipped models")
    assert [str(p) for p in check_repository(shipped, kinds=kinds) if p.severity == "error"] == []
