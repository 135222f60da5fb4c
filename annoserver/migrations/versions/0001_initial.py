"""Annotations, their targets, and bearer tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "annotations",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(200), nullable=False, unique=True),
        sa.Column("document", JSONDocument, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("motivation", sa.String(200)),
        sa.Column("creator", sa.String(500)),
        sa.Column("confidence", sa.Float),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_annotations_motivation", "annotations", ["motivation"])
    op.create_index("ix_annotations_creator", "annotations", ["creator"])
    op.create_index("ix_annotations_modified", "annotations", ["modified"])
    op.create_table(
        "annotation_targets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("annotation_seq", sa.Integer,
                  sa.ForeignKey("annotations.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("manifest", sa.Text),
    )
    op.create_index("ix_annotation_targets_annotation_seq", "annotation_targets",
                    ["annotation_seq"])
    op.create_index("ix_targets_source_seq", "annotation_targets", ["source", "annotation_seq"])
    op.create_index("ix_targets_manifest_seq", "annotation_targets",
                    ["manifest", "annotation_seq"])
    state = op.create_table(
        "container_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(state, [{"id": 1, "total": 0, "revision": 0, "modified": None}])
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(50), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("container_state")
    op.drop_table("annotation_targets")
    op.drop_table("annotations")
