"""Alembic environment: runs on the connection that
[`lowswitch.campaign.migrate`][lowswitch.campaign.migrate] passes
in ``config.attributes["connection"]`` (already inside its transaction)."""

from __future__ import annotations

from alembic import context

from lowswitch.campaign.migrate import VERSION_TABLE

context.configure(
    connection=context.config.attributes["connection"],
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
