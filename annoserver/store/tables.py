"""The database schema. Alembic migrations in ``annoserver/migrations`` create exactly this."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
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
