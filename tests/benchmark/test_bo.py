"""Tests of the ``bo`` benchmark harness (problems, bookkeeping, summary, quick run)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lowswitch.benchmark.bo import (
    PROBLEMS,
    NoisyObjective,
    RunResult,
    _median_curve,
    acceptance,
    line_style,
    main,
    parse_method,
    split_options,
    summarise,
)


def test_pool_suffix_is_for_ts_only() -> None:
    assert split_options("ts-C2-p1024-g1") == (
        "ts-C2", {"n_discrete": 1024, "n_local": 512, "refit_growth": 1.0})
    with pytest.raises(ValueError, match="unknown or repeated"):
        split_options("ei-C2-p512")
    with pytest.raises(ValueError, match="must be a number"):
        split_options("ts-C2-p0")


@pytest.mark.parametrize(("default", "explicit", "old"), [
    ("ts-C2", "ts-C2-p512-g1.1", "ts-C2-p1024-g1"),
    ("ucb-C2", "ucb-C2-g1", "ucb-C2-g1.1"),
])
def test_suffixed_names_spell_out_the_defaults(default: str, explicit: str, old: str) -> None:
    """The suite's current-TS rows ran as ``ts-C2-p512-g1.1`` and are stored as ``ts-C2``;
    the earlier TS rows are stored as ``ts-C2-p1024-g1``; UCB's default refits at every
    switch, ``ucb-C2-g1.1`` is a variant. The configs say these names are what they claim
    (same config -> same trajectory, the policies being deterministic given their seed)."""
    from lowswitch.policies import get_policy

    def config(method: str) -> object:
        name, opts = split_options(method)
        kind, c = parse_method(name)
        return get_policy(kind)(torch.tensor([[0.0], [1.0]]), switch_threshold=c, seed=0,
                                **opts).config

    assert config(explicit) == config(default) != config(old)


def test_parse_method() -> None:
    assert parse_method("ucb-C2") == ("ucb", 2.0)
    assert parse_method("ts-C1.5") == ("ts", 1.5)
    assert parse_method("optuna-gp") == ("optuna-gp", None)
    assert parse_method("ucb-C1-g1.05") == ("ucb", 1.0)
    assert split_options("ucb-C1-g1.05") == ("ucb-C1", {"refit_growth": 1.05})
    opts = {"initial_repeats": 3, "refit_growth": 1.1}
    assert split_options("ts-C1.5-g1.1-r3") == ("ts-C1.5", opts)
    assert split_options("random") == ("random", {})
    assert parse_method("ucb-C1-r2-g1.05") == ("ucb", 1.0)
    with pytest.raises(ValueError, match="must be a number"):
        split_options("ei-C2-g0.5")
    with pytest.raises(ValueError, match="must be a number"):
        split_options("ei-C2-r0")
    with pytest.raises(ValueError, match="unknown or repeated"):
        split_options("ucb-C1-g1.1-g1.2")
    with pytest.raises(ValueError, match="method"):
        parse_method("gp-hedge")
    assert split_options("ts-C2-vpathwise-s10") == (
        "ts-C2", {"sampler": "pathwise", "switch_cost": 10.0})
    assert split_options("ei-C2-vnoisy") == ("ei-C2", {"ei_variant": "noisy"})
    for bad in ("ts-C2-vnoisy", "ei-C2-vpathwise", "ucb-C2-vplain", "ts-C2-vexact-vexact"):
        with pytest.raises(ValueError, match=r"-v|unknown or repeated"):
            split_options(bad)


def test_median_curve_keeps_ended_runs_at_their_final_regret() -> None:
    short = RunResult("branin", "ucb-C2", 4, 0, trace=[[1, 1, 4.0, 0.1], [2, 1, 1.0, 0.2]])
    long = RunResult("branin", "ucb-C2", 4, 1,
                     trace=[[1, 1, 8.0, 0.1], [2, 2, 6.0, 0.2], [4, 2, 3.0, 0.3]])
    grid = torch.tensor([0.5, 1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    curve = _median_curve([short, long], 0, 0.0, grid)
    # before any evaluation: nothing; then medians of (4, 8), (1, 6), (1, 6), (1, 3); past
    # the last run's end: nothing
    assert math.isnan(curve[0]) and math.isnan(curve[-1])
    assert curve[1:5].tolist() == [6.0, 3.5, 3.5, 2.0]
    # cost axis: evaluations + s * switches
    cost = _median_curve([short, long], 0, 10.0, torch.tensor([11.0, 12.0, 24.0],
                                                               dtype=torch.float64))
    assert cost.tolist() == [6.0, 4.5, 2.0]


def test_line_style_tells_methods_apart() -> None:
    methods = ["ucb-C1", "ucb-C1.5", "ucb-C2", "ucb-C4", "ei-C1", "ei-C2", "ts-C2",
               "optuna-gp", "botorch-qlognei", "random"]
    styles = [tuple(sorted(line_style(m).items())) for m in methods]
    assert len(set(styles)) == len(methods)
    assert line_style("ei-C2")["color"] == line_style("ei-C1")["color"]
    assert line_style("ucb-C1-r2-g1.05")["linewidth"] < line_style("ucb-C1")["linewidth"]
    with pytest.raises(ValueError, match="method"):
        line_style("gp-hedge")


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_regret_is_zero_at_the_optimiser_and_positive_elsewhere(name: str) -> None:
    obj = NoisyObjective(PROBLEMS[name], seed=0)
    x_star = torch.as_tensor(obj.f._optimizers[0], dtype=torch.float64)
    assert obj.regret(x_star) == pytest.approx(0.0, abs=1e-4)
    corner = obj.bounds[0]
    assert obj.regret(corner) > 0.01


def test_objective_counts_switches_evaluations_and_cumulative_regret() -> None:
    obj = NoisyObjective(PROBLEMS["branin"], seed=1)
    a, b = obj.bounds[0], obj.bounds[1]
    ya = obj(a, 3)
    obj(a, 2)
    obj(b, 1)
    assert ya.shape == (3,)
    assert obj.n_evaluations == 6 and obj.n_switches == 2
    expected = 5 * obj.regret(a) + obj.regret(b)
    assert obj.cumulative_regret == pytest.approx(expected, rel=1e-12)
    # the noise has the stated scale: 3 draws are not all equal to the true value
    assert not torch.allclose(ya, torch.full_like(ya, obj.true_value(a)))


def _run(method: str, seed: int, regret: float, switches: int, wall: float) -> RunResult:
    r = RunResult(
        "hartmann6",
        method,
        100,
        seed,
        evaluations=100,
        simple_regret=regret,
        cumulative_regret=10.0 * regret,
        switches=switches,
        unique_points=switches,
        wall_time_s=wall,
    )
    return r


def test_summary_medians_costs_and_acceptance_ratios() -> None:
    runs = [
        _run("ucb-C1", 0, 0.2, 100, 50.0),
        _run("ucb-C1", 1, 0.4, 100, 70.0),
        _run("ucb-C1", 2, 0.3, 100, 60.0),
        _run("ucb-C2", 0, 0.1, 10, 2.0),
        _run("ucb-C2", 1, 0.5, 12, 4.0),
        _run("ucb-C2", 2, 0.3, 8, 3.0),
    ]
    rows = {r["method"]: r for r in summarise(runs)}
    assert rows["ucb-C1"]["simple_regret"] == pytest.approx(0.3)
    assert rows["ucb-C2"]["switches"] == 10
    assert rows["ucb-C2"]["cost_s10"] == 100 + 10 * 10
    assert rows["ucb-C2"]["cost_s100"] == 100 + 100 * 10
    acc = acceptance(list(rows.values()))["hartmann6_100_ucb_C2_vs_C1"]
    assert acc["switch_ratio"] == pytest.approx(10 / 100)
    assert acc["regret_ratio"] == pytest.approx(1.0)
    assert acc["wall_time_speedup"] == pytest.approx(60.0 / 3.0)
    assert acc["seeds"] == 3
    assert math.isnan(summarise([_run("x-C2", 0, math.nan, 1, 1.0)])[0]["simple_regret"])


def test_quick_run_writes_table_json_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quick", "--budgets", "16", "--out", str(tmp_path), "--no-progress"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    methods = {r["method"] for r in data["summary"]}
    assert methods == {"ucb-C1", "ucb-C2", "ei-C2", "ts-C2", "random"}
    text = (tmp_path / "results.md").read_text()
    by_evaluations, _, by_cost = text.partition("### branin, 16 evaluations: at equal total cost")
    table = by_evaluations.splitlines()
    assert table[0] == "### branin, 16 evaluations"
    listed = [line.split("`")[1] for line in table if line.startswith("| `")]
    assert listed == ["ucb-C1", "ucb-C2", "ei-C2", "ts-C2", "random"]
    at_cost = [line.split("`")[1] for line in by_cost.splitlines() if line.startswith("| `")]
    assert at_cost == listed and "regret at cost" in by_cost
    for run in data["runs"]:
        assert run["evaluations"] == 16
        assert run["simple_regret"] >= 0 and run["cumulative_regret"] >= 0
        assert 1 <= run["switches"] <= 16 and run["trace"]
    c1 = next(r for r in data["runs"] if r["method"] == "ucb-C1")
    assert c1["switches"] == 16  # one evaluation per decision
    assert (tmp_path / "regret.png").stat().st_size > 1000
    assert "ucb-C2" in capsys.readouterr().out


def test_botorch_loop_runs_to_budget_and_records_every_step() -> None:
    from lowswitch.benchmark.bo import run_one

    res = run_one(PROBLEMS["branin"], "botorch-qlognei", 7, 0)
    assert res.evaluations == 7 and res.switches == 7 and res.completed
    assert len(res.trace) == 7 - 4  # one record per step after the 2 d = 4 design points
    assert math.isfinite(res.simple_regret) and res.simple_regret >= 0.0
    assert res.record_s >= 0.0 and res.wall_time_s > 0.0


def test_a_rebuilt_policy_run_walks_the_kept_policys_design_and_pays_for_switches() -> None:
    """``-b`` rebuilds the policy from the history for every block (a stateless loop): it
    walks the same initial design as the kept policy and, with a switch cost, commits the
    extra repeats up front, so it switches less than without one."""
    from lowswitch.benchmark.bo import run_one

    kept = run_one(PROBLEMS["branin"], "ei-C2", 40, 0)
    rebuilt = run_one(PROBLEMS["branin"], "ei-C2-b", 40, 0)
    dear = run_one(PROBLEMS["branin"], "ei-C2-s100-b", 40, 0)
    assert rebuilt.evaluations == dear.evaluations == 40
    design = 4  # 2 d design blocks of 2 repeats: identical, regret included
    assert [t[:3] for t in rebuilt.trace[:design]] == [t[:3] for t in kept.trace[:design]]
    assert rebuilt.trace[design - 1][1] == design  # never the first design point again
    assert dear.switches < rebuilt.switches


def test_from_json_with_methods_keeps_only_those_runs(tmp_path: Path) -> None:
    first = tmp_path / "a"
    assert main(["--problems", "branin", "--budgets", "8", "--seeds", "1", "--methods",
                 "ei-C2,random", "--out", str(first), "--no-progress", "--no-plot"]) == 0
    merged = tmp_path / "m"
    assert main(["--from-json", str(first / "results.json"), "--methods", "random",
                 "--out", str(merged), "--no-progress", "--no-plot"]) == 0
    runs = json.loads((merged / "results.json").read_text())["runs"]
    assert [r["method"] for r in runs] == ["random"]
    every = tmp_path / "e"
    assert main(["--from-json", str(first / "results.json"), "--out", str(every),
                 "--no-progress", "--no-plot"]) == 0
    assert len(json.loads((every / "results.json").read_text())["runs"]) == 2
