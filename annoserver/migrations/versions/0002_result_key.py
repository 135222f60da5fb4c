"""Key machine annotations by what produced them, so reruns replace instead of duplicating.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("annotations") as batch:
        batch.add_column(sa.Column("result_key", sa.String(64)))
        batch.create_index("ix_annotations_result_key", ["result_key"])


def downgrade() -> None:
    with op.batch_alter_table("annotations") as batch:
        batch.drop_index("ix_annotations_result_key")
        batch.drop_column("result_key")
