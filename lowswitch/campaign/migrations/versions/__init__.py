"""Revision scripts: one module per schema version (Alembic skips this file)."""
