"""Audited voids, duplicate files and the campaign identity of results (issue 13)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from campaign_helpers import INPUTS, run_cli

from lowswitch.campaign import Campaign, SimulatedLab
from lowswitch.campaign.repository import Measurement
from lowswitch.errors import InputError


def make(url: str, name: str, screen: pd.DataFrame, **kw) -> Campaign:
    kw.setdefault("initial_conditions", 4)
    return Campaign.create(url, name, screen.drop(columns="yield"), inputs=INPUTS,
                           objective="yield", **kw)


def measured_plate(camp: Campaign, screen: pd.DataFrame, slots: int, seed: int = 0) -> pd.DataFrame:
    return SimulatedLab(screen, INPUTS, "yield", seed=seed).measure(camp.suggest(slots=slots))


def store_raw(camp: Campaign, number: int, value: float) -> None:
    """Store a value for a pending experiment the way lowswitch before the measurement range
    did (no check): the state a campaign broken by one huge value was in."""
    with camp.store.write(camp.name) as tx:
        exp = next(e for e in tx.experiments() if e.number == number)
        tx.add_measurements(tx.add_import("old lowswitch", 1, None),
                            [Measurement(exp.id, value, False)])
        tx.set_status([exp.id], "done")


# ---------------------------------------------------------------------------------- void
def test_void_is_audited_and_hidden_from_the_model(
    storage_url: str, name: str, screen: pd.DataFrame, tmp_path: Path
) -> None:
    camp = make(storage_url, name, screen)
    camp.record(measured_plate(camp, screen, 12))
    with camp.store.read(name) as tx:
        obs_before = tx.observations()
    value = camp.history().query("experiment_id == 5")["value"].item()
    assert camp.void(5, "  tip fell into the well ") == 1
    hist = camp.history()
    row = hist.query("experiment_id == 5")
    assert row["voided"].tolist() == [True] and row["value"].tolist() == [value]  # kept
    assert row["void_reason"].tolist() == ["tip fell into the well"]
    assert not hist.query("experiment_id != 5")["voided"].any()
    with camp.store.read(name) as tx:
        idx, ys = tx.observations()
    assert len(idx) == len(obs_before[0]) - 1 and value not in ys
    info = camp.status()
    assert info["voided_measurements"] == 1 and info["measurements"] == 12
    out = camp.export_csv(tmp_path / "all.csv")
    exported = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert exported.query("experiment_id == '5'")["void_reason"].tolist() == [
        "tip fell into the well"]
    from lowswitch.campaign.report import write_report

    paths = write_report(camp, tmp_path / "report")
    report_rows = pd.read_csv(paths["csv"], dtype=str, keep_default_na=False)
    assert report_rows.query("experiment_id == '5'")["voided"].tolist() == ["True"]
    # nothing left to void, unknown experiment, no reason: refused, nothing changes
    with pytest.raises(InputError, match="no measurement to void"):
        camp.void(5, "again")
    with pytest.raises(InputError, match="no experiment 999"):
        camp.void(999, "x")
    with pytest.raises(InputError, match="reason"):
        camp.void(4, "   ")
    assert camp.status() == info
    # a re-measurement of the voided well counts again
    again = pd.DataFrame({"campaign": name, "experiment_id": [5], "yield": ["50.5"]})
    camp.record(again)
    with camp.store.read(name) as tx:
        assert 50.5 in tx.observations()[1]


def test_a_huge_value_is_recoverable_by_void(tmp_path: Path, screen: pd.DataFrame) -> None:
    camp = make(tmp_path / "h.db", "h", screen)
    plate = measured_plate(camp, screen, 12)
    plate.loc[plate["experiment_id"] == 7, "yield"] = ""
    camp.record(plate)
    store_raw(camp, 7, 1e160)
    with pytest.raises(Exception):  # noqa: B017 - the broken state, whatever layer refuses it
        camp.best()
    camp.void(7, "transcription error: 1e160")
    top = camp.best(k=3)
    assert len(top) == 3 and top["mean"].map(math.isfinite).all()
    assert (top["mean"].abs() < 200).all()
    assert len(camp.suggest(slots=4)) == 4


def test_void_from_the_command_line(tmp_path: Path, screen: pd.DataFrame) -> None:
    db = str(tmp_path / "v.db")
    camp = make(db, "v", screen)
    camp.record(measured_plate(camp, screen, 8))
    args = ("campaign", "void", "--storage", db, "--name", "v", "--experiment", "3")
    out = run_cli(*args, "--reason", "wrong plate").stdout
    assert "voided 1 measurement(s) of experiment 3: wrong plate" in out
    again = run_cli(*args, "--reason", "wrong plate", check=False)
    assert again.returncode == 2 and again.stderr.startswith("error: experiment: ")
    assert Campaign.open(db, "v").status()["voided_measurements"] == 1


def test_void_drops_the_stored_fits(tmp_path: Path, screen: pd.DataFrame) -> None:
    camp = make(tmp_path / "f.db", "f", screen)
    for seed in range(3):
        camp.record(measured_plate(camp, screen, 8, seed))
    with camp.store.read("f") as tx:
        assert tx.latest_fit() is not None
    camp.void(2, "outlier")
    with camp.store.read("f") as tx:
        assert tx.latest_fit() is None  # it saw the voided value


# ---------------------------------------------------------------------- duplicates
def test_the_same_file_twice_is_refused(storage_url: str, name: str, screen: pd.DataFrame,
                                        tmp_path: Path) -> None:
    camp = make(storage_url, name, screen)
    path = tmp_path / "plate1.csv"
    measured_plate(camp, screen, 8).to_csv(path, index=False)
    camp.record(path)
    info = camp.status()
    with pytest.raises(InputError, match=r"recorded already \(import \d+, .*allow-duplicate"):
        camp.record(path)
    assert camp.status() == info
    assert camp.record(path, allow_duplicate=True)["measured"] == 8
    assert camp.status()["measurements"] == 16
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "yield"] = "failed"
    camp.record(frame)  # other content: new measurements
    with pytest.raises(InputError, match="recorded already"):
        camp.record(frame)


def test_the_same_file_twice_on_the_command_line(tmp_path: Path, screen: pd.DataFrame) -> None:
    db = str(tmp_path / "d.db")
    camp = make(db, "d", screen)
    path = tmp_path / "plate1.csv"
    measured_plate(camp, screen, 6).to_csv(path, index=False)
    args = ("campaign", "record", "--storage", db, "--name", "d", "--results", str(path))
    run_cli(*args)
    second = run_cli(*args, check=False)
    assert second.returncode == 2 and "error: results: the same content" in second.stderr
    run_cli(*args, "--allow-duplicate")
    assert Campaign.open(db, "d").status()["measurements"] == 12


# ------------------------------------------------------------------------ identity
def test_results_carry_the_campaign(private_url: str, name: str, screen: pd.DataFrame) -> None:
    # a database of its own: whether a minimal file is ambiguous depends on the other campaigns
    a = make(private_url, name + "-a", screen)
    b = make(private_url, name + "-b", screen, seed=1)
    plate_a = measured_plate(a, screen, 6)
    plate_b = measured_plate(b, screen, 6)
    assert (plate_a["campaign"] == name + "-a").all()
    before = b.status()
    with pytest.raises(InputError, match=rf"row 1 \(line 2\): campaign '{name}-a', but this is"):
        b.record(plate_a)
    # a minimal file names no campaign: both have wells 1-6 pending, so it is ambiguous
    minimal = plate_a[["experiment_id", "yield"]]
    with pytest.raises(InputError, match=rf"campaign\(s\) \['{name}-a'\].*could belong"):
        b.record(minimal)
    assert b.status() == before
    b.record(plate_b)
    # now only campaign a has wells 1-6 pending: the minimal file can only be a's
    assert a.record(minimal)["measured"] == 6
    # without the column, a table may not add re-measurements to finished wells
    with pytest.raises(InputError, match=r"\[1, 2\] that are not pending"):
        a.record(pd.DataFrame({"experiment_id": [1, 2], "yield": ["1", "2"]}))
    a.record(pd.DataFrame({"campaign": name + "-a", "experiment_id": [1, 2],
                           "yield": ["1", "2"]}))
    assert a.status()["measurements"] == 8


def test_a_formula_like_campaign_name_round_trips(tmp_path: Path, screen: pd.DataFrame) -> None:
    """Plate files escape '=...' cells; the campaign column is read back unescaped."""
    db = str(tmp_path / "q.db")
    make(db, "=screen", screen)
    out = tmp_path / "plate.csv"
    run_cli("campaign", "suggest", "--storage", db, "--name", "=screen", "--slots", "4",
            "--out", str(out))
    plate = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert (plate["campaign"] == "'=screen").all()
    plate["yield"] = ["1", "2", "3", "4"]
    plate.to_csv(out, index=False)
    assert Campaign.open(db, "=screen").record(out)["measured"] == 4
