"""Alembic migrations: a database written with schema version 1 (before migrations existed)
is upgraded with every row intact, on SQLite and PostgreSQL, and then works as a new one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from campaign_helpers import INPUTS, PG_URL, run_cli
from schema_v1 import V1_TABLES, build_v1_database, snapshot
from sqlalchemy import create_engine, inspect

from lowswitch.campaign import Campaign, SimulatedLab
from lowswitch.campaign.migrate import SCRIPTS, alembic_revision
from lowswitch.campaign.storage import SCHEMA_VERSION, Storage, normalise_url
from lowswitch.errors import StateError


@pytest.fixture
def v1_rows(tmp_path: Path, screen: pd.DataFrame) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of a campaign with done, failed, pending and imported wells and a stored fit."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    camp = Campaign.create(url, "screen", screen.drop(columns="yield"), inputs=INPUTS,
                           objective="yield", initial_conditions=4)
    lab = SimulatedLab(screen, INPUTS, "yield", seed=0)
    plate = lab.measure(camp.suggest(slots=12))
    plate.loc[3, "yield"] = "failed"
    camp.record(plate)
    past = screen.iloc[[50, 60, 70]].astype(str)
    camp.import_history(past)
    camp.record(lab.measure(camp.suggest(slots=8)))  # fits the GP: a row in lowswitch_fits
    camp.suggest(slots=6)  # pending wells
    rows = snapshot(url)
    rows["lowswitch_meta"] = [("schema_version", "1")]
    assert all(rows[t.name] for t in V1_TABLES), {t.name: len(rows[t.name]) for t in V1_TABLES}
    return rows


def schema_of(url: str) -> dict[str, Any]:
    """Columns (name, nullable), indexes and unique constraints of every lowswitch table."""
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        out = {}
        for table in sorted(t for t in insp.get_table_names() if t.startswith("lowswitch_")):
            out[table] = (
                sorted((c["name"], bool(c["nullable"])) for c in insp.get_columns(table)),
                sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                       for i in insp.get_indexes(table)),
                sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            )
        return out
    finally:
        engine.dispose()


def test_upgrade_from_version_1_keeps_every_row(
    private_url: str, v1_rows: dict[str, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    url = normalise_url(private_url)
    build_v1_database(url, v1_rows)
    before = snapshot(url)
    assert before == v1_rows
    # an older schema is refused (and left alone) until it is upgraded explicitly
    with pytest.raises(StateError, match=r"older lowswitch.*lowswitch campaign upgrade"):
        Storage(private_url)
    assert snapshot(url) == before
    out = run_cli("campaign", "upgrade", "--storage", private_url).stdout
    assert f"upgraded schema version 1 -> {SCHEMA_VERSION}" in out
    after = snapshot(url)
    assert after.pop("lowswitch_meta") == [("schema_version", str(SCHEMA_VERSION))]
    assert after == {k: v for k, v in before.items() if k != "lowswitch_meta"}
    store = Storage(private_url)
    with store.engine.connect() as conn:
        assert alembic_revision(conn) == "0002"
    # the upgraded schema is the one a new database gets
    fresh = Storage(f"sqlite:///{tmp_path / 'fresh.db'}") if store.dialect == "sqlite" \
        else Storage(PG_URL)
    assert schema_of(url) == schema_of(fresh.url)
    assert "already up to date" in run_cli("campaign", "upgrade", "--storage", private_url).stdout
    # and the campaign continues: history intact, new features work on old rows
    camp = Campaign.open(store, "screen")
    hist = camp.history()
    old_ids = sorted(r[0] for r in v1_rows["lowswitch_measurements"])
    assert sorted(hist["measurement_id"].dropna().astype(int)) == old_ids
    assert not hist["voided"].fillna(False).any()
    pending = camp.status()["experiments"]["pending"]
    assert pending == 6
    assert camp.void(1, "pipetting error") == 1
    assert camp.status()["voided_measurements"] == 1
    assert len(camp.suggest(slots=4)) == 4


def test_revision_scripts_ship_inside_the_package() -> None:
    import lowswitch.campaign.migrations as package

    assert Path(package.__file__).parent == SCRIPTS
    names = sorted(p.name for p in (SCRIPTS / "versions").glob("r*.py"))
    assert names == ["r0001_schema_v1.py", "r0002_voids_and_hashes.py"]
    assert (SCRIPTS / "versions" / "__init__.py").exists()  # found by setuptools' package scan
