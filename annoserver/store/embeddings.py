"""Stored image embeddings: what ``/similar`` searches (no Flask).

A vector belongs to a canvas (or a region of its image) and to the model version that made
it; storing the same (model, version, canvas, region) again replaces the vector, so a rerun
or a retried job unit never duplicates one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from annoserver.store.tables import EmbeddingRow

FULL = "full"


@dataclass(frozen=True)
class EmbeddingRef:
    """Where a vector came from: the canvas, its manifest, the image service and region."""

    canvas: str
    manifest: str | None
    image: str
    region: str = FULL


@dataclass(frozen=True)
class VectorSet:
    """Every vector of one model version, as one L2-normalised ``[N, dim]`` matrix."""

    refs: list[EmbeddingRef]
    matrix: np.ndarray
    generation: tuple[int, int]


def embedding_key(model_id: str, version: str, canvas: str, region: str) -> str:
    """The identity of a vector: a rerun with the same key replaces it."""
    return hashlib.sha256("\n".join((model_id, version, canvas, region)).encode()).hexdigest()


def normalized(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so a dot product is a cosine."""
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class EmbeddingStore:
    """Embeddings over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(immediate=True)

    def put(self, model_id: str, version: str, ref: EmbeddingRef, vector: np.ndarray) -> None:
        """Store (or replace) the vector of ``ref`` made by ``model_id`` at ``version``."""
        values = np.ascontiguousarray(vector, "<f4").ravel()
        key = embedding_key(model_id, version, ref.canvas, ref.region)
        with Session(self._writer) as session, session.begin():
            # Delete then insert: the new row gets a new id, which tells caches it changed.
            session.execute(delete(EmbeddingRow).where(EmbeddingRow.key == key))
            session.add(EmbeddingRow(key=key, model_id=model_id, model_version=version,
                                     canvas=ref.canvas, manifest=ref.manifest, image=ref.image,
                                     region=ref.region, dim=values.size,
                                     vector=values.tobytes(), created=datetime.now(UTC)))

    def get(self, model_id: str, version: str, canvas: str,
            region: str = FULL) -> tuple[EmbeddingRef, np.ndarray] | None:
        """The stored vector of ``canvas`` (and ``region``), or None."""
        key = embedding_key(model_id, version, canvas, region)
        with Session(self._engine) as session:
            row = session.scalars(select(EmbeddingRow).where(EmbeddingRow.key == key)).first()
        return None if row is None else (_ref(row), np.frombuffer(row.vector, "<f4"))

    def has(self, model_id: str, version: str, canvas: str, region: str = FULL) -> bool:
        """Whether that vector is stored (an analysis answered from the store skips work)."""
        key = embedding_key(model_id, version, canvas, region)
        with Session(self._engine) as session:
            return session.scalar(select(EmbeddingRow.id).where(EmbeddingRow.key == key)) \
                is not None

    def generation(self, model_id: str, version: str) -> tuple[int, int]:
        """(count, highest id) of the model version's vectors: changes with every write."""
        with Session(self._engine) as session:
            count, highest = session.execute(
                select(func.count(EmbeddingRow.id), func.max(EmbeddingRow.id))
                .where(EmbeddingRow.model_id == model_id,
                       EmbeddingRow.model_version == version)).one()
        return int(count), int(highest or 0)

    def load(self, model_id: str, version: str) -> VectorSet:
        """Every vector of the model version, normalised, with where each came from."""
        with Session(self._engine) as session:
            rows = session.execute(
                select(EmbeddingRow.id, EmbeddingRow.canvas, EmbeddingRow.manifest,
                       EmbeddingRow.image, EmbeddingRow.region, EmbeddingRow.vector)
                .where(EmbeddingRow.model_id == model_id, EmbeddingRow.model_version == version)
                .order_by(EmbeddingRow.id)).all()
        refs = [EmbeddingRef(row.canvas, row.manifest, row.image, row.region) for row in rows]
        dims = {len(row.vector) // 4 for row in rows}
        if len(dims) > 1:
            raise ValueError(f"vectors of {model_id} {version} differ in size: {sorted(dims)}")
        matrix = (np.frombuffer(b"".join(row.vector for row in rows), "<f4")
                  .reshape(len(rows), dims.pop() if dims else 0))
        return VectorSet(refs, normalized(matrix),
                         (len(rows), max((row.id for row in rows), default=0)))


def _ref(row: EmbeddingRow) -> EmbeddingRef:
    return EmbeddingRef(row.canvas, row.manifest, row.image, row.region)
