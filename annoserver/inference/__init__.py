"""The Flask-free inference runtime: model repository, plugins, sessions, batching.

Plugins implement :class:`ModelKind` and register it with :data:`hookimpl`::

    from annoserver.inference import ModelKind, hookimpl

    @hookimpl
    def register_model_kinds():
        return [MyKind]

The server, the workers and the CLI use :class:`Runtime` (or, without sessions,
:func:`load_repository` and :func:`check_repository`).
"""

from annoserver.inference.batching import DynamicBatcher
from annoserver.inference.errors import (
    BatcherClosed,
    InferenceError,
    InvalidImage,
    ModelConfigError,
    PluginError,
    UnknownModel,
    UnsupportedKind,
)
from annoserver.inference.hookspecs import hookimpl
from annoserver.inference.kinds import ModelKind
from annoserver.inference.model_config import InputSpec, ModelConfig, load_model_config
from annoserver.inference.plugins import get_plugin_manager, model_kinds
from annoserver.inference.preprocessing import Transform
from annoserver.inference.repository import (
    ModelRepository,
    Problem,
    check_repository,
    describe_config,
    load_repository,
)
from annoserver.inference.results import Box, Boxes, ImageResult, Label, Labels, Text, Vector
from annoserver.inference.runtime import Model, Runtime, RuntimeSettings
from annoserver.inference.sessions import ModelSession, SessionSettings

__all__ = [
    "BatcherClosed", "Box", "Boxes", "DynamicBatcher", "ImageResult", "InferenceError",
    "InputSpec", "InvalidImage", "Label", "Labels", "Model", "ModelConfig", "ModelConfigError",
    "ModelKind", "ModelRepository", "ModelSession", "PluginError", "Problem", "Runtime",
    "RuntimeSettings", "SessionSettings", "Text", "Transform", "UnknownModel",
    "UnsupportedKind", "Vector", "check_repository", "describe_config", "get_plugin_manager",
    "hookimpl", "load_model_config", "load_repository", "model_kinds",
]
