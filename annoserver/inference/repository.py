"""The model repository: ``onnx_models/<id>/`` folders, like Triton's.

A folder holds ``model.onnx``, ``model.toml``, optionally a labels file and ``MODEL_CARD.md``;
its name is the model id. Adding a model is adding a folder. :func:`load_repository` refuses a
repository with a broken model; :func:`check_repository` lists every problem instead (for
``annoserver models check``). Heads (``backbone = "<id>"``) are loaded after the whole models
they stand on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annoserver.inference.errors import ModelConfigError, PluginError, UnknownModel
from annoserver.inference.graph import check_graph
from annoserver.inference.kinds import ModelKind
from annoserver.inference.model_config import ModelConfig, load_model_config, read_document
from annoserver.inference.plugins import get_plugin_manager, model_kinds

MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LABELS_SHOWN = 10
IS_HEAD = "is itself a head; a head stands on a whole model"
DID_NOT_LOAD = "did not load (see its own problems)"


@dataclass(frozen=True)
class Problem:
    """Something wrong (``error``) or missing (``warning``) in one model folder."""

    model: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.model}: {self.severity}: {self.message}"


class ModelRepository:
    """The loaded models of a repository folder, by id."""

    def __init__(self, path: Path, models: Mapping[str, ModelConfig]) -> None:
        self.path = path
        self.models = dict(sorted(models.items()))

    def __iter__(self) -> Iterator[ModelConfig]:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.models

    def __getitem__(self, model_id: str) -> ModelConfig:
        try:
            return self.models[model_id]
        except KeyError:
            raise UnknownModel(f"No model {model_id!r} is installed.", model=model_id) from None

    def describe(self, all_labels: bool = False) -> list[dict[str, Any]]:
        """JSON-ready descriptions of every model (no provider: sessions live in the runtime)."""
        return [describe_config(config, all_labels) for config in self]


def describe_config(config: ModelConfig, all_labels: bool = False) -> dict[str, Any]:
    """Return a JSON-ready view of one model: id, kind, version, labels, input, license, quality."""
    labels = list(config.labels if all_labels else config.labels[:LABELS_SHOWN])
    return {
        "id": config.id, "kind": config.kind, "version": config.version,
        "description": config.description, "license": config.license, "source": config.source,
        "sha256": config.sha256,
        "labels": {"count": len(config.labels), "values": labels,
                   "complete": len(labels) == len(config.labels)},
        "input": config.input.describe(), "backbone": config.backbone,
        "outputs": {role: info.describe() for role, info in config.outputs.items()},
        "max_batch_size": config.batch_limit, "thresholds": dict(config.thresholds),
        "options": dict(config.options), "quality": dict(config.quality),
    }


def backbones_of_heads(folders: Iterable[Path]) -> dict[str, str]:
    """Each head among ``folders`` (model folders), with the model id it stands on."""
    documents = {folder.name: read_document(folder)[0] or {} for folder in folders}
    return {name: doc["backbone"] for name, doc in documents.items() if "backbone" in doc}


def _model_folders(path: Path) -> tuple[list[Path], dict[str, ModelConfig | str]]:
    """The model folders, whole models first, then heads, and what heads may stand on so far.

    Heads come last because they need their backbone loaded; the mapping starts with every
    head and the reason a head cannot stand on it.
    """
    if not path.is_dir():
        raise ModelConfigError(f"model repository {str(path)!r} is not a directory")
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    heads = backbones_of_heads(folders)
    return sorted(folders, key=lambda f: f.name in heads), dict.fromkeys(heads, IS_HEAD)


def _default_kinds() -> dict[str, type[ModelKind]]:
    return model_kinds(get_plugin_manager())


def load_repository(path: str | Path, kinds: Mapping[str, type[ModelKind]] | None = None
                    ) -> ModelRepository:
    """Load every model folder of ``path`` (graphs and configs; no sessions are built).

    Args:
        path: the repository folder (e.g. ``onnx_models/``).
        kinds: the model kinds plugins provide; default: those of :func:`get_plugin_manager`.

    Raises:
        ModelConfigError: when any model folder is broken (all problems listed).
    """
    kinds = _default_kinds() if kinds is None else kinds
    models, problems = {}, []
    folders, available = _model_folders(Path(path))
    for folder in folders:
        try:
            models[folder.name] = load_model_config(folder, kinds, available)
        except ModelConfigError as error:
            problems.extend(f"{folder.name}: {p}" for p in error.problems)
        available.setdefault(folder.name, models.get(folder.name, DID_NOT_LOAD))
    if problems:
        raise ModelConfigError(f"model repository {str(path)!r} has problems: "
                               + "; ".join(problems), problems)
    return ModelRepository(Path(path), models)


def _check_folder(folder: Path, kinds: Mapping[str, type[ModelKind]],
                  available: dict[str, ModelConfig | str]) -> list[Problem]:
    """The folder's problems; a whole model joins ``available`` (for the heads after it)."""
    found = []
    if not MODEL_ID.match(folder.name):
        found.append(Problem(folder.name, "the folder name is not a usable model id "
                                          "(letters, digits, '.', '_', '-')"))
    config = None
    try:
        config = load_model_config(folder, kinds, available)
    except ModelConfigError as error:
        found.extend(Problem(folder.name, p) for p in error.problems)
    if (folder / "model.onnx").is_file() and not any(p.message.startswith("sha256")
                                                     for p in found):
        found.extend(Problem(folder.name, p) for p in check_graph(folder / "model.onnx"))
    for file in config.files.values() if config is not None else ():
        found.extend(Problem(folder.name, f"files.{file.role}: {p}")
                     for p in check_graph(file.path))
    if not (folder / "MODEL_CARD.md").is_file():
        found.append(Problem(folder.name, "MODEL_CARD.md is missing", "warning"))
    available.setdefault(folder.name, config or DID_NOT_LOAD)
    return found


def check_repository(path: str | Path, kinds: Mapping[str, type[ModelKind]] | None = None
                     ) -> list[Problem]:
    """Validate every model folder of ``path``; return the problems (empty when all is well).

    Checks ``model.toml`` against the schema, the files, the sha256, the ONNX checker, the
    graph against the config, and the kind against the installed plugins.
    """
    try:
        kinds = _default_kinds() if kinds is None else kinds
        folders, available = _model_folders(Path(path))
    except (ModelConfigError, PluginError) as error:
        return [Problem("-", error.detail)]
    if not folders:
        return [Problem("-", f"no model folders in {str(path)!r}", "warning")]
    return [problem for folder in folders for problem in _check_folder(folder, kinds, available)]
