"""Schema version 2: audited voids and content hashes of recorded files.

* ``lowswitch_voids``: one row per voided measurement (reason, time); the measurement row
  itself is kept, so the history shows what was voided and why.
* ``lowswitch_imports.content_hash``: SHA-256 of a recorded file, so that recording the same
  file twice is noticed (NULL for imports stored before this version).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_META = sa.table("lowswitch_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    op.create_table(
        "lowswitch_voids",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("lowswitch_campaigns.id"),
                  nullable=False),
        sa.Column("measurement_id", sa.Integer, sa.ForeignKey("lowswitch_measurements.id"),
                  nullable=False, unique=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    with op.batch_alter_table("lowswitch_imports") as batch:
        batch.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
        batch.create_index("ix_lowswitch_imports_hash", ["campaign_id", "content_hash"])
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="2"))


def downgrade() -> None:
    with op.batch_alter_table("lowswitch_imports") as batch:
        batch.drop_index("ix_lowswitch_imports_hash")
        batch.drop_column("content_hash")
    op.drop_table("lowswitch_voids")
    op.execute(_META.update().where(_META.c.key == "schema_version").values(value="1"))
