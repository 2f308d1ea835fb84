"""The main job (`lowswitch demo`) and the campaign benchmark in their small settings."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from campaign_helpers import INPUTS

from lowswitch.benchmark.campaign import main as bench_main
from lowswitch.campaign import Campaign, SimulatedLab, aryl_halide_table
from lowswitch.campaign.demo import run_demo


def test_demo_small(tmp_path) -> None:
    summary = run_demo(plates=2, slots=12, out=tmp_path / "demo", quiet=True)
    assert summary["experiments"] == 24
    assert summary["switches"] >= 8
    assert 0 <= summary["recommended_true_yield"] <= 100
    for path in summary["report"].values():
        assert (tmp_path / "demo" / path.split("/")[-1]).exists()


def test_benchmark_quick(tmp_path) -> None:
    assert bench_main(["--quick", "--out", str(tmp_path), "--no-plot"]) == 0
    result = json.loads((tmp_path / "results.json").read_text())
    assert {r["method"] for r in result["summary"]} >= {"one-shot BO (C=1)", "random"}
    for run in result["runs"]:
        curve = run["curve"]
        assert curve["wells"][-1] == 24
        assert curve["switches"] == sorted(curve["switches"])
        assert all(0 <= v <= 100 for v in curve["rec_true"])
        if run["method"] in ("one-shot BO (C=1)", "random"):
            assert curve["switches"] == curve["wells"]  # one well per condition


@pytest.mark.slow
def test_suggest_time_grows_with_conditions_not_with_replicates(tmp_path) -> None:
    """Same 300 conditions, 1 vs 5 replicates each (300 vs 1,500 wells): suggest (warm fit)
    costs about the same; measured side by side, medians of 3."""
    times = {}
    full = aryl_halide_table()
    picks = full.sample(n=300, random_state=0)
    for reps in (1, 5):
        camp = Campaign.create(f"sqlite:///{tmp_path / f'{reps}.db'}", "s",
                               full.drop(columns="yield"), INPUTS, "yield", seed=0)
        hist = pd.concat([picks] * reps, ignore_index=True)
        camp.import_history(hist.astype({"yield": str}))
        lab = SimulatedLab(full, INPUTS, "yield", seed=0)
        camp.record(lab.measure(camp.suggest(slots=8)))  # first fit, stored
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            plate = camp.suggest(slots=8)
            samples.append(time.perf_counter() - t0)
            camp.record(lab.measure(plate))
        times[reps] = sorted(samples)[1]
    assert times[5] < 2.5 * times[1], times
