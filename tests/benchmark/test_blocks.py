"""``python -m lowswitch.benchmark blocks``: the per-block replay of low-switch runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lowswitch.benchmark import blocks
from lowswitch.benchmark.__main__ import main as dispatch


def test_a_short_replay_stops_at_the_cost_and_adds_up(tmp_path: Path) -> None:
    rc = dispatch(["blocks", "--problem", "branin", "--methods", "ei-C2,ei-C2-s10",
                   "--seeds", "2", "--budget", "60", "--s", "10", "--cost", "150",
                   "--out", str(tmp_path)])
    assert rc == 0
    data = json.loads((tmp_path / "blocks.json").read_text())
    assert len(data["runs"]) == 4
    for run in data["runs"]:
        reps = [r for r, _, _ in run["blocks"]]
        assert run["evaluations"] == sum(reps) <= 60
        assert run["evaluations"] + 10 * run["switches"] <= 150
        assert run["switches"] == sum(moved for _, _, moved in run["blocks"]) <= len(reps)
        assert 0 <= run["repeats_on_bad"] <= run["evaluations_on_bad"] <= run["evaluations"]
        assert run["best_evaluated"] == min(g for _, g, _ in run["blocks"])
        assert 0 <= run["stays"] <= len(reps) - run["switches"]
        assert run["stays"] <= run["stay_evaluations"] <= run["evaluations"] - run["switches"]
        assert run["recommendation"] >= 0.0
    for method, row in data["medians"].items():
        mine = [r for r in data["runs"] if r["method"] == method]
        assert row["evaluations"] == sum(r["evaluations"] for r in mine) / 2


def test_the_replay_is_the_bo_run() -> None:
    """Without a cost limit the replay ends where ``bo``'s run of the same seed ends."""
    from lowswitch.benchmark.bo import run_one
    from lowswitch.benchmark.suite import NOISY_SUITE

    problem = NOISY_SUITE["branin"].problem()
    ref = run_one(problem, "ei-C2", 30, 3)
    got = blocks.replay(problem, "ei-C2", 3, 30, 10.0, None, 5.0)
    assert (got["evaluations"], got["switches"]) == (ref.evaluations, ref.switches)
    assert got["recommendation"] == pytest.approx(ref.simple_regret, rel=0, abs=0)


def test_bad_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert dispatch(["blocks", "--problem", "nope", "--out", str(tmp_path)]) == 2
    assert "expected one of" in capsys.readouterr().out
    for bad in (["--seeds", "0"], ["--cost", "-1"], ["--s", "-2"]):
        with pytest.raises(SystemExit):
            blocks.parse_args(["--problem", "branin", *bad])
    from lowswitch.benchmark.suite import NOISY_SUITE

    with pytest.raises(ValueError, match="not a low-switch policy"):
        blocks.replay(NOISY_SUITE["branin"].problem(), "random", 0, 10, 1.0, None, 5.0)


def test_second_looks_are_counted_per_visit_not_per_block() -> None:
    """A stay handed out as a second block at the same point is a repeat of that visit."""
    from lowswitch.benchmark.suite import NOISY_SUITE
    from lowswitch.policies.design import default_n_initial

    problem = NOISY_SUITE["branin"].problem()
    run = blocks.replay(problem, "ei-C2-s10", 0, 80, 10.0, None, 0.0)  # every point "poor"
    model = run["blocks"][default_n_initial(None, 2, None):]  # after branin's initial design
    visits = sum(moved for _, _, moved in model)
    assert run["evaluations_on_bad"] == sum(r for r, _, _ in model)
    assert run["repeats_on_bad"] == run["evaluations_on_bad"] - visits
    stays = [b for b in model if not b[2]]
    assert stays, "the cost-aware run should stay at some point after a look"
    assert run["stays"] == len(stays)
    assert run["stay_evaluations"] == sum(r for r, _, _ in stays)
