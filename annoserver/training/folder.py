"""What the trained classifier's folder adds to :mod:`annoserver.inference.model_folder`.

That module stages, writes and renames the folder (model.onnx, labels.txt, model.toml,
MODEL_CARD.md); this one writes ``eval.json``, checks the folder as the server would load
it, and numbers a replaced model's version.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from annoserver.inference import ModelConfig, get_plugin_manager, load_model_config, model_kinds
from annoserver.inference.errors import ModelConfigError
from annoserver.inference.graph import check_graph
from annoserver.training.errors import TrainingError


def write_json(path: Path, document: Any) -> None:
    """Write ``document`` as indented JSON."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check_folder(folder: Path, backbone: ModelConfig | None = None) -> None:
    """Load the folder as the server would (a head: on ``backbone``) and run the checker.

    Checks the schema, sha256, graph and kind.

    Raises:
        TrainingError: listing what is wrong.
    """
    try:
        load_model_config(folder, model_kinds(get_plugin_manager()),
                          {backbone.id: backbone} if backbone else None)
    except ModelConfigError as error:
        raise TrainingError(f"the written model does not load: {error.detail}") from error
    problems = check_graph(folder / "model.onnx")
    if problems:
        raise TrainingError("; ".join(problems))


def previous_version(destination: Path) -> str | None:
    """The version of the model now at ``destination``, if any."""
    try:
        with (destination / "model.toml").open("rb") as stream:
            version = tomllib.load(stream).get("version")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return version if isinstance(version, str) else None


def next_version(previous: str | None) -> str:
    """``1.0.0`` for a new model; a replaced one gets its last number raised by one."""
    if not previous:
        return "1.0.0"
    head, _, last = previous.rpartition(".")
    if last.isdigit():
        return f"{head + '.' if head else ''}{int(last) + 1}"
    return previous + ".1"
