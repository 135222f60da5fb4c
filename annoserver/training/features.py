"""Frozen backbone features: a shipped model's ``embedding`` output, through ONNX Runtime.

The backbone is loaded as the server loads any model (its folder checked, its sha256 verified)
and run through the built-in ``embedding`` kind, so preprocessing (resize mode, colour order,
mean/std, layout) is the runtime's, not a copy of it. Vectors are kept raw (not
L2-normalised): the fused graph applies the head to the graph's own output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from annoserver.analysis import _target_for  # the fetch size /analyze uses for a model
from annoserver.errors import AnnoserverError
from annoserver.iiif import Target
from annoserver.inference import SessionSettings, get_plugin_manager, model_kinds
from annoserver.inference.model_config import load_model_config, read_document
from annoserver.inference.runtime import Model
from annoserver.training.errors import TrainingError
from annoserver.training.pixels import PixelSource
from annoserver.training.sources import Sample

EMBEDDING = "embedding"
CHUNK = 64  # samples fetched and embedded at a time: memory stays flat however many there are


class Backbone:
    """A model folder whose ``embedding`` output heads are trained on.

    Raises:
        ModelConfigError: the folder is not a sound model.
        TrainingError: the model gives no embedding.
    """

    def __init__(self, folder: Path, session_settings: SessionSettings | None = None) -> None:
        kinds = model_kinds(get_plugin_manager())
        document = read_document(Path(folder))[0] or {}
        if "backbone" in document:
            raise TrainingError(f"model {Path(folder).name!r} is a head stored without its "
                                f"backbone: train on {document['backbone']!r} itself")
        config = load_model_config(folder, kinds)
        if EMBEDDING not in config.outputs or EMBEDDING not in kinds:
            raise TrainingError(f"model {config.id!r} has no {EMBEDDING!r} output to train a "
                                "head on")
        info = config.outputs[EMBEDDING]
        if len(info.shape) != 2 or info.shape[1] is None or info.dtype != np.float32:
            raise TrainingError(f"{config.id}: the embedding output must be float32 [N, D], "
                                f"not {info.dtype} {list(info.shape)}")
        config = replace(config, options=MappingProxyType({**config.options,
                                                           "normalize": False}))
        self.folder = Path(folder)
        self.config = config
        self.document: dict[str, Any] = read_document(self.folder)[0] or {}
        self.model = Model(config, kinds, session_settings or SessionSettings())

    @property
    def dimension(self) -> int:
        """Length of the embedding."""
        return int(self.config.outputs[EMBEDDING].shape[1])

    @property
    def output_name(self) -> str:
        """Name of the embedding output in the graph."""
        return self.config.outputs[EMBEDDING].name

    @property
    def target(self) -> Target:
        """The size regions are fetched at (as ``/analyze`` fetches them for this model)."""
        return _target_for(self.model)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Raw embeddings of RGB ``uint8`` images, ``float32 [N, D]``."""
        vectors = self.model.kind(EMBEDDING).infer(list(images))
        return np.stack([np.asarray(v.values, np.float32) for v in vectors]) if vectors \
            else np.zeros((0, self.dimension), np.float32)

    def feeds(self, images: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """The input tensors the runtime would feed for ``images``."""
        return self.model.kind(EMBEDDING).preprocess(list(images))[0]


@dataclass
class Features:
    """Embeddings of the samples that could be read; ``failed`` says why others could not."""

    vectors: np.ndarray
    indices: list[int]
    failed: list[tuple[int, str]]
    kept: dict[int, np.ndarray]


def extract(samples: Sequence[Sample], source: PixelSource, backbone: Backbone, *,
            keep: Iterable[int] = (), workers: int = 4,
            progress: Callable[[int], None] | None = None) -> Features:
    """Fetch every sample's pixels (``workers`` at once) and embed them, chunk by chunk.

    A sample that cannot be read is left out and reported, not fatal: one broken image in
    thousands should not cost the run. ``keep`` names samples whose pixels are kept (to check
    the exported graph against the head on them).
    """
    keep = set(keep)
    vectors, indices, failed, kept = [], [], [], {}

    def load(index: int) -> np.ndarray | str:
        try:
            return source.pixels(samples[index])
        except (AnnoserverError, OSError) as error:
            return getattr(error, "detail", None) or str(error)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start in range(0, len(samples), CHUNK):
            chunk = range(start, min(start + CHUNK, len(samples)))
            images = []
            for index, loaded in zip(chunk, pool.map(load, chunk), strict=True):
                if isinstance(loaded, str):
                    failed.append((index, loaded))
                    continue
                images.append(loaded)
                indices.append(index)
                if index in keep:
                    kept[index] = loaded
            if images:
                vectors.append(backbone.embed(images))
            if progress is not None:
                progress(len(chunk))
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, backbone.dimension),
                                                              np.float32)
    return Features(matrix, indices, failed, kept)
