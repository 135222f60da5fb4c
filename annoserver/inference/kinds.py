"""The plugin interface: a model kind with a Triton-like lifecycle.

A kind is built once per model with its :class:`ModelConfig` and what runs its graph: its
(lazy, per-process) :class:`ModelSession`, or a :class:`~annoserver.inference.sessions.Runner`
around it that shares a backbone's work (:mod:`annoserver.inference.heads`).
:meth:`ModelKind.infer` runs a batch: :meth:`preprocess` stacks the images into input tensors
and records how each was resized, the session runs once (or once per image when the batch
cannot be stacked), and :meth:`postprocess` turns the outputs, keyed by role, into one result
per image in that image's pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from annoserver.inference.preprocessing import Transform, check_image, fit, to_tensor

if TYPE_CHECKING:
    from annoserver.inference.model_config import ModelConfig
    from annoserver.inference.results import Result
    from annoserver.inference.sessions import ModelSession, Runner


class ModelKind:
    """Base class of plugins; subclasses set ``name``, ``outputs`` and :meth:`postprocess`.

    Attributes:
        name: the ``kind`` value in ``model.toml`` this plugin serves.
        outputs: output roles the kind needs; the first is the one a single-output graph plays.
        optional_outputs: roles used when the model maps (or names) them.
    """

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]] = ()
    optional_outputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ModelConfig, session: Runner,
                 graphs: Mapping[str, ModelSession] | None = None) -> None:
        self.config = config
        #: What :meth:`run` runs model.onnx through (for a head: its backbone, then the head).
        self.session = session
        #: Sessions of the model's further graphs (``[files]`` in model.toml), by role.
        self.graphs = dict(graphs or {})
        self.roles = {role: info.name for role, info in config.outputs.items()
                      if role in self.outputs or role in self.optional_outputs}

    @classmethod
    def check_config(cls, config: ModelConfig) -> list[str]:
        """Return problems with ``config`` for this kind (``[]`` when usable)."""
        return []

    @classmethod
    def serves(cls, config: ModelConfig) -> bool:
        """Whether a model has every output this kind needs (so it can serve it too)."""
        return bool(cls.outputs) and all(role in config.outputs for role in cls.outputs)

    def threshold(self, key: str, default: float) -> float:
        """A ``[thresholds]`` value of the model, or ``default``."""
        return self.config.thresholds.get(key, default)

    def option(self, key: str, default: Any) -> Any:
        """An ``[options]`` value of the model, or ``default``."""
        return self.config.options.get(key, default)

    def label(self, index: int) -> str:
        """The label of class ``index`` (its number when the model has no labels file)."""
        labels = self.config.labels
        return labels[index] if 0 <= index < len(labels) else str(index)

    @property
    def stackable(self) -> bool:
        """Whether images of any size become equally shaped tensors."""
        spec = self.config.input
        return spec.size is not None and spec.resize != "longest-side"

    def preprocess(self, images: Sequence[np.ndarray]
                   ) -> tuple[dict[str, np.ndarray], list[Transform]]:
        """Turn RGB ``uint8`` images into the model's input tensors (one batch).

        Returns:
            The feeds by input name, and how each image was mapped into the input.
        """
        spec = self.config.input
        fitted = [fit(check_image(image), spec.size, spec.resize, spec.pad_value)
                  for image in images]
        tensor = to_tensor([f[0] for f in fitted], spec.color, spec.mean, spec.std,
                           spec.layout, spec.dtype)
        return {spec.name: tensor}, [f[1] for f in fitted]

    def postprocess(self, outputs: Mapping[str, np.ndarray], metas: list[Transform]
                    ) -> list[Result]:
        """Turn one batch of outputs (keyed by role) into one result per image."""
        raise NotImplementedError

    def run(self, images: Sequence[np.ndarray]) -> list[Result]:
        """Preprocess, run the session once, and postprocess ``images`` as one batch."""
        feeds, metas = self.preprocess(images)
        roles = list(self.roles)
        arrays = self.session.run([self.roles[r] for r in roles], feeds)
        return self.postprocess(dict(zip(roles, arrays, strict=True)), metas)

    def infer(self, images: Sequence[np.ndarray]) -> list[Result]:
        """Run any number of images, in batches the model accepts; one result per image."""
        limit = self.config.batch_limit if self.stackable else 1
        results: list[Result] = []
        for start in range(0, len(images), limit):
            results.extend(self.run(images[start:start + limit]))
        return results
