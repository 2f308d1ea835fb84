"""Tests of the noisy problem suite (``lowswitch.benchmark.suite``) and ``bo --suite``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lowswitch.benchmark.bo import NoisyObjective, RunResult, main, parse_method
from lowswitch.benchmark.suite import (
    HELDOUT_SUITE,
    NOISY_SUITE,
    SUITE_METHODS,
    acceptance_markdown,
    function_range,
    matrix_markdown,
    per_seed_rows,
    plot_suite,
    problem_table,
    regret_matrix,
    suite_acceptance,
    suite_problems,
)


def test_suite_spans_dimensions_noise_levels_and_box_kinds() -> None:
    assert len(NOISY_SUITE) >= 10
    dims = {p.make().bounds.shape[1] for p in NOISY_SUITE.values()}
    assert min(dims) == 2 and max(dims) == 10
    fractions = [p.noise_fraction for p in NOISY_SUITE.values()]
    assert min(fractions) == 0.01 and max(fractions) == 0.20
    widths = [float((p.make().bounds[1] - p.make().bounds[0]).max()) for p in NOISY_SUITE.values()]
    assert max(widths) >= 20.0  # at least one wide box
    lows = [float(p.make().bounds[0].min()) for p in NOISY_SUITE.values()]
    assert max(lows) >= 100.0  # a far-shifted box
    for method in SUITE_METHODS.split(","):
        parse_method(method)


@pytest.mark.parametrize("name", sorted(NOISY_SUITE) + sorted(HELDOUT_SUITE))
def test_stored_range_matches_its_definition_and_optimum_has_zero_regret(name: str) -> None:
    entry = {**NOISY_SUITE, **HELDOUT_SUITE}[name]
    assert function_range(entry.make()) == pytest.approx(entry.f_range, rel=1e-3)
    obj = NoisyObjective(entry.problem(), seed=0)
    if obj.f._optimizers is not None:  # BoTorch gives no optimiser for Michalewicz-5
        x_star = torch.as_tensor(obj.f._optimizers[0], dtype=torch.float64)
        assert obj.regret(x_star) == pytest.approx(0.0, abs=1e-3)
    assert obj.regret(obj.bounds[0]) > 0.01
    assert entry.noise_std == pytest.approx(entry.noise_fraction * entry.f_range, rel=1e-3)


def test_problem_table_lists_every_problem() -> None:
    table = problem_table()
    for name in NOISY_SUITE:
        assert f"`{name}`" in table
    assert "[-5, 10] x [0, 15]" in table and "[1000, 1001]^6" in table


def test_regret_matrix_compares_at_the_smallest_reached_cost() -> None:
    a = RunResult("p", "ei-C2", 4, 0, trace=[[2, 1, 0.9, 0.0], [4, 1, 0.5, 0.0]])
    b = RunResult("p", "random", 4, 0, trace=[[1, 1, 2.0, 0.0], [4, 4, 1.0, 0.0]])
    problems, methods, values = regret_matrix([a, b], 0.0)
    assert (problems, methods, values) == (["p"], ["ei-C2", "random"], [[0.5, 1.0]])
    # s = 10: costs reached are 14 and 44, so both are read at 14
    assert regret_matrix([a, b], 10.0)[2] == [[0.5, 2.0]]
    assert "**0.5**" in matrix_markdown(*regret_matrix([a, b], 10.0))
    assert math.isnan(regret_matrix([a], 0.0, cost=1.0)[2][0][0])


def test_unknown_suite_is_refused() -> None:
    with pytest.raises(ValueError, match="--suite"):
        suite_problems("clean")


def test_suite_smoke_run_writes_tables_json_and_plot(tmp_path: Path) -> None:
    argv = ["--suite", "noisy", "--problems", "branin,hartmann3", "--budgets", "10",
            "--seeds", "1", "--methods", "ei-C2,ei-C2-s10,optuna-tpe,random",
            "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert {(r["problem"], r["method"]) for r in data["summary"]} == {
        (p, m) for p in ("branin", "hartmann3")
        for m in ("ei-C2", "ei-C2-s10", "optuna-tpe", "random")
    }
    assert data["noise_std"] == {"branin": NOISY_SUITE["branin"].noise_std,
                                 "hartmann3": NOISY_SUITE["hartmann3"].noise_std}
    assert all(r["evaluations"] == 10 for r in data["runs"])
    suite_md = (tmp_path / "suite.md").read_text()
    assert "equal total cost, s = 10" in suite_md and "`hartmann3`" in suite_md
    assert (tmp_path / "regret.png").stat().st_size > 0
    # the compact per-seed JSON reproduces the equal-cost medians of the tables
    compact = json.loads((tmp_path / "suite.json").read_text())
    runs = [RunResult(**r) for r in data["runs"]]
    problems, methods, values = regret_matrix(runs, 10.0)
    for i, p in enumerate(problems):
        for j, m in enumerate(methods):
            rows = [r for r in compact["per_seed"] if (r["problem"], r["method"]) == (p, m)]
            assert len(rows) == 1
            got, want = rows[0]["regret_at_cost_s10"], values[i][j]
            assert got == want or (math.isnan(got) and math.isnan(want))
    assert {r["problem"] for r in compact["acceptance"]} == {"branin", "hartmann3"}


def test_suite_acceptance_ratios_and_equal_cost_win() -> None:
    def run(method: str, trace: list[list[float]], wall: float = 1.0) -> RunResult:
        return RunResult("p", method, 10, 0, evaluations=int(trace[-1][0]), wall_time_s=wall,
                         trace=trace)

    runs = [
        run("ei-C2", [[5, 2, 2.0, 0.0], [10, 4, 1.0, 0.0]], wall=2.0),
        run("ei-C2-s10", [[5, 1, 1.5, 0.0], [10, 2, 0.8, 0.0]]),  # final cost 30 at s=10
        run("optuna-gp", [[1, 1, 3.0, 0.0], [2, 2, 2.5, 0.0], [10, 10, 0.5, 0.0]], wall=4.0),
        run("optuna-tpe", [[2, 2, 2.8, 0.0], [10, 10, 0.9, 0.0]]),
        run("random", [[10, 10, 3.0, 0.0]]),
    ]
    (row,) = suite_acceptance(runs, cost_aware={10.0: "ei-C2-s10"})
    assert row["vs_random"] == pytest.approx(1.0 / 3.0)
    assert row["vs_best_baseline"] == pytest.approx(1.0 / 0.5)
    # at cost 30 (s = 10): ei-C2-s10 0.8; ei-C2 (cost 14 then 50) 2.0; GP (cost 22) 2.5;
    # TPE (cost 22) 2.8
    assert row["s10_regret"] == 0.8
    assert row["s10_vs_best_other"] == pytest.approx(0.8 / 2.0)
    assert row["s10_below_all"] is True
    assert row["ms_per_eval"] == 200.0 and row["optuna_gp_ms_per_eval"] == 400.0
    assert "s10_below_all" in acceptance_markdown([row])


def test_plot_suite_writes_a_figure(tmp_path: Path) -> None:
    runs = [RunResult(p, m, 4, 0, trace=[[2, 1, 0.9, 0.0], [4, 2, 0.5, 0.0]])
            for p in ("a", "b") for m in ("ei-C2", "random")]
    plot_suite(runs, tmp_path / "s.png", s=10.0, ncols=1)
    assert (tmp_path / "s.png").stat().st_size > 0


def test_equal_cost_tables_leave_out_methods_made_for_another_switch_cost() -> None:
    # ei-C2-s100 ends cheapest at s = 10 (5 switches); it must not set the s = 10 point
    runs = [RunResult("p", m, 10, 0, evaluations=10, switches=k,
                      trace=[[5, k // 2, 2.0, 0.0], [10, k, r, 0.0]])
            for m, k, r in [("ei-C2-s10", 6, 0.5), ("ei-C2-s100", 2, 0.1), ("ei-C2", 10, 0.3)]]
    _, methods, values = regret_matrix(runs, 10.0)
    assert methods == ["ei-C2", "ei-C2-s10"]  # compared at 10 + 10 x 6 = 70
    assert values == [[2.0, 0.5]]
    _, methods100, _ = regret_matrix(runs, 100.0)
    assert methods100 == ["ei-C2", "ei-C2-s100"]
    rows = {r["method"]: r for r in per_seed_rows(runs)}
    assert rows["ei-C2-s10"]["cost_s10"] == 70.0
    assert math.isnan(rows["ei-C2-s100"]["regret_at_cost_s10"])
    assert rows["ei-C2-s100"]["regret_at_cost_s100"] == 0.1


def test_heldout_suite_is_disjoint_from_the_tuning_suite() -> None:
    def family(entry: object) -> str:
        return type(entry.make()).__name__  # type: ignore[attr-defined]

    assert len(HELDOUT_SUITE) == 5 and not set(HELDOUT_SUITE) & set(NOISY_SUITE)
    assert not {family(p) for p in HELDOUT_SUITE.values()} & {
        family(p) for p in NOISY_SUITE.values()}
    assert set(suite_problems("heldout")) == set(HELDOUT_SUITE)
