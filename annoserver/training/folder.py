"""Writing the model folder: model.onnx, labels.txt, model.toml, eval.json, MODEL_CARD.md.

The folder is written under a hidden name beside its destination (the repository skips
folders starting with ``.``), checked as the server would load it, and only then renamed into
place, so a server or ``models check`` never sees half a model. ``model.toml`` is written
here (the standard library reads TOML but does not write it) and read back to prove it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from annoserver.inference import get_plugin_manager, load_model_config, model_kinds
from annoserver.inference.errors import ModelConfigError
from annoserver.inference.graph import check_graph
from annoserver.training.errors import TrainingError


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML here has no {value}")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _toml_string(key)


def to_toml(document: Mapping[str, Any], header: str = "") -> str:
    """TOML text of ``document``: scalars and arrays at the top, then one-level tables.

    Raises:
        ValueError: the text does not read back as ``document``.
    """
    lines = [f"# {line}" for line in header.splitlines()]
    tables = {k: v for k, v in document.items() if isinstance(v, Mapping)}
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in document.items()
              if k not in tables]
    for name, table in tables.items():
        lines += ["", f"[{_toml_key(name)}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    text = "\n".join(lines) + "\n"
    if tomllib.loads(text) != json.loads(json.dumps(document)):
        raise ValueError("the TOML written does not read back as the document")
    return text


def refuse_existing(destination: Path, overwrite: bool) -> None:
    """Raise TrainingError when ``destination`` exists and ``overwrite`` is not set."""
    if destination.exists() and not overwrite:
        raise TrainingError(f"{destination} exists; choose another --name, or pass "
                            "--overwrite to replace it")


def staging_folder(destination: Path, overwrite: bool) -> Path:
    """An empty hidden folder beside ``destination`` to write the model into.

    Raises:
        TrainingError: ``destination`` exists and ``overwrite`` is not set.
    """
    refuse_existing(destination, overwrite)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def write_text(folder: Path, files: Mapping[str, str]) -> None:
    """Write UTF-8 text files into ``folder``."""
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def write_json(path: Path, document: Any) -> None:
    """Write ``document`` as indented JSON."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def check_folder(folder: Path) -> None:
    """Load the folder as the server would (schema, sha256, graph, kind) and run the checker.

    Raises:
        TrainingError: listing what is wrong.
    """
    try:
        load_model_config(folder, model_kinds(get_plugin_manager()))
    except ModelConfigError as error:
        raise TrainingError(f"the written model does not load: {error.detail}") from error
    problems = check_graph(folder / "model.onnx")
    if problems:
        raise TrainingError("; ".join(problems))


def move_into_place(staging: Path, destination: Path) -> None:
    """Rename ``staging`` to ``destination``, replacing an older model there."""
    retired = destination.parent / f".{destination.name}.replaced-{os.getpid()}"
    if destination.exists():
        destination.rename(retired)
    staging.rename(destination)
    shutil.rmtree(retired, ignore_errors=True)


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
