"""Image embeddings per canvas or region, for ``/similar``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``embeddings`` table."""
    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("canvas", sa.Text, nullable=False),
        sa.Column("manifest", sa.Text, nullable=True),
        sa.Column("image", sa.Text, nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_embeddings_model_id", "embeddings", ["model_id", "model_version", "id"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("embeddings")
