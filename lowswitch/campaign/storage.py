"""Durable campaign storage: a versioned SQLAlchemy schema on SQLite or PostgreSQL.

Everything a campaign knows lives in rows (never pickles), so any process can open a
campaign and continue it:

========================  ==============================================================
table                     one row per
========================  ==============================================================
``lowswitch_meta``        key/value facts about the database (``schema_version``)
``lowswitch_campaigns``   campaign: name, configuration (JSON), plate / experiment counters
``lowswitch_candidates``  allowed condition (``idx`` within its campaign, values as JSON)
``lowswitch_experiments`` well handed out by ``suggest``: candidate, plate, block, replicate,
                          status ``pending`` / ``done`` / ``failed``
``lowswitch_measurements`` recorded result of an experiment (value, or ``failed``);
                          re-measurements are extra rows
``lowswitch_imports``     one ``record`` / ``import`` call (source name, row count, SHA-256
                          of the file's content), for auditing and duplicate detection
``lowswitch_voids``       voided measurement (reason, time): kept in the history, never
                          shown to the GP
``lowswitch_fits``        GP hyperparameter fit (JSON of named parameters) and the number of
                          observations it saw: warm start and refit schedule of ``suggest``
========================  ==============================================================

Transactions: every ``suggest`` and every ``record`` is one transaction that first locks the
campaign row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every write transaction starts
with ``BEGIN IMMEDIATE``, which takes the database write lock up front). Writers therefore
queue instead of failing, and a process killed mid-transaction leaves nothing behind. SQLite
runs in WAL mode with a busy timeout, so readers never block writers.

This module holds the connection and the table layout only: every query lives in
[`lowswitch.campaign.repository`][lowswitch.campaign.repository], schema changes in
[`lowswitch.campaign.migrate`][lowswitch.campaign.migrate].

Example:
    >>> store = Storage("sqlite://")          # in-memory database, for the example
    >>> store.schema_version()
    2
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
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
    event,
    inspect,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool, StaticPool

from lowswitch.errors import InputError, StateError

SCHEMA_VERSION = 2
"""Version of the table layout written by this code (see
[`lowswitch.campaign.migrate`][lowswitch.campaign.migrate]):
a newer database is refused, an older one is upgraded by ``lowswitch campaign upgrade``."""

BUSY_TIMEOUT_S = 120.0
"""How long a SQLite writer waits for the write lock before giving up."""

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
    Column("content_hash", String(64), nullable=True),
    Index("ix_lowswitch_imports_hash", "campaign_id", "content_hash"),
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

voids_table = Table(
    "lowswitch_voids",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("lowswitch_campaigns.id"), nullable=False),
    Column("measurement_id", Integer, ForeignKey("lowswitch_measurements.id"), nullable=False,
           unique=True),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
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


def normalise_url(storage: str | os.PathLike[str]) -> str:
    """Turn a storage argument into a SQLAlchemy URL.

    A plain path (no ``://``) means a SQLite file; ``postgresql://`` selects the psycopg 3
    driver (the one this project depends on) unless a driver is named.

    Args:
        storage: URL or path.

    Returns:
        A SQLAlchemy URL string.

    Example:
        >>> normalise_url("postgresql://u@localhost/db")
        'postgresql+psycopg://u@localhost/db'
        >>> normalise_url("sqlite://")
        'sqlite://'
    """
    raw = os.fspath(storage)
    if not raw:
        raise InputError("storage: expected a database URL or a file path, got ''")
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    if raw.startswith("postgresql://") or raw.startswith("postgres://"):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw


def _sqlite_engine(url: str) -> Engine:
    in_memory = url in {"sqlite://", "sqlite:///:memory:"}
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        poolclass=StaticPool if in_memory else NullPool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the driver's implicit BEGIN
        # would be DEFERRED and could fail with "database is locked" on upgrade).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable URL>"


def _check_sqlite_path(url: str, create: bool) -> None:
    """Refuse a SQLite file whose folder is missing, or (``create`` False) that is missing."""
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    if path in {"", ":memory:"} or path.startswith("file:"):
        return
    file = Path(path)
    if not file.parent.is_dir():
        raise InputError(f"storage: the folder {str(file.parent)!r} does not exist")
    if file.is_dir():
        raise InputError(f"storage: expected a database file, got the folder {str(file)!r}")
    if not create and not file.exists():
        raise InputError(
            f"storage: no database at {str(file)!r} (check the path; "
            "`lowswitch campaign create` makes a new one)"
        )


class Storage:
    """Connection to a campaign database; creates the schema on first use.

    A new (empty) database gets the newest schema. A database written by an older lowswitch
    is refused with a message until it is upgraded, with ``lowswitch campaign upgrade`` or
    ``Storage(..., upgrade=True)`` (see [`lowswitch.campaign.migrate`][lowswitch.campaign.migrate]);
    one written by a newer lowswitch is refused.

    Args:
        storage: SQLAlchemy URL (``sqlite:///file.db``, ``postgresql://user@host/db``) or a
            file path (SQLite).
        upgrade: upgrade an older schema to this version (in one transaction).
        create: create the database and its tables when missing; when False, a missing
            SQLite file or a database without lowswitch tables is an error, so readers such
            as ``status`` never leave an empty database behind a mistyped path.

    Every problem reaching the database (a missing folder or file, a file that is not a
    SQLite database, an unreachable server, a driver that is not installed) is raised as
    [`InputError`][lowswitch.errors.InputError] starting with ``storage:``.

    Example:
        >>> store = Storage("sqlite://")
        >>> store.schema_version() == SCHEMA_VERSION
        True
    """

    def __init__(
        self, storage: str | os.PathLike[str], upgrade: bool = False, create: bool = True
    ) -> None:
        self.url = normalise_url(storage)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        shown = _shown(self.url)
        if self.dialect not in {"sqlite", "postgresql"}:
            raise InputError(
                f"storage: expected a sqlite or postgresql URL (or a file path), got {shown!r}"
            )
        if self.dialect == "sqlite":
            _check_sqlite_path(self.url, create)
        from lowswitch.campaign.migrate import ensure_schema

        try:
            if self.dialect == "sqlite":
                self.engine = _sqlite_engine(self.url)
            else:
                self.engine = create_engine(
                    self.url, pool_pre_ping=True, poolclass=NullPool,
                    connect_args={"connect_timeout": 10},
                )
            if not create and not inspect(self.engine).has_table(meta_table.name):
                raise InputError(
                    f"storage: {shown!r} holds no lowswitch campaigns (check the path; "
                    "`lowswitch campaign create` makes a new one)"
                )
            self.found_version = ensure_schema(self, upgrade=upgrade)
            """Schema version found on open (None: an empty database, created now)."""
        except (ImportError, SQLAlchemyError) as err:
            detail = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            raise InputError(
                f"storage: cannot use {shown!r} as a lowswitch database "
                f"({type(err).__name__}: {detail})"
            ) from None

    def __repr__(self) -> str:
        return f"Storage({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One database transaction: committed on success, rolled back on any exception.

        Yields:
            A SQLAlchemy ``Connection`` inside the transaction.
        """
        with self.engine.begin() as conn:
            yield conn

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        from lowswitch.campaign.migrate import stored_version

        with self.engine.connect() as conn:
            version = stored_version(conn)
        if version is None:
            raise StateError("storage: the database has no lowswitch schema")
        return version

    def campaign_names(self) -> list[str]:
        """Names of the campaigns in this database, sorted."""
        from lowswitch.campaign.repository import CampaignStore

        return CampaignStore(self).campaign_names()

    def dispose(self) -> None:
        """Close pooled connections (the database itself is untouched)."""
        self.engine.dispose()


__all__ = [
    "BUSY_TIMEOUT_S",
    "SCHEMA_VERSION",
    "Storage",
    "campaigns_table",
    "candidates_table",
    "experiments_table",
    "fits_table",
    "imports_table",
    "measurements_table",
    "meta_table",
    "metadata",
    "normalise_url",
    "voids_table",
]
