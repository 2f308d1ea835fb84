"""Schema migrations of a campaign database, with Alembic (the scripts ship inside lowswitch).

=========  =========================================================================
revision   schema
=========  =========================================================================
``0001``   version 1: campaigns, candidates, experiments, imports, measurements, fits
``0002``   version 2: ``lowswitch_voids`` (audited voids) and
           ``lowswitch_imports.content_hash`` (duplicate ``record`` detection)
=========  =========================================================================

The scripts live in ``lowswitch/campaign/migrations/versions``. Alembic keeps its revision
in ``lowswitch_alembic_version`` (not ``alembic_version``, so a PostgreSQL database shared with
Optuna or another Alembic user never collides); ``lowswitch_meta.schema_version`` keeps the
plain version number that every lowswitch, old or new, checks on open.

Policy ([`ensure_schema`][lowswitch.campaign.migrate.ensure_schema], run by every
[`Storage`][lowswitch.campaign.storage.Storage]):

* an empty database is created at the newest revision;
* the current version opens at once (one small read, Alembic is not even imported);
* an older version is refused with a message naming the command, until it is upgraded by
  ``lowswitch campaign upgrade --storage ...`` (Python: ``Storage(url, upgrade=True)``):
  an upgrade is explicit so that a lab can back the file up first and so that old clients
  sharing a server are not locked out behind their back;
* a newer version (written by a newer lowswitch) is refused.

An upgrade is one transaction (PostgreSQL and SQLite both have transactional DDL): it
completes or leaves the database as it was. A version 1 database made before migrations
existed has no Alembic table; it is stamped ``0001`` first, then upgraded.

Example:
    >>> from lowswitch.campaign.storage import Storage
    >>> store = Storage("sqlite://")
    >>> with store.engine.connect() as conn:
    ...     stored_version(conn), alembic_revision(conn)
    (2, '0002')
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, select, text

from lowswitch.campaign.storage import SCHEMA_VERSION, meta_table
from lowswitch.errors import StateError

if TYPE_CHECKING:
    from lowswitch.campaign.storage import Storage

REVISIONS: dict[int, str] = {1: "0001", 2: "0002"}
"""Schema version -> Alembic revision that produces it."""

VERSION_TABLE = "lowswitch_alembic_version"
"""Alembic's bookkeeping table in a campaign database."""

SCRIPTS = Path(__file__).with_name("migrations")
"""Folder of the Alembic environment and revision scripts (a package, so it ships)."""

_PG_LOCK_KEY = 727141


def stored_version(conn: Connection) -> int | None:
    """``lowswitch_meta.schema_version`` of the database, or None when there is none."""
    if not inspect(conn).has_table(meta_table.name):
        return None
    value = conn.execute(
        select(meta_table.c.value).where(meta_table.c.key == "schema_version")
    ).scalar_one_or_none()
    return None if value is None else int(value)


def alembic_revision(conn: Connection) -> str | None:
    """The Alembic revision recorded in the database, or None."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one_or_none()


def _alembic(conn: Connection, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    cfg.attributes["connection"] = conn
    if action == "stamp":
        command.stamp(cfg, revision)
    else:
        command.upgrade(cfg, revision)


def ensure_schema(storage: Storage, upgrade: bool = False) -> int | None:
    """Create, check or upgrade the schema of ``storage`` (see the module's policy).

    Args:
        storage: an open storage.
        upgrade: upgrade an older schema instead of refusing it.

    Returns:
        The schema version found (None: the database was empty and has been created).

    Raises:
        StateError: the schema is newer than this lowswitch, older and ``upgrade`` is False,
            or tables of lowswitch exist without a version (damaged database).
    """
    with storage.engine.connect() as conn:
        found = stored_version(conn)
    if found == SCHEMA_VERSION:
        return found
    with storage.transaction() as conn:
        if storage.dialect == "postgresql":
            # serialise concurrent first-time creation (and upgrades) across processes
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})"))
        found = stored_version(conn)
        if found == SCHEMA_VERSION:
            return found
        if found is None:
            ours = [t for t in inspect(conn).get_table_names() if t.startswith("lowswitch_")]
            if ours:
                raise StateError(
                    f"storage: lowswitch tables {sorted(ours)} exist but lowswitch_meta has no "
                    "schema_version; the database is damaged or was not written by lowswitch"
                )
            _alembic(conn, "upgrade", "head")
            return None
        if found > SCHEMA_VERSION:
            raise StateError(
                f"storage: database schema version {found} was written by a newer lowswitch "
                f"(this one reads up to {SCHEMA_VERSION}); upgrade lowswitch"
            )
        if found not in REVISIONS:
            raise StateError(f"storage: unknown schema version {found} in lowswitch_meta")
        if not upgrade:
            raise StateError(
                f"storage: database schema version {found} was written by an older lowswitch "
                f"(this one uses {SCHEMA_VERSION}); back the database up, then run "
                "`lowswitch campaign upgrade --storage ...` (Python: Storage(url, upgrade=True))"
            )
        if alembic_revision(conn) is None:
            _alembic(conn, "stamp", REVISIONS[found])
        _alembic(conn, "upgrade", "head")
        return found


__all__ = ["REVISIONS", "SCRIPTS", "VERSION_TABLE", "alembic_revision", "ensure_schema",
           "stored_version"]
