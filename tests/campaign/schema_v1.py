"""Schema version 1 of the campaign database, frozen as lowswitch wrote it before migrations.

The table definitions below are those of ``lowswitch/campaign/storage.py`` at schema version 1
(copied, never to be edited). :func:`build_v1_database` writes such a database, with a real
campaign in it, so that the migration tests upgrade what an older lowswitch left on disk.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    select,
    text,
)

metadata = MetaData()

meta_table = Table(
    "lowswitch_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

campaigns_table = Table(
    "lowswitch_campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("config", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("n_plates", Integer, nullable=False, default=0),
    Column("n_experiments", Integer, nullable=False, default=0),
)

candidates_table = Table(
    "lowswitch_candidates",
    metadata,
    Column("campaign_id", Integer, ForeignKey("lowswitch_campaigns.id"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("data", Text, nullable=False),
)

experiments_table = Table(
    "lowswitch_experiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("lowswitch_campaigns.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("candidate_idx", Integer, nullable=False),
    Column("plate", Integer, nullable=False),
    Column("block", Integer, nullable=False),
    Column("replicate", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("campaign_id", "number", name="uq_lowswitch_experiment_number"),
    Index("ix_lowswitch_experiments_status", "campaign_id", "status"),
)

imports_table = Table(
    "lowswitch_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("lowswitch_campaigns.id"), nullable=False),
    Column("source", Text, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

measurements_table = Table(
    "lowswitch_measurements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("lowswitch_campaigns.id"), nullable=False),
    Column("experiment_id", Integer, ForeignKey("lowswitch_experiments.id"), nullable=False),
    Column("import_id", Integer, ForeignKey("lowswitch_imports.id"), nullable=False),
    Column("value", Float, nullable=True),
    Column("failed", Boolean, nullable=False),
    Column("recorded_at", Float, nullable=False),
    Index("ix_lowswitch_measurements_campaign", "campaign_id", "id"),
)


fits_table = Table(
    "lowswitch_fits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("lowswitch_campaigns.id"), nullable=False),
    Column("n_observations", Integer, nullable=False),
    Column("n_unique", Integer, nullable=False),
    Column("hyper", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

V1_TABLES = [meta_table, campaigns_table, candidates_table, experiments_table, imports_table,
             measurements_table, fits_table]
"""In foreign-key order (parents first)."""


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every version-1 table (version-1 columns only), in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(
                    select(*t.columns).order_by(*t.primary_key.columns)
                )]
                for t in V1_TABLES
            }
    finally:
        engine.dispose()


def build_v1_database(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Create the version-1 tables at ``url`` (a SQLAlchemy URL), mark the schema version 1
    the way lowswitch did, and insert ``rows`` (table name -> tuples of its v1 columns)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            for table in V1_TABLES:
                data = rows.get(table.name, [])
                if table is meta_table and not data:
                    data = [("schema_version", "1")]
                if data:
                    names = [c.name for c in table.columns]
                    conn.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in data])
                if data and conn.dialect.name == "postgresql" and "id" in table.columns:
                    # rows came with their ids: move the serial on, as lowswitch's inserts did
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    ))
    finally:
        engine.dispose()
