"""The facade the server, workers and CLI use: models by id, inference through batchers.

``Runtime(repository_path, plugin_manager, settings)`` loads the repository (graphs and
configs only), builds each model's kinds with a lazy :class:`ModelSession`, and sends
:meth:`Runtime.infer` calls through one :class:`DynamicBatcher` per (model, kind). Batchers
and sessions are per process: after a fork both are rebuilt on first use. A model with an
embedding output runs through :class:`SharedOutputs`, and a head (a model with a ``backbone``)
on its backbone's, so the kinds and heads asked for on the same pixels share one backbone run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pluggy

from annoserver.inference.batching import DynamicBatcher
from annoserver.inference.errors import UnknownModel, UnsupportedKind
from annoserver.inference.heads import HeadSession, SharedOutputs, rows_can_be_kept
from annoserver.inference.kinds import ModelKind
from annoserver.inference.model_config import ModelConfig
from annoserver.inference.plugins import get_plugin_manager, model_kinds
from annoserver.inference.preprocessing import check_image
from annoserver.inference.repository import ModelRepository, describe_config, load_repository
from annoserver.inference.results import Result
from annoserver.inference.sessions import ModelSession, Runner, SessionSettings


@dataclass(frozen=True)
class RuntimeSettings:
    """Settings of the runtime (field names are the keys of a settings mapping).

    Attributes:
        providers: execution providers in order; ``None``: CUDA first when present, then CPU.
        intra_op_threads: ONNX Runtime threads inside an operator (0: its default).
        inter_op_threads: ONNX Runtime threads across operators (0: its default).
        cuda_device_id: GPU of this process.
        batching: ``False`` runs every request alone (for comparisons).
        max_latency_ms: how long the first request of a batch may wait for company.
    """

    providers: tuple[str, ...] | None = None
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    cuda_device_id: int = 0
    batching: bool = True
    max_latency_ms: float = 5.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RuntimeSettings:
        """Build from a mapping, ignoring keys that are not fields."""
        names = {f.name for f in fields(cls)}
        chosen = {k: v for k, v in values.items() if k in names}
        if chosen.get("providers") is not None:
            chosen["providers"] = tuple(chosen["providers"])
        return cls(**chosen)

    def session_settings(self) -> SessionSettings:
        """The part of these settings that shapes ONNX Runtime sessions."""
        return SessionSettings(self.providers, self.intra_op_threads, self.inter_op_threads,
                               self.cuda_device_id)


class Model:
    """One installed model: its config, its session, and an instance of each kind it serves.

    ``session`` is the model's own ONNX file; ``runner`` is what its kinds run. A model with an
    embedding output runs them through ``shared`` (its recent outputs kept) when its graph
    gives one row per image; a head is given its ``backbone`` model and runs on that one's.
    """

    def __init__(self, config: ModelConfig, kinds: Mapping[str, type[ModelKind]],
                 session_settings: SessionSettings, backbone: Model | None = None) -> None:
        self.config = config
        self.session = ModelSession(config.onnx_path, session_settings)
        self.shared: SharedOutputs | None = None
        self.runner: Runner = self.session
        if config.backbone is not None:
            if backbone is None:
                raise ValueError(f"model {config.id!r} is a head: give its backbone model")
            self.runner = HeadSession(backbone.runner, backbone.config.outputs["embedding"].name,
                                      self.session, config.head_input.name)
        elif "embedding" in config.outputs and rows_can_be_kept(config.batch_dim,
                                                                list(config.outputs.values())):
            self.runner = self.shared = SharedOutputs(
                self.session, [info.name for info in config.outputs.values()])
        self.graphs = {role: ModelSession(file.path, session_settings)
                       for role, file in config.files.items()}
        primary = kinds[config.kind]
        self.kinds: dict[str, ModelKind] = {config.kind: primary(config, self.runner,
                                                                 self.graphs)}
        for name, kind in sorted(kinds.items()):
            if name != config.kind and kind.serves(config):
                self.kinds[name] = kind(config, self.runner, self.graphs)

    @property
    def id(self) -> str:
        """The model id (its folder name)."""
        return self.config.id

    def kind(self, name: str | None = None) -> ModelKind:
        """The plugin instance for kind ``name`` (default: the model's own kind).

        Raises:
            UnsupportedKind: when the model has no outputs for that kind.
        """
        try:
            return self.kinds[name or self.config.kind]
        except KeyError:
            raise UnsupportedKind(f"model {self.id!r} gives {sorted(self.kinds)}, not {name!r}",
                                  model=self.id) from None

    def describe(self, all_labels: bool = False) -> dict[str, Any]:
        """JSON-ready description, with the kinds served and the provider it runs on."""
        return {**describe_config(self.config, all_labels), "kinds": list(self.kinds),
                "provider": self.session.provider, "runtime": f"onnxruntime {ort.__version__}"}


class Runtime:
    """Installed models and inference on them.

    Args:
        repository_path: the model repository folder, or an already loaded repository.
        plugin_manager: where model kinds come from (default: :func:`get_plugin_manager`).
        settings: a :class:`RuntimeSettings` or a mapping of its field names.
    """

    def __init__(self, repository_path: str | Path | ModelRepository,
                 plugin_manager: pluggy.PluginManager | None = None,
                 settings: RuntimeSettings | Mapping[str, Any] | None = None) -> None:
        if settings is None or isinstance(settings, Mapping):
            settings = RuntimeSettings.from_mapping(settings or {})
        self.settings = settings
        kinds = model_kinds(plugin_manager or get_plugin_manager())
        self.repository = (repository_path if isinstance(repository_path, ModelRepository)
                           else load_repository(repository_path, kinds=kinds))
        session_settings = settings.session_settings()
        self._models: dict[str, Model] = {}
        for config in sorted(self.repository, key=lambda c: c.backbone is not None):
            self._models[config.id] = Model(config, kinds, session_settings,
                                            self._models.get(config.backbone or ""))
        self._batchers: dict[tuple[str, str], DynamicBatcher] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closed = False

    def models(self) -> list[Model]:
        """Every installed model, by id."""
        return [self._models[key] for key in sorted(self._models)]

    def describe(self) -> list[dict[str, Any]]:
        """JSON-ready descriptions of every model (for ``GET /models``)."""
        return [model.describe() for model in self.models()]

    def get(self, model_id: str) -> Model:
        """The model ``model_id``.

        Raises:
            UnknownModel: (status 404) when no such model is installed.
        """
        try:
            return self._models[model_id]
        except KeyError:
            raise UnknownModel(f"No model {model_id!r} is installed; installed: "
                               f"{', '.join(sorted(self._models)) or 'none'}.",
                               model=model_id) from None

    def _batcher(self, model: Model, kind: ModelKind) -> DynamicBatcher:
        if os.getpid() != self._pid:  # forked: the worker threads stayed in the parent
            self._lock, self._batchers, self._pid = threading.Lock(), {}, os.getpid()
        key = (model.id, kind.name)
        batcher = self._batchers.get(key)
        if batcher is None:
            with self._lock:
                batcher = self._batchers.get(key)
                if batcher is None:
                    size = model.config.batch_limit if self.settings.batching else 1
                    size = size if kind.stackable else 1
                    batcher = DynamicBatcher(kind.infer, size, self.settings.max_latency_ms / 1e3,
                                             name=f"{model.id}:{kind.name}")
                    if self._closed:
                        batcher.close()
                    self._batchers[key] = batcher
        return batcher

    def infer(self, model_id: str, images: Sequence[np.ndarray], kind: str | None = None
              ) -> list[Result]:
        """Run ``images`` (RGB ``uint8``, H × W × 3) through a model; one result per image.

        Each image is submitted to the model's batcher on its own, so concurrent callers
        share session runs. ``kind`` picks another kind the model also serves (e.g. the
        ``embedding`` of a classifier that has an embedding output).

        Raises:
            UnknownModel, UnsupportedKind, InvalidImage, BatcherClosed, or whatever the
            session raised.
        """
        model = self.get(model_id)
        plugin = model.kind(kind)
        batcher = self._batcher(model, plugin)
        futures = [batcher.submit(check_image(image)) for image in images]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop every batcher (queued requests finish first); later requests are refused."""
        with self._lock:
            self._closed = True
            batchers = list(self._batchers.values())
        for batcher in batchers:
            batcher.close()
