"""Campaign API on SQLite and PostgreSQL: plates, results, failures, accounting, best."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from campaign_helpers import INPUTS
from sqlalchemy import func, select

from lowswitch.campaign import Campaign, SimulatedLab
from lowswitch.campaign.storage import imports_table, measurements_table
from lowswitch.errors import InputError


def make(storage_url: str, name: str, screen: pd.DataFrame, **kw) -> Campaign:
    kw.setdefault("initial_conditions", 4)
    return Campaign.create(storage_url, name, screen.drop(columns="yield"), inputs=INPUTS,
                           objective="yield", **kw)


def counts(camp: Campaign) -> tuple[int, int]:
    with camp.storage.engine.connect() as conn:
        n_meas = conn.execute(select(func.count()).where(
            measurements_table.c.campaign_id == camp.id)).scalar_one()
        n_imp = conn.execute(select(func.count()).where(
            imports_table.c.campaign_id == camp.id)).scalar_one()
    return n_meas, n_imp


def test_round_trip_and_accounting(storage_url: str, name: str, screen: pd.DataFrame) -> None:
    camp = make(storage_url, name, screen)
    lab = SimulatedLab(screen, INPUTS, "yield", seed=0)
    plate = camp.suggest(slots=12)
    assert list(plate.columns) == ["campaign", "experiment_id", "plate", "block", "replicate",
                                   *INPUTS, "yield"]
    assert (plate["campaign"] == name).all()
    assert plate["experiment_id"].tolist() == list(range(1, 13))
    assert plate["block"].nunique() == 4 and (plate.groupby("block").size() == 3).all()
    assert camp.record(lab.measure(plate)) == {"measured": 12, "failed": 0, "skipped": 0}
    plate2 = camp.suggest(slots=8)
    assert plate2["experiment_id"].min() == 13 and (plate2["plate"] == 2).all()
    info = Campaign.open(storage_url, name).status()
    assert info["plates"] == 2
    assert info["experiments"] == {"pending": 8, "done": 12, "failed": 0}
    assert info["switches"] == 4 + plate2["block"].nunique()
    assert info["conditions_tried"] == 4 and info["replicates_per_condition"] == 3.0


def test_partial_failed_and_remeasured_wells(storage_url: str, name: str,
                                             screen: pd.DataFrame) -> None:
    camp = make(storage_url, name, screen)
    plate = camp.suggest(slots=8)
    plate["yield"] = ["10", "failed", "", "", "30", "31", "", ""]
    assert camp.record(plate) == {"measured": 3, "failed": 1, "skipped": 4}
    info = camp.status()
    assert info["experiments"] == {"pending": 4, "done": 3, "failed": 1}
    hist = camp.history()
    failed = hist[hist["experiment_id"] == 2]
    assert failed["failed"].tolist() == [True] and failed["value"].isna().all()
    # a failed well measured again later becomes done; a done well measured again keeps both
    again = pd.DataFrame({"campaign": name, "experiment_id": [2, 1], "yield": ["12", "11"]})
    camp.record(again)
    info = camp.status()
    assert info["experiments"] == {"pending": 4, "done": 4, "failed": 0}
    assert info["measurements"] == 6
    assert info["failed_measurements"] == 1  # the failed result stays recorded as failed
    values = camp.history().query("experiment_id == 1")["value"].tolist()
    assert values == [10.0, 11.0]


def test_bad_file_stores_nothing(storage_url: str, name: str, screen: pd.DataFrame,
                                 tmp_path) -> None:
    camp = make(storage_url, name, screen)
    plate = camp.suggest(slots=8)
    plate["yield"] = [str(v) for v in range(8)]
    plate.loc[7, "yield"] = "n/a"
    path = tmp_path / "bad.csv"
    plate.to_csv(path, index=False)
    before = counts(camp), camp.status()
    with pytest.raises(InputError, match=r"results row 8 \(line 9\)"):
        camp.record(path)
    assert (counts(camp), camp.status()) == before
    bad_id = pd.DataFrame({"experiment_id": [1, 999], "yield": [1, 2]})
    with pytest.raises(InputError, match="unknown experiment_id 999"):
        camp.record(bad_id)
    assert (counts(camp), camp.status()) == before


def test_same_seed_same_rows_same_plates(tmp_path, screen: pd.DataFrame) -> None:
    camps = [make(f"sqlite:///{tmp_path / f'{i}.db'}", "c", screen, seed=3) for i in range(2)]
    lab_values = None
    for _ in range(3):
        plates = [c.suggest(slots=6) for c in camps]
        pd.testing.assert_frame_equal(plates[0], plates[1])
        lab_values = SimulatedLab(screen, INPUTS, "yield", seed=len(plates[0])).measure(plates[0])
        for c in camps:
            c.record(lab_values)
    # a fresh handle (as another process would open it) continues identically
    reopened = Campaign.open(f"sqlite:///{tmp_path / '0.db'}", "c")
    pd.testing.assert_frame_equal(reopened.suggest(slots=6), camps[1].suggest(slots=6))


def test_best_ranks_by_posterior_mean(storage_url: str, name: str, screen: pd.DataFrame) -> None:
    camp = make(storage_url, name, screen, direction="minimize")
    lab = SimulatedLab(screen, INPUTS, "yield", noise_sd=2.0, seed=1)
    for _ in range(2):
        camp.record(lab.measure(camp.suggest(slots=8)))
    top = camp.best(k=3)
    assert len(top) == 3
    assert top["mean"].is_monotonic_increasing  # minimising: best = lowest mean
    assert ((top["lower"] <= top["mean"]) & (top["mean"] <= top["upper"])).all()
    assert set(top.columns) >= {*INPUTS, "mean", "lower", "upper", "sd", "n", "observed_mean"}


def test_names_are_unique_and_checked(storage_url: str, name: str, screen: pd.DataFrame) -> None:
    make(storage_url, name, screen)
    with pytest.raises(InputError, match="exists already"):
        make(storage_url, name, screen)
    with pytest.raises(InputError, match="no campaign called"):
        Campaign.open(storage_url, name + "-missing")
    with pytest.raises(InputError, match="direction"):
        make(storage_url, name + "-d", screen, direction="up")
    with pytest.raises(InputError, match="slots"):
        Campaign.open(storage_url, name).suggest(slots=0)


def test_import_history(storage_url: str, name: str, screen: pd.DataFrame) -> None:
    camp = make(storage_url, name, screen)
    past = screen.head(5).copy()
    past["yield"] = past["yield"].map(lambda v: f"{v:.3f}")
    past.loc[4, "yield"] = "failed"
    assert camp.import_history(past) == {"measured": 4, "failed": 1, "skipped": 0}
    info = camp.status()
    assert info["experiments"] == {"pending": 0, "done": 4, "failed": 1}
    assert info["plates"] == 1 and info["switches"] == 5
    bad = past.copy()
    bad.loc[0, "base"] = "no-such-base"
    with pytest.raises(InputError, match="history row 1"):
        camp.import_history(bad)
    assert camp.status() == info
    assert len(camp.suggest(slots=4)) == 4


def test_campaign_from_a_space_with_continuous_and_descriptor_parameters(tmp_path) -> None:
    from lowswitch.space import Categorical, Float, Int, Space

    space = Space({"T": Float(20.0, 80.0), "eq": Int(1, 3),
                   "ligand": Categorical(["L1", "L2", "L3"], descriptors=[[1.0], [2.0], [4.0]])})
    camp = Campaign.create(tmp_path / "s.db", "space", space, inputs=["T", "eq", "ligand"],
                           objective="conversion", initial_conditions=3, float_levels=4)
    assert len(camp.candidates) == 4 * 3 * 3
    assert camp.features.shape == (36, 3)  # descriptors, not one-hot
    assert torch.equal(camp.features[0], space.encode(camp.candidates[0]))
    for _ in range(3):
        plate = camp.suggest(slots=6)
        plate["conversion"] = [
            100 - abs(float(r["T"]) - 60) - 5 * abs(int(r["eq"]) - 2) for _, r in plate.iterrows()
        ]
        camp.record(plate)
    top = camp.best(k=1)
    levels = sorted({r["T"] for r in camp.candidates})
    assert levels == pytest.approx([20.0, 40.0, 60.0, 80.0], abs=1e-9)
    assert float(top["T"].iloc[0]) in levels
    with pytest.raises(InputError, match="space's names"):
        Campaign.create(tmp_path / "s.db", "space2", space, inputs=["T"], objective="y")
