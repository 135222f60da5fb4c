"""The database schema. Alembic migrations in ``annoserver/migrations`` create exactly this."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base shared by every table."""


class AnnotationRow(Base):
    """One annotation. ``seq`` orders the container (keyset paging); ``slug`` is its id path.

    A deleted annotation keeps its row with ``deleted`` set, so its IRI answers 410 and
    change feeds can report the deletion.
    """

    __tablename__ = "annotations"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    document: Mapped[dict] = mapped_column(JSONDocument)
    etag: Mapped[str] = mapped_column(String(64))
    motivation: Mapped[str | None] = mapped_column(String(200), index=True)
    creator: Mapped[str | None] = mapped_column(String(500), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    deleted: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Machine annotations: a digest of (model, version, image, region); a rerun replaces
    # the live rows sharing it, and an identical request is answered from them.
    result_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # The latest human review's verdict (the history is in ``reviews``), for ``review=``.
    review: Mapped[str | None] = mapped_column(String(20), index=True)


class TargetRow(Base):
    """One target source of an annotation, for "annotations of this canvas/manifest" queries."""

    __tablename__ = "annotation_targets"
    __table_args__ = (
        Index("ix_targets_source_seq", "source", "annotation_seq"),
        Index("ix_targets_manifest_seq", "manifest", "annotation_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    annotation_seq: Mapped[int] = mapped_column(
        ForeignKey("annotations.seq", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    manifest: Mapped[str | None] = mapped_column(Text)


# Terms compare byte-wise on both backends (SQLite's BINARY, "C" on PostgreSQL), so a prefix
# is one index range whatever the database's locale.
TermText = String(100).with_variant(String(100, collation="C"), "postgresql")


class TermRow(Base):
    """One word of a live annotation's searchable text, under each manifest it targets.

    The inverted index of IIIF Content Search (:mod:`annoserver.store.search`): ``scope`` is a
    digest of the manifest IRI, so searching or completing within a manifest is one range of
    the primary key, in ``annotation_seq`` order.
    """

    __tablename__ = "annotation_terms"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    term: Mapped[str] = mapped_column(TermText, primary_key=True)
    annotation_seq: Mapped[int] = mapped_column(
        ForeignKey("annotations.seq", ondelete="CASCADE"), primary_key=True,
        autoincrement=False, index=True)


class ContainerStateRow(Base):
    """A single row: live annotation count and a revision bumped by every write.

    Keeps the unfiltered container's ``total`` and ETag O(1) at millions of annotations.
    """

    __tablename__ = "container_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    total: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    modified: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """A bearer token, stored as the SHA-256 of its secret (tokens are random, not passwords)."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(50))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ManifestRow(Base):
    """A registered IIIF manifest or collection, as fetched; ``key`` names it in our URLs.

    ``key`` is a short digest of the source URL, so registering the same URL again refreshes
    the same row (and keeps the enriched manifest's URL).
    """

    __tablename__ = "manifests"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    iiif_id: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    source: Mapped[dict] = mapped_column(JSONDocument)
    fetched: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JobRow(Base):
    """A batch job: models over every canvas of a manifest (or of a collection's manifests).

    ``total``/``done``/``failed`` count analysis units and move in the transactions that
    finish units, so progress is one row read; ``errors`` keeps the first few failures.
    ``base_url`` is the public URL the job's annotations are minted under.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    manifest_key: Mapped[str] = mapped_column(ForeignKey("manifests.key"), index=True)
    models: Mapped[list] = mapped_column(JSONDocument)
    options: Mapped[dict] = mapped_column(JSONDocument)
    base_url: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), index=True)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list] = mapped_column(JSONDocument)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobUnitRow(Base):
    """One unit of work: a canvas × model (``kind="analyse"``), or expanding a collection.

    Runners claim a queued unit by setting ``claim`` (a random token) in a conditional
    UPDATE, so two runners never run the same unit; ``heartbeat`` shows the claim is alive,
    and a unit whose heartbeat expired is queued again. ``canvas_key`` (a digest of the
    canvas id) resolves the enriched manifest's page URLs.
    """

    __tablename__ = "job_units"
    __table_args__ = (
        UniqueConstraint("job_id", "canvas_id", "model_id", name="uq_job_units_job_canvas_model"),
        Index("ix_job_units_state_next", "state", "next_attempt"),
        Index("ix_job_units_job_state", "job_id", "state"),
        Index("ix_job_units_manifest_canvas", "manifest_key", "canvas_key"),
        Index("ix_job_units_manifest_model", "manifest_key", "model_id"),
        Index("ix_job_units_claim", "claim"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    manifest_key: Mapped[str] = mapped_column(ForeignKey("manifests.key"))
    canvas_id: Mapped[str] = mapped_column(Text)
    canvas_key: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(String(200))
    service: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(300))
    canvas_width: Mapped[int | None] = mapped_column(Integer)
    canvas_height: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claim: Mapped[str | None] = mapped_column(String(64))
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewRow(Base):
    """A person's verdict on an annotation. Never edited: the newest one per annotation counts.

    The verdict is also copied into the annotation (its ``review`` column and a summary in
    its document) in the same transaction, so listings filter and show it without a join.
    """

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_annotation_id", "annotation_seq", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    annotation_seq: Mapped[int] = mapped_column(
        ForeignKey("annotations.seq", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(20))
    body: Mapped[Any | None] = mapped_column(JSONDocument)
    note: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChangeRow(Base):
    """One entry of the change log behind ``/activity`` (IIIF Change Discovery).

    Written in the transaction of the annotation write it reports, after the container-state
    row is locked, so ``position`` is dense and in commit order: a harvester that has seen
    position *n* has seen everything before it. ``object_kind`` is ``page`` (``object_ref``
    a ``/pages/{id}`` id) or ``annotation`` (a slug).
    """

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_object", "object_kind", "object_ref"),)

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    activity: Mapped[str] = mapped_column(String(10))
    object_kind: Mapped[str] = mapped_column(String(20))
    object_ref: Mapped[str] = mapped_column(String(300))
    end_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EmbeddingRow(Base):
    """One image embedding: a model's vector of a canvas (or of a region of its image).

    ``key`` is a digest of (model, version, canvas, region), so storing the same thing again
    replaces it; a new model version gets rows of its own. ``vector`` holds ``dim`` float32
    values (little-endian), what :mod:`annoserver.similarity` searches.
    """

    __tablename__ = "embeddings"
    __table_args__ = (Index("ix_embeddings_model_id", "model_id", "model_version", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    model_id: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    canvas: Mapped[str] = mapped_column(Text)
    manifest: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str] = mapped_column(Text)
    region: Mapped[str] = mapped_column(String(100))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
