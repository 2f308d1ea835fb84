"""The GP-UCB width claims (maths page, planner docstring, campaign guide) hold for
``docs/benchmarks/ucb-width.json`` and for the suite's random-search rows."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs" / "benchmarks"
WIDTH = json.loads((DOCS / "ucb-width.json").read_text())
SUITE = json.loads((DOCS / "bo-suite.json").read_text())


def _random(problem: str) -> float:
    return statistics.median(r["simple_regret"] for r in SUITE["per_seed"]
                             if (r["problem"], r["method"]) == (problem, "random"))


def _ucb(scale: str, problem: str, key: str = "simple_regret") -> list[float]:
    return [r[key] for r in WIDTH["suite"][scale] if r["problem"] == problem]


def test_suite_widths() -> None:
    problems = {r["problem"] for r in WIDTH["suite"]["0.1"]}
    assert len(problems) == 12
    lose = {s: {p for p in problems if statistics.median(_ucb(s, p)) >= _random(p)}
            for s in ("0.2", "0.1", "0.07")}
    assert lose == {"0.2": {"rastrigin3", "styblinskitang5"}, "0.1": set(), "0.07": {"ackley5"}}
    assert round(statistics.median(_ucb("0.2", "rastrigin3")), 1) == 37.6
    assert round(statistics.median(_ucb("0.2", "styblinskitang5")), 1) == 63.1
    assert round(_random("rastrigin3"), 1) == 22.9 and round(_random("styblinskitang5"), 1) == 57.9
    plateau = _ucb("0.07", "ackley5")
    assert sum(v > 20 for v in plateau) == 4 and round(statistics.median(plateau), 1) == 21.3
    assert round(statistics.median(_ucb("0.1", "rastrigin3")), 1) == 12.1
    assert round(statistics.median(_ucb("0.1", "styblinskitang5")), 1) == 30.1


def _reach(scale: str, part: str = "campaign") -> tuple[int, float, float]:
    camp = WIDTH[part][scale]
    switches, wells = [], []
    for run in camp["per_seed"]:
        hit = next((k for k, v in enumerate(run["rec_true"]) if v >= camp["target"]), None)
        switches.append(math.inf if hit is None else run["switches"][hit])
        wells.append(math.inf if hit is None else run["wells"][hit])
    reached = sum(w < math.inf for w in wells)
    return reached, statistics.median(switches), statistics.median(wells)


def test_campaign_widths() -> None:
    assert len(WIDTH["campaign"]["0.2"]["per_seed"]) == 10
    assert _reach("0.1")[0] == 5
    assert _reach("0.2") == (8, 16, 40)
    assert _reach("0.3") == (9, 47.5, 124)
    stuck = [r["best_tested_true"][-1] for r in WIDTH["campaign"]["0.1"]["per_seed"]]
    assert sum(v < 60 for v in stuck) == 2


def test_plates_of_24_widths() -> None:
    part = "campaign_plates_of_24"
    assert len(WIDTH[part]["0.3"]["per_seed"]) == 10
    assert _reach("0.2", part)[0] == 4 and _reach("0.4", part)[0] == 4
    reached, _, wells = _reach("0.3", part)
    assert (reached, wells) == (6, 156)
