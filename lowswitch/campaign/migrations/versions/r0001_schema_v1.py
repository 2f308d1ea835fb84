"""Schema version 1: the tables as first released (frozen here; never edit a revision).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table(
        "lowswitch_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "lowswitch_campaigns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("n_plates", sa.Integer, nullable=False),
        sa.Column("n_experiments", sa.Integer, nullable=False),
    )
    op.create_table(
        "lowswitch_candidates",
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("lowswitch_campaigns.id"),
                  primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "lowswitch_experiments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("lowswitch_campaigns.id"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("candidate_idx", sa.Integer, nullable=False),
        sa.Column("plate", sa.Integer, nullable=False),
        sa.Column("block", sa.Integer, nullable=False),
        sa.Column("replicate", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("campaign_id", "number", name="uq_lowswitch_experiment_number"),
    )
    op.create_index("ix_lowswitch_experiments_status", "lowswitch_experiments",
                    ["campaign_id", "status"])
    op.create_table(
        "lowswitch_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("lowswitch_campaigns.id"),
                  nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "lowswitch_measurements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("lowswitch_campaigns.id"),
                  nullable=False),
        sa.Column("experiment_id", sa.Integer, sa.ForeignKey("lowswitch_experiments.id"),
                  nullable=False),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("lowswitch_imports.id"),
                  nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_index("ix_lowswitch_measurements_campaign", "lowswitch_measurements",
                    ["campaign_id", "id"])
    op.create_table(
        "lowswitch_fits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("lowswitch_campaigns.id"),
                  nullable=False),
        sa.Column("n_observations", sa.Integer, nullable=False),
        sa.Column("n_unique", sa.Integer, nullable=False),
        sa.Column("hyper", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    for table in ("lowswitch_fits", "lowswitch_measurements", "lowswitch_imports",
                  "lowswitch_experiments", "lowswitch_candidates", "lowswitch_campaigns",
                  "lowswitch_meta"):
        op.drop_table(table)
