"""Registered manifests, batch jobs and their units of work.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "manifests",
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("iiif_id", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("source", JSONDocument, nullable=False),
        sa.Column("fetched", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("manifest_key", sa.String(32), sa.ForeignKey("manifests.key"),
                  nullable=False),
        sa.Column("models", JSONDocument, nullable=False),
        sa.Column("options", JSONDocument, nullable=False),
        sa.Column("base_url", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("errors", JSONDocument, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True)),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("heartbeat", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_jobs_manifest_key", "jobs", ["manifest_key"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    op.create_table(
        "job_units",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("manifest_key", sa.String(32), sa.ForeignKey("manifests.key"),
                  nullable=False),
        sa.Column("canvas_id", sa.Text, nullable=False),
        sa.Column("canvas_key", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("service", sa.Text),
        sa.Column("host", sa.String(300)),
        sa.Column("canvas_width", sa.Integer),
        sa.Column("canvas_height", sa.Integer),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim", sa.String(64)),
        sa.Column("heartbeat", sa.DateTime(timezone=True)),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("job_id", "canvas_id", "model_id",
                            name="uq_job_units_job_canvas_model"),
    )
    op.create_index("ix_job_units_state_next", "job_units", ["state", "next_attempt"])
    op.create_index("ix_job_units_job_state", "job_units", ["job_id", "state"])
    op.create_index("ix_job_units_manifest_canvas", "job_units", ["manifest_key", "canvas_key"])
    op.create_index("ix_job_units_manifest_model", "job_units", ["manifest_key", "model_id"])
    op.create_index("ix_job_units_claim", "job_units", ["claim"])


def downgrade() -> None:
    op.drop_table("job_units")
    op.drop_table("jobs")
    op.drop_table("manifests")
