"""Errors of the inference runtime, kept free of Flask so workers and the CLI can raise them.

They are :class:`annoserver.errors.AnnoserverError` subclasses, so the HTTP layer maps
them to problem documents like every other error::

    InferenceError                 500
    ├── ModelConfigError           500  (a broken model folder; ``problems`` lists why)
    ├── PluginError                500  (a plugin failed to load or clashes with another)
    ├── UnknownModel               404
    ├── UnsupportedKind            400  (the model cannot serve the kind asked for)
    ├── InvalidImage               400  (not an H × W × 3 uint8 array)
    ├── ModelFolderExists          409  (a model folder is there; --overwrite replaces it)
    └── BatcherClosed              503  (the runtime is shutting down)
"""

from __future__ import annotations

from annoserver.errors import AnnoserverError


class InferenceError(AnnoserverError):
    """Base of the runtime's errors; ``status`` and ``title`` are fixed per class."""


class ModelConfigError(InferenceError):
    """A model folder is unusable: bad ``model.toml``, missing file, or sha256 mismatch."""

    def __init__(self, detail: str, problems: list[str] | None = None) -> None:
        super().__init__(detail)
        self.problems = list(problems or [detail])


class PluginError(InferenceError):
    """A plugin module failed to import, or two plugins register the same kind."""


class UnknownModel(InferenceError):
    """No model with this id is installed."""

    status = 404
    title = "Not Found"


class UnsupportedKind(InferenceError):
    """The model has no outputs for the kind of result asked for."""

    status = 400
    title = "Bad Request"


class InvalidImage(InferenceError):
    """An input is not an RGB ``uint8`` array of shape height × width × 3."""

    status = 400
    title = "Bad Request"


class ModelFolderExists(InferenceError):
    """A model folder would be written where one already is, and replacing it was not asked."""

    status = 409
    title = "Conflict"


class BatcherClosed(InferenceError):
    """The batcher (or runtime) was closed; no new work is accepted."""

    status = 503
    title = "Service Unavailable"
