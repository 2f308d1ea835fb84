"""Fixtures of the campaign tests: storage back ends (SQLite file, PostgreSQL), names, data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from campaign_helpers import PG_URL, small_screen
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lowswitch.campaign.storage import normalise_url

postgres_param = pytest.param(
    "postgres",
    marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(
            not PG_URL,
            reason="LOWSWITCH_TEST_POSTGRES_URL is not set (the CI postgres lane starts a server)",
        ),
    ],
)


@pytest.fixture(params=["sqlite", postgres_param])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file in a temporary folder, or the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'campaign.db'}"
    return PG_URL


@pytest.fixture(params=["sqlite", postgres_param])
def private_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, empty: a new SQLite file, or a new PostgreSQL database
    (dropped afterwards). For tests that depend on what else is in the storage."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'private.db'}"
        return
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    db = f"lowswitch_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {db}"))
    try:
        yield make_url(normalise_url(PG_URL)).set(database=db).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {db} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def name() -> str:
    """A campaign name no other test uses (PostgreSQL tests share one database)."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def screen() -> pd.DataFrame:
    """A 144-condition slice of the aryl halide screen, with its yields."""
    return small_screen()
