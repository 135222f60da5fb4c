"""/models and `annoserver models list|check` on the shipped model repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "onnx_models"


def test_models_lists_the_shipped_classifier(client):
    models = {m["id"]: m for m in client.get("/models").get_json()["models"]}
    lite = models["efficientnet-lite0"]
    assert lite["kind"] == "classifier" and lite["version"] == "1.0.0"
    assert lite["license"] == "Apache-2.0" and lite["labels"]["count"] == 1000
    assert lite["input"]["size"] == [224, 224]
    assert lite["provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert "embedding" in lite["kinds"] and lite["quality"]
    one = client.get("/models/efficientnet-lite0").get_json()
    assert len(one["labels"]["values"]) == 1000
    missing = client.get("/models/no-such-model")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-c", "from annoserver.cli import main; main()",
                           *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_models_check_and_list(tmp_path):
    checked = _cli("models", "check")
    assert checked.returncode == 0, checked.stderr
    assert "0 error(s)" in checked.stdout
    listed = _cli("models", "list", env={"ANNOSERVER_DATA_DIR": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    # An opt-in pack installed into the checkout may sort first.
    assert any(line.startswith("efficientnet-lite0\tclassifier\t1.0.0\t")
               for line in listed.stdout.splitlines())


def test_models_check_reports_a_broken_folder(tmp_path):
    broken = tmp_path / "repo" / "efficientnet-lite0"
    shutil.copytree(SHIPPED / "efficientnet-lite0", broken)
    toml = broken / "model.toml"
    toml.write_text(toml.read_text().replace('sha256 = "6', 'sha256 = "7'))
    checked = _cli("models", "check", str(tmp_path / "repo"))
    assert checked.returncode == 1
    assert "sha256" in checked.stderr
