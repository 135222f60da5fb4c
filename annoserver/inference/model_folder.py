"""Writing a model folder into a repository safely: TOML, staging, renaming into place.

Anything that makes a model folder (``annoserver train classifier``, ``annoserver models
install``) writes it under a hidden name beside its destination (the repository skips
folders starting with ``.``), checks it, and only then renames it into place, so a server or
``models check`` never sees half a model. ``model.toml`` is written here (the standard
library reads TOML but does not write it) and read back to prove it.
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

from annoserver.inference.errors import ModelFolderExists


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
    """Raise ModelFolderExists when ``destination`` exists and ``overwrite`` is not set."""
    if destination.exists() and not overwrite:
        raise ModelFolderExists(f"{destination} exists; choose another name or place, or "
                                "pass --overwrite to replace it")


def staging_folder(destination: Path, overwrite: bool) -> Path:
    """An empty hidden folder beside ``destination`` to write the model into.

    Raises:
        ModelFolderExists: ``destination`` exists and ``overwrite`` is not set.
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


def move_into_place(staging: Path, destination: Path) -> None:
    """Rename ``staging`` to ``destination``, replacing an older model there."""
    retired = destination.parent / f".{destination.name}.replaced-{os.getpid()}"
    if destination.exists():
        destination.rename(retired)
    staging.rename(destination)
    shutil.rmtree(retired, ignore_errors=True)
