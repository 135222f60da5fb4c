"""Searchable text of annotations, for IIIF Content Search: the ``annotation_terms`` index.

Existing live annotations are indexed here, in keyset batches.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from annoserver.store.search import add_terms

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TermText = sa.String(100).with_variant(sa.String(100, collation="C"), "postgresql")
BATCH = 1000


def upgrade() -> None:
    """Create the index and fill it from the live annotations."""
    op.create_table(
        "annotation_terms",
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("term", TermText, nullable=False),
        sa.Column("annotation_seq", sa.Integer,
                  sa.ForeignKey("annotations.seq", ondelete="CASCADE"), nullable=False,
                  autoincrement=False),
        sa.PrimaryKeyConstraint("scope", "term", "annotation_seq"),
    )
    op.create_index("ix_annotation_terms_annotation_seq", "annotation_terms",
                    ["annotation_seq"])
    _index_existing()


def _index_existing() -> None:
    """Index the live annotations, a keyset batch at a time."""
    annotations = sa.table("annotations", sa.column("seq", sa.Integer),
                           sa.column("document", sa.JSON().with_variant(JSONB(), "postgresql")),
                           sa.column("deleted", sa.DateTime))
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(annotations.c.seq, annotations.c.document)
            .where(annotations.c.deleted.is_(None), annotations.c.seq > after)
            .order_by(annotations.c.seq).limit(BATCH)).all()
        for seq, document in rows:
            add_terms(connection, seq, document)
        if len(rows) < BATCH:
            break
        after = rows[-1].seq


def downgrade() -> None:
    """Drop the index."""
    op.drop_table("annotation_terms")
