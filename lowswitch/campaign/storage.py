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
``lowswitch_imports``     one ``record`` call (source name, row count), for auditing
``lowswitch_fits``        GP hyperparameter fit (JSON of named parameters) and the number of
                          observations it saw: warm start and refit schedule of ``suggest``
========================  ==============================================================

Transactions: every ``suggest`` and every ``record`` is one transaction that first locks the
campaign row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every write transaction starts
with ``BEGIN IMMEDIATE``, which takes the database write lock up front). Writers therefore
queue instead of failing, and a process killed mid-transaction leaves nothing behind. SQLite
runs in WAL mode with a busy timeout, so readers never block writers.

Example:
    >>> store = Storage("sqlite://")          # in-memory database, for the example
    >>> store.schema_version()
    1
"""

from __future__ import annotations

import json
import os
import time
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
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool, StaticPool

from lowswitch.errors import InputError, StateError

SCHEMA_VERSION = 1
"""Version of the table layout written by this code; a newer database is refused."""

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
    """Connection to a campaign database; creates and checks the schema on first use.

    Args:
        storage: SQLAlchemy URL (``sqlite:///file.db``, ``postgresql://user@host/db``) or a
            file path (SQLite).

    Example:
        >>> store = Storage("sqlite://")
        >>> with store.transaction() as conn:
        ...     conn.execute(select(meta_table.c.value)).scalar_one()
        '1'
    """

    def __init__(self, storage: str | os.PathLike[str], create: bool = True) -> None:
        self.url = normalise_url(storage)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        shown = _shown(self.url)
        if self.dialect not in {"sqlite", "postgresql"}:
            raise InputError(
                f"storage: expected a sqlite or postgresql URL (or a file path), got {shown!r}"
            )
        if self.dialect == "sqlite":
            _check_sqlite_path(self.url, create)
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
            self._ensure_schema()
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

    def _ensure_schema(self) -> None:
        with self.transaction() as conn:
            if self.dialect == "postgresql":
                # Serialise concurrent first-time schema creation across processes.
                conn.execute(text("SELECT pg_advisory_xact_lock(727141)"))
            metadata.create_all(conn, checkfirst=True)
            row = conn.execute(
                select(meta_table.c.value).where(meta_table.c.key == "schema_version")
            ).scalar_one_or_none()
            if row is None:
                conn.execute(
                    meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
                )
            elif int(row) > SCHEMA_VERSION:
                raise StateError(
                    f"storage: database schema version {row} was written by a newer lowswitch "
                    f"(this one reads up to {SCHEMA_VERSION}); upgrade lowswitch"
                )

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(meta_table.c.value).where(meta_table.c.key == "schema_version")
            ).scalar_one()
        return int(value)

    def campaign_names(self) -> list[str]:
        """Names of the campaigns in this database, sorted."""
        with self.engine.connect() as conn:
            names = conn.execute(select(campaigns_table.c.name)).scalars().all()
        return sorted(names)

    def dispose(self) -> None:
        """Close pooled connections (the database itself is untouched)."""
        self.engine.dispose()


def lock_campaign(conn: Connection, name: str) -> dict[str, Any]:
    """Lock a campaign's row for the rest of the transaction and return it.

    On PostgreSQL this is ``SELECT ... FOR UPDATE`` (other writers of the same campaign wait);
    on SQLite the whole database is already write-locked by ``BEGIN IMMEDIATE``.

    Args:
        conn: connection inside a transaction.
        name: campaign name.

    Returns:
        The campaign row as a dict, with ``config`` decoded from JSON.

    Raises:
        InputError: no campaign of that name.
    """
    row = (
        conn.execute(
            select(campaigns_table).where(campaigns_table.c.name == name).with_for_update()
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise InputError(f"name: no campaign called {name!r} in this storage")
    out = dict(row)
    out["config"] = json.loads(out["config"])
    return out


def read_campaign(conn: Connection, name: str) -> dict[str, Any]:
    """Read a campaign's row without locking it (see :func:`lock_campaign`)."""
    row = (
        conn.execute(select(campaigns_table).where(campaigns_table.c.name == name))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise InputError(f"name: no campaign called {name!r} in this storage")
    out = dict(row)
    out["config"] = json.loads(out["config"])
    return out


def now() -> float:
    """Wall-clock time stamp stored in rows (seconds since the epoch)."""
    return time.time()


def debug_pause(stage: str) -> None:
    """Sleep inside a transaction when a test asks for it (durability tests only).

    ``LOWSWITCH_TEST_SLEEP=record:5`` sleeps 5 s in the middle of every ``record`` transaction,
    after half of its rows are written, so a test can kill the process at that point; when
    ``LOWSWITCH_TEST_SLEEP_MARK`` names a file, it is created just before sleeping.
    """
    spec = os.environ.get("LOWSWITCH_TEST_SLEEP", "")
    if spec.startswith(stage + ":"):
        mark = os.environ.get("LOWSWITCH_TEST_SLEEP_MARK")
        if mark:
            Path(mark).touch()
        time.sleep(float(spec.split(":", 1)[1]))


__all__ = [
    "SCHEMA_VERSION",
    "Storage",
    "campaigns_table",
    "candidates_table",
    "experiments_table",
    "fits_table",
    "imports_table",
    "lock_campaign",
    "measurements_table",
    "meta_table",
    "normalise_url",
    "read_campaign",
]
