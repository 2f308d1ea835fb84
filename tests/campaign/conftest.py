"""Fixtures of the campaign tests: storage back ends (SQLite file, PostgreSQL), names, data."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from campaign_helpers import PG_URL, small_screen

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


@pytest.fixture
def name() -> str:
    """A campaign name no other test uses (PostgreSQL tests share one database)."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def screen() -> pd.DataFrame:
    """A 144-condition slice of the aryl halide screen, with its yields."""
    return small_screen()
