"""Human reviews of annotations and the change log behind /activity.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Add ``annotations.review`` and the ``reviews`` and ``changes`` tables."""
    with op.batch_alter_table("annotations") as batch:
        batch.add_column(sa.Column("review", sa.String(20)))
        batch.create_index("ix_annotations_review", ["review"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("annotation_seq", sa.Integer,
                  sa.ForeignKey("annotations.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("body", JSONDocument),
        sa.Column("note", sa.Text),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reviews_annotation_id", "reviews", ["annotation_seq", "id"])
    op.create_table(
        "changes",
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("activity", sa.String(10), nullable=False),
        sa.Column("object_kind", sa.String(20), nullable=False),
        sa.Column("object_ref", sa.String(300), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_changes_object", "changes", ["object_kind", "object_ref"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("changes")
    op.drop_table("reviews")
    with op.batch_alter_table("annotations") as batch:
        batch.drop_index("ix_annotations_review")
        batch.drop_column("review")
