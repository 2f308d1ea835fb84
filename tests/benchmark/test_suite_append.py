"""``suite-append``: new runs join a stored suite table at its stored equal-cost points."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lowswitch.benchmark.bo import RunResult
from lowswitch.benchmark.suite_append import append_runs, main, parse_renames
from lowswitch.errors import InputError


def _stored() -> dict:
    rows = [{"problem": "p", "method": m, "seed": 0, "budget": 6, "evaluations": 6,
             "switches": 2, "simple_regret": 0.5, "wall_time_s": 1.0,
             "cost_s10": 26.0, "regret_at_cost_s10": 0.7,
             "cost_s100": 206.0, "regret_at_cost_s100": 0.7} for m in ("ei-C2", "ts-C2")]
    return {"acceptance": [{"problem": "p", "default": 0.5}], "per_seed": rows}


def _run(method: str, switches: int = 3, seed: int = 0, problem: str = "p") -> RunResult:
    trace = [[2, 1, 0.9, 0.0], [4, 2, 0.4, 0.0], [6, switches, 0.2, 0.0]]
    return RunResult(problem, method, 6, seed, evaluations=6, switches=switches, trace=trace,
                     simple_regret=0.2)


def test_rows_are_renamed_and_new_runs_scored_at_the_stored_cost_points() -> None:
    stored = _stored()
    table = append_runs(stored, [_run("ts-C2-p512-g1.1")], {"ts-C2-p512-g1.1": "ts-C2"},
                        {"ts-C2": "ts-C2-p1024-g1"})
    methods = [r["method"] for r in table["per_seed"]]
    assert methods == ["ei-C2", "ts-C2", "ts-C2-p1024-g1"]
    new = table["per_seed"][1]
    # stored point 26 at s = 10: the trace reaches 4 + 10 * 2 = 24 <= 26 < 6 + 10 * 3
    assert (new["cost_s10"], new["regret_at_cost_s10"]) == (26.0, 0.4)
    assert (new["cost_s100"], new["regret_at_cost_s100"]) == (206.0, 0.4)
    assert new["simple_regret"] == 0.2 and new["switches"] == 3
    assert table["acceptance"] == stored["acceptance"]
    assert [r["method"] for r in stored["per_seed"]] == ["ei-C2", "ts-C2"]  # not modified


def test_a_declared_cost_is_scored_only_at_its_own_cost() -> None:
    table = append_runs(_stored(), [_run("ts-C2-s10")], {}, {})
    row = next(r for r in table["per_seed"] if r["method"] == "ts-C2-s10")
    assert row["regret_at_cost_s10"] == 0.4 and math.isnan(row["regret_at_cost_s100"])


@pytest.mark.parametrize(
    ("runs", "rename", "rename_stored", "match"),
    [
        ([_run("ts-C2")], {}, {}, "already stored"),
        ([_run("ei-C2", seed=1)], {}, {}, "acceptance rows"),
        ([_run("x-C2")], {"x-C2": "random"}, {}, "acceptance rows"),
        ([_run("ts-C9")], {}, {"ei-C2": "ei-old"}, "acceptance rows"),
        ([_run("ts-C9", problem="q")], {}, {}, "no problem 'q'"),
        ([_run("ts-C9", switches=1)], {}, {}, "below the stored|< the stored"),
        ([], {}, {"ts-C2": "ei-C2"}, "same name|acceptance"),
    ],
)
def test_refusals(runs: list[RunResult], rename: dict, rename_stored: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        append_runs(_stored(), runs, rename, rename_stored)


def test_parse_renames_refuses_malformed_pairs() -> None:
    for bad in (["a"], ["=b"], ["a="], ["a=b", "a=c"]):
        with pytest.raises(InputError, match="OLD=NEW"):
            parse_renames(bad)


def test_command_rewrites_the_table_and_leaves_it_alone_on_error(tmp_path: Path) -> None:
    into = tmp_path / "suite.json"
    into.write_text(json.dumps(_stored()))
    runs = tmp_path / "results.json"
    runs.write_text(json.dumps({"runs": [vars(_run("ucb-C2"))]}))
    assert main(["--into", str(into), "--runs", str(runs)]) == 0
    assert len(json.loads(into.read_text())["per_seed"]) == 3
    before = into.read_text()
    assert main(["--into", str(into), "--runs", str(runs)]) == 2   # already stored
    assert into.read_text() == before
