"""Smoke test of ``python -m lowswitch.benchmark tune --quick`` and its task pieces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from lowswitch.benchmark import tune as bench


def test_objective_is_a_fold_error_and_repeats_differ() -> None:
    setup = bench.DigitsSetup(seed=0, n_max=200)
    config = {"n_orient": 2, "pca": 8, "C": 10.0, "gamma": 0.01}
    ctx = setup(config)
    vals = [bench.digits_objective(config, r, ctx) for r in range(5)]
    assert all(0.0 <= v <= 1.0 for v in vals)
    assert len(set(vals)) > 1  # folds are different repeats
    assert bench.digits_objective(config, 3, ctx) == vals[3]  # deterministic per repeat
    acc = bench.heldout_accuracy(config, seed=0, n_max=200)
    assert 0.5 < acc <= 1.0


def test_quick_run_writes_table_json_png(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = bench.main(["--quick", "--methods", "lowswitch,random", "--out", str(tmp_path),
                     "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "held-out acc" in out and "lowswitch" in out
    data = json.loads((tmp_path / "tune.json").read_text())
    assert set(data["summary"]) == {"lowswitch", "random"}
    for run in data["runs"]:
        assert run["n_evaluations"] == data["budget"]
        assert run["total"] >= run["setup"] + run["objective"] - 1e-6
        assert 0.0 < run["heldout_accuracy"] <= 1.0
        bench.SPACE.validate(run["config"])
    low = next(r for r in data["runs"] if r["method"] == "lowswitch")
    rnd = next(r for r in data["runs"] if r["method"] == "random")
    assert rnd["n_switches"] == data["budget"]  # one config per trial
    assert 1 <= low["n_switches"] <= data["budget"]
    assert (tmp_path / "tune.png").stat().st_size > 1000


def test_bad_method_is_rejected() -> None:
    with pytest.raises(SystemExit):
        bench.main(["--methods", "nope"])


def test_other_acquisitions_run_through_minimize(tmp_path: Path) -> None:
    rc = bench.main(["--quick", "--methods", "lowswitch_ei,lowswitch_ts", "--out",
                     str(tmp_path), "--no-progress"])
    assert rc == 0
    data = json.loads((tmp_path / "tune.json").read_text())
    assert set(data["summary"]) == {"lowswitch_ei", "lowswitch_ts"}
    assert all(r["n_evaluations"] == data["budget"] for r in data["runs"])


def test_from_json_merges_and_renames(tmp_path: Path) -> None:
    a, b, merged = tmp_path / "a", tmp_path / "b", tmp_path / "m"
    assert bench.main(["--quick", "--methods", "random", "--out", str(a), "--no-progress"]) == 0
    assert bench.main(["--quick", "--methods", "lowswitch", "--out", str(b), "--no-progress"]) == 0
    rc = bench.main(["--from-json", f"{a / 'tune.json'},{b / 'tune.json'}",
                     "--rename", "lowswitch=lowswitch_ei", "--out", str(merged)])
    assert rc == 0
    data = json.loads((merged / "tune.json").read_text())
    assert set(data["summary"]) == {"random", "lowswitch_ei"}
    assert len(data["runs"]) == 2 and (merged / "tune.png").stat().st_size > 1000


def test_auto_switch_cost_method_measures_the_ratio(tmp_path: Path) -> None:
    rc = bench.main(["--quick", "--methods", "lowswitch_auto", "--out", str(tmp_path),
                     "--no-progress"])
    assert rc == 0
    (run,) = json.loads((tmp_path / "tune.json").read_text())["runs"]
    assert run["method"] == "lowswitch_auto"
    # the set-up (feature extraction) is measured and dearer than nothing: a positive cost
    assert run["switch_cost"] > 0.0


def test_seed_offset_picks_the_seeds(tmp_path: Path) -> None:
    rc = bench.main(["--quick", "--seed-offset", "3", "--methods", "random", "--out",
                     str(tmp_path), "--no-progress"])
    assert rc == 0
    data = json.loads((tmp_path / "tune.json").read_text())
    assert data["seeds"] == [3] and {r["seed"] for r in data["runs"]} == {3}
    for bad in (["--seed-offset", "-1"], ["--seeds", "0"]):
        with pytest.raises(SystemExit):
            bench.main([*bad, "--methods", "random"])
