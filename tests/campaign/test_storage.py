"""Storage: URLs, schema creation and versioning, SQLite settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from lowswitch.campaign.storage import SCHEMA_VERSION, Storage, meta_table, normalise_url
from lowswitch.errors import InputError, StateError


def test_normalise_url(tmp_path) -> None:
    assert normalise_url(tmp_path / "a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(InputError):
        normalise_url("")
    with pytest.raises(InputError, match="sqlite or postgresql"):
        Storage("mysql://u@h/db")


def test_schema_created_once_and_versioned(storage_url: str) -> None:
    store = Storage(storage_url)
    assert store.schema_version() == SCHEMA_VERSION
    again = Storage(storage_url)  # opening twice does not duplicate anything
    with again.engine.connect() as conn:
        rows = conn.execute(select(meta_table)).all()
    assert [r.key for r in rows].count("schema_version") == 1


def test_newer_schema_is_refused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    store = Storage(url)
    with store.transaction() as conn:
        conn.execute(update(meta_table).values(value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(StateError, match="newer lowswitch"):
        Storage(url)


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path) -> None:
    store = Storage(tmp_path / "w.db")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000


def test_transaction_rolls_back_on_error(tmp_path) -> None:
    store = Storage(tmp_path / "r.db")
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute(meta_table.insert().values(key="probe", value="1"))
        raise RuntimeError("boom")
    with store.engine.connect() as conn:
        keys = conn.execute(select(meta_table.c.key)).scalars().all()
    assert "probe" not in keys
