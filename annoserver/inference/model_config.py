"""One model folder's ``model.toml``: validated, checked against its ONNX graph, completed.

:func:`load_model_config` reads ``onnx_models/<id>/``, validates ``model.toml`` against
``annoserver/schemas/model-config.schema.json``, checks the sha256 of ``model.onnx``, and fills
in what the graph already says (input name, shape, size, dtype; output roles when there is a
single output or an output named after the role). Every problem found is reported at once.

A *head* (``backbone = "<id>"``) is a model.onnx that takes another model's ``embedding``
output instead of an image: its images are preprocessed as its backbone's ``[input]`` says,
so it is loaded with the already loaded models it may stand on (``backbones``).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import jsonschema

from annoserver.inference.errors import ModelConfigError
from annoserver.inference.graph import GraphInfo, TensorInfo, file_sha256, read_graph

if TYPE_CHECKING:
    from collections.abc import Mapping

    from annoserver.inference.kinds import ModelKind

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "model-config.schema.json"


@cache
def schema_validator() -> jsonschema.Draft202012Validator:
    """Return the (cached) validator of ``model.toml`` documents."""
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text("utf-8")))


@dataclass(frozen=True)
class InputSpec:
    """The model input and how images become it."""

    name: str
    shape: tuple[int | None, ...]
    dtype: Any
    size: tuple[int, int] | None
    resize: str = "stretch"
    color: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: str = "NCHW"
    pad_value: int = 0

    def describe(self) -> dict:
        """Return a JSON-ready view."""
        return {"name": self.name, "shape": list(self.shape), "dtype": str(self.dtype),
                "size": list(self.size) if self.size else None, "resize": self.resize,
                "color": self.color, "mean": list(self.mean), "std": list(self.std),
                "layout": self.layout}


@dataclass(frozen=True)
class GraphFile:
    """A further ONNX graph of a pipeline model (``[files.<role>]``), checked like model.onnx.

    Some models are several networks run in turn by their plugin (a text detector, then a
    recogniser on each line it found); each extra graph is listed with its own sha256.
    """

    role: str
    path: Path
    sha256: str
    graph: GraphInfo


@dataclass(frozen=True)
class ModelConfig:
    """A model as the repository knows it; ``id`` is its folder name."""

    id: str
    path: Path
    kind: str
    version: str
    license: str
    sha256: str
    input: InputSpec
    outputs: Mapping[str, TensorInfo]
    description: str = ""
    source: str = ""
    labels: tuple[str, ...] = ()
    labels_file: str | None = None
    max_batch_size: int = 1
    batch_dim: int | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    quality: Mapping[str, Any] = field(default_factory=dict)
    files: Mapping[str, GraphFile] = field(default_factory=dict)
    #: For a head: the backbone's model id and sha256, and the input of model.onnx that takes
    #: its embedding.
    backbone: str | None = None
    backbone_sha256: str | None = None
    head_input: TensorInfo | None = None

    @property
    def onnx_path(self) -> Path:
        """Path of ``model.onnx``."""
        return self.path / "model.onnx"

    @property
    def batch_limit(self) -> int:
        """Most images one session run takes: ``max_batch_size`` unless the graph fixes it."""
        return 1 if self.batch_dim is not None else self.max_batch_size


def _schema_problems(document: dict) -> list[str]:
    problems = []
    for error in sorted(schema_validator().iter_errors(document), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.absolute_path) or "model.toml"
        problems.append(f"{where}: {error.message}")
    return problems


def _read_labels(folder: Path, name: str | None, problems: list[str]) -> tuple[str, ...]:
    if not name:
        return ()
    path = folder / name
    if path.parent != folder or not path.is_file():
        problems.append(f"labels: file {name!r} not found in the model folder")
        return ()
    lines = [line.strip() for line in path.read_text("utf-8").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return tuple(lines)


def _input_spec(table: dict, graph: GraphInfo, problems: list[str]) -> InputSpec | None:
    name = table.get("name")
    if name is None and len(graph.inputs) != 1:
        problems.append(f"input.name: the graph has inputs {[i.name for i in graph.inputs]}; "
                        "say which one takes the image")
        return None
    info = graph.input(name) if name else graph.inputs[0]
    if info is None:
        problems.append(f"input.name: {name!r} is not an input of the graph")
        return None
    layout = table.get("layout", "NCHW")
    if len(info.shape) != 4:
        problems.append(f"input {info.name!r}: expected a 4-d image tensor, not {info.shape}")
        return None
    channels = info.shape[1] if layout == "NCHW" else info.shape[3]
    if channels not in (3, None):
        problems.append(f"input {info.name!r}: {channels} channels in layout {layout}; "
                        "images are fed as 3 channels (check input.layout)")
        return None
    graph_hw = info.shape[2:4] if layout == "NCHW" else info.shape[1:3]
    size = tuple(table["size"]) if "size" in table else None
    if None not in graph_hw:
        if size is not None and size != graph_hw:
            problems.append(f"input.size: {list(size)} differs from the graph's {list(graph_hw)}")
        size = graph_hw
    return InputSpec(info.name, info.shape, info.dtype, size, table.get("resize", "stretch"),
                     table.get("color", "RGB"), tuple(table.get("mean", (0.0,) * 3)),
                     tuple(table.get("std", (1.0,) * 3)), layout, table.get("pad_value", 0))


def _outputs(table: dict, graph: GraphInfo, kind: type[ModelKind] | None,
             problems: list[str]) -> dict[str, TensorInfo]:
    outputs: dict[str, TensorInfo] = {}
    for role, name in table.items():
        info = graph.output(name)
        if info is None:
            problems.append(f"output.{role}: {name!r} is not an output of the graph "
                            f"(outputs: {[o.name for o in graph.outputs]})")
        else:
            outputs[role] = info
    if kind is None:
        return outputs
    for role in kind.outputs:
        if role in outputs:
            continue
        if not table and len(graph.outputs) == 1 and role == kind.outputs[0]:
            outputs[role] = graph.outputs[0]
        elif graph.output(role) is not None:
            outputs[role] = graph.output(role)
        else:
            names = [o.name for o in graph.outputs]
            problems.append(f"output.{role}: kind {kind.name!r} needs a {role!r} output; "
                            f"map it in [output] (graph outputs: {names})")
    for role in kind.optional_outputs:
        if role not in outputs and graph.output(role) is not None:
            outputs[role] = graph.output(role)
    return outputs


def _batch_dim(tensor: InputSpec | TensorInfo, problems: list[str]) -> int | None:
    fixed = tensor.shape[0]
    if fixed is not None and fixed != 1:
        problems.append(f"input {tensor.name!r}: a fixed batch dimension of {fixed} is not "
                        "supported (make it dynamic or 1)")
    return fixed


def _head_input(document: dict, graph: GraphInfo, backbones: Mapping[str, ModelConfig | str],
                problems: list[str]) -> tuple[ModelConfig | None, TensorInfo | None]:
    """A head's backbone and its one input, checked against each other.

    The backbone must be installed, be the file the head was trained on, and give an
    embedding that input takes.
    """
    name, pinned = document["backbone"], document["backbone_sha256"].lower()
    if "input" in document:
        problems.append("input: a head is fed its backbone's embedding, and images are "
                        f"preprocessed as model {name!r} says: leave [input] out")
    if len(graph.inputs) != 1:
        problems.append(f"model.onnx: a head has one input (the backbone's embedding), not "
                        f"{[i.name for i in graph.inputs]}")
        return None, None
    feature = graph.inputs[0]
    base = backbones.get(name)
    if isinstance(base, str):
        problems.append(f"backbone: model {name!r} {base}")
        return None, feature
    if base is None:
        installed = sorted(k for k, v in backbones.items() if not isinstance(v, str))
        problems.append(f"backbone: no model {name!r} is installed beside this head "
                        f"(installed: {', '.join(installed) or 'none'})")
        return None, feature
    if base.sha256 != pinned:
        problems.append(f"backbone_sha256: the head was trained on {name!r} with sha256 "
                        f"{pinned}, the installed one is {base.sha256}: retrain the head on "
                        "it or install the backbone it was trained on")
    embedding = base.outputs.get("embedding")
    if embedding is None:
        problems.append(f"backbone: model {name!r} has no 'embedding' output to feed a head")
    elif (len(feature.shape) != 2 or embedding.shape[1:] != feature.shape[1:]
          or embedding.dtype != feature.dtype):
        problems.append(f"backbone: model {name!r} gives {embedding.dtype} "
                        f"{list(embedding.shape)} embeddings; the head's input {feature.name!r} "
                        f"is {feature.dtype} {list(feature.shape)}")
    return base, feature


def read_document(folder: Path) -> tuple[dict | None, list[str]]:
    """Parse ``model.toml`` and validate it against the schema."""
    try:
        with (folder / "model.toml").open("rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError:
        return None, ["model.toml is missing"]
    except tomllib.TOMLDecodeError as error:
        return None, [f"model.toml is not valid TOML: {error}"]
    return document, _schema_problems(document)


def _check_file(folder: Path, document: dict, problems: list[str]) -> GraphInfo | None:
    onnx_path = folder / "model.onnx"
    if not onnx_path.is_file():
        problems.append("model.onnx is missing")
        return None
    actual = file_sha256(onnx_path)
    if actual != document["sha256"].lower():
        problems.append(f"sha256 mismatch: model.toml says {document['sha256']}, "
                        f"model.onnx is {actual}")
        return None
    try:
        return read_graph(onnx_path)
    except Exception as error:  # onnx raises DecodeError, ValidationError or OSError
        problems.append(f"model.onnx cannot be read as ONNX: {error}")
        return None


def _extra_files(folder: Path, table: dict, problems: list[str]) -> dict[str, GraphFile]:
    files = {}
    for role, entry in table.items():
        name, pinned = entry["file"], entry["sha256"].lower()
        path = folder / name
        if path.parent != folder or not path.is_file():
            problems.append(f"files.{role}: file {name!r} not found in the model folder")
            continue
        actual = file_sha256(path)
        if actual != pinned:
            problems.append(f"files.{role}: sha256 mismatch: model.toml says {pinned}, "
                            f"{name} is {actual}")
            continue
        try:
            graph = read_graph(path)
        except Exception as error:  # as in _check_file
            problems.append(f"files.{role}: {name} cannot be read as ONNX: {error}")
            continue
        files[role] = GraphFile(role, path.resolve(), actual, graph)
    return files


def load_model_config(folder: Path, kinds: Mapping[str, type[ModelKind]] | None = None,
                      backbones: Mapping[str, ModelConfig | str] | None = None) -> ModelConfig:
    """Read and check the model folder ``folder``; the folder name becomes the model id.

    Args:
        folder: ``onnx_models/<id>/``.
        kinds: registered model kinds by name; when given, the kind must be one of them and
            its output roles are completed and checked.
        backbones: the models beside this one, by id: a config a head may stand on, or the
            reason it cannot (it is a head itself, it did not load).

    Raises:
        ModelConfigError: listing every problem found (schema, files, sha256, graph).
    """
    folder = Path(folder)
    document, problems = read_document(folder)
    if document is None or problems:
        raise ModelConfigError(f"model {folder.name!r}: {'; '.join(problems)}", problems)
    kind = None
    if kinds is not None:
        kind = kinds.get(document["kind"])
        if kind is None:
            problems.append(f"kind: no plugin provides {document['kind']!r} "
                            f"(installed: {', '.join(sorted(kinds))})")
    graph = _check_file(folder, document, problems)
    labels = _read_labels(folder, document.get("labels"), problems)
    files = _extra_files(folder, document.get("files", {}), problems)
    spec = outputs = base = feature = None
    if graph is not None and "backbone" in document:
        base, feature = _head_input(document, graph, backbones or {}, problems)
        spec = base.input if base is not None else None
    elif graph is not None:
        spec = _input_spec(document.get("input", {}), graph, problems)
    if graph is not None:
        outputs = _outputs(document.get("output", {}), graph, kind, problems)
    if problems or spec is None or outputs is None:
        raise ModelConfigError(f"model {folder.name!r}: {'; '.join(problems)}", problems)
    max_batch_size = document.get("max_batch_size", 1)
    if base is not None:  # a head's batches run through its backbone too
        max_batch_size = min(max_batch_size, base.batch_limit)
    config = ModelConfig(
        id=folder.name, path=folder.resolve(), kind=document["kind"],
        version=document["version"], license=document["license"],
        sha256=document["sha256"].lower(), input=spec, outputs=MappingProxyType(outputs),
        description=document.get("description", ""), source=document.get("source", ""),
        labels=labels, labels_file=document.get("labels"),
        max_batch_size=max_batch_size,
        batch_dim=_batch_dim(spec, problems) if base is None
        else _batch_dim(feature, problems) or base.batch_dim,
        thresholds=MappingProxyType(document.get("thresholds", {})),
        options=MappingProxyType(document.get("options", {})),
        quality=MappingProxyType(document.get("quality", {})),
        files=MappingProxyType(files), backbone=base.id if base else None,
        backbone_sha256=base.sha256 if base else None, head_input=feature)
    if kind is not None:
        problems.extend(kind.check_config(config))
    if problems:
        raise ModelConfigError(f"model {folder.name!r}: {'; '.join(problems)}", problems)
    return config
