"""bo.md "Cheaper UCB and TS decisions": each figure it quotes, recomputed from the JSON.

Sources: ``opt-time-300-cheap.json`` (CPU time, seed 0), ``opt-time-300.json`` (the
earlier TS), ``bo-suite.json`` (5 seeds; ``ts-C2`` is TS's current default,
``ts-C2-p1024-g1`` its earlier one) and ``bo-suite-seeds5-14.json`` (ten more seeds on four
problems, where the current TS ran as ``ts-C2-p512-g1.1``).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs" / "benchmarks"


def _load(name: str) -> dict:
    return json.loads((DOCS / name).read_text())


CHEAP = {(r["problem"], r["method"]): r for r in _load("opt-time-300-cheap.json")["summary"]}
EARLIER = {(r["problem"], r["method"]): r for r in _load("opt-time-300.json")["summary"]}
SUITE = _load("bo-suite.json")["per_seed"]
MORE = [dict(r, method="ts-C2" if r["method"] == "ts-C2-p512-g1.1" else r["method"])
        for r in _load("bo-suite-seeds5-14.json")["per_seed"]]
PROBLEMS = sorted({r["problem"] for r in SUITE})


def _ratios(method: str, table: dict = CHEAP) -> dict[str, float]:
    return {p: table[p, method]["vs_reference"] for p in PROBLEMS}


def _median(rows: list[dict], problem: str, method: str, key: str = "simple_regret") -> float:
    return statistics.median(r[key] for r in rows if (r["problem"], r["method"]) == (problem,
                                                                                     method))


def test_ts_now_is_below_gpsampler_everywhere_and_the_earlier_ts_was_not() -> None:
    now = _ratios("ts-C2-p512-g1.1")
    assert len(now) == 12 and (round(min(now.values()), 2), round(max(now.values()), 2)) == (
        0.13, 0.52)
    earlier = {p: r for p, r in _ratios("ts-C2", EARLIER).items() if r > 1}
    assert len(earlier) == 5 and round(max(earlier.values()), 2) == 2.11


def test_ucb_with_fewer_refits_is_at_most_gpsampler_but_loses_on_styblinski_tang() -> None:
    ucb = _ratios("ucb-C2-g1.1")
    assert max(ucb, key=ucb.__getitem__) == "levy10" and round(ucb["levy10"], 2) == 0.99
    assert round(min(ucb.values()), 2) == 0.10
    p = "styblinskitang5"
    now, before = _median(SUITE, p, "ucb-C2-g1.1"), _median(SUITE, p, "ucb-C2")
    assert (round(now, 1), round(before, 1), round(_median(SUITE, p, "random"), 1)) == (
        62.5, 30.1, 57.9)
    worst = sorted(r["simple_regret"] for r in SUITE if (r["problem"], r["method"]) == (
        p, "ucb-C2-g1.1"))[-2:]
    assert [round(v, 1) for v in worst] == [87.6, 119.2]


def test_ts_switches_and_the_refit_count() -> None:
    """At most about 36 refits: refit_growth 1.1 from a 10-evaluation design to 300."""
    import math

    from lowswitch.policies import LowSwitchGPTS

    assert LowSwitchGPTS.default_refit_growth == 1.1
    assert round(math.log(300 / 10) / math.log(1.1)) == 36


def test_the_five_seed_comparison() -> None:
    key = "regret_at_cost_s10"
    below = {p for p in PROBLEMS
             if _median(SUITE, p, "ts-C2") < _median(SUITE, p, "ts-C2-p1024-g1")}
    assert len(below) == 4
    below10 = {p for p in PROBLEMS if _median(SUITE, p, "ts-C2-s10", key)
               < _median(SUITE, p, "ts-C2-p1024-g1-s10", key)}
    assert len(below10) == 7


FIFTEEN = {  # problem: (earlier TS, TS now, random, ei-C2, ucb-C2); None: not run
    "ackley5": (6.99, 7.94, 16.2, 4.05, None),
    "michalewicz5": (1.99, 2.19, 2.87, 1.95, None),
    "rastrigin3": (19.1, 17.9, 13.3, 14.9, 10.5),
    "styblinskitang5": (16.4, 9.84, 52.3, 18.2, None),
}


@pytest.mark.parametrize("problem", sorted(FIFTEEN))
def test_fifteen_seed_medians(problem: str) -> None:
    methods = ("ts-C2-p1024-g1", "ts-C2", "random", "ei-C2", "ucb-C2")
    for m, quoted in zip(methods, FIFTEEN[problem], strict=True):
        extra = [r for r in MORE if (r["problem"], r["method"]) == (problem, m)]
        if quoted is None:
            assert not extra
            continue
        rows = [r for r in SUITE + MORE if (r["problem"], r["method"]) == (problem, m)]
        assert sorted(r["seed"] for r in rows) == list(range(15)), (problem, m)
        assert float(f"{statistics.median(r['simple_regret'] for r in rows):.3g}") == quoted


def test_what_fifteen_seeds_say() -> None:
    ratio = {p: v[1] / v[0] for p, v in FIFTEEN.items()}
    assert {p for p, r in ratio.items() if r < 1} == {"rastrigin3", "styblinskitang5"}
    assert (round(ratio["ackley5"], 2), round(ratio["michalewicz5"], 2)) == (1.14, 1.10)
    earlier, now, rnd, ei, ucb = FIFTEEN["rastrigin3"]
    assert min(earlier, now, ei) > rnd > ucb


def test_the_default_against_random_over_fifteen_seeds() -> None:
    rows = SUITE + MORE
    ratio = {}
    for p in PROBLEMS:
        ei = [r for r in rows if (r["problem"], r["method"]) == (p, "ei-C2")]
        rnd = [r for r in rows if (r["problem"], r["method"]) == (p, "random")]
        assert sorted(r["seed"] for r in ei) == sorted(r["seed"] for r in rnd) == list(range(15))
        ratio[p] = (statistics.median(r["simple_regret"] for r in ei)
                    / statistics.median(r["simple_regret"] for r in rnd))
    assert {p for p, v in ratio.items() if v >= 1} == {"rastrigin3"}
    assert round(ratio["rastrigin3"], 2) == 1.12
    others = [v for p, v in ratio.items() if p != "rastrigin3"]
    assert (round(min(others), 2), round(max(others), 2)) == (0.10, 0.68)
    assert (round(ratio["hartmann6"], 2), round(ratio["hartmann6-shift"], 2)) == (0.53, 0.57)
    five = _median(SUITE, "rastrigin3", "ei-C2") / _median(SUITE, "rastrigin3", "random")
    assert round(five, 2) == 0.36
    assert round(_median(SUITE, "hartmann6", "ei-C2") / _median(SUITE, "hartmann6", "random"),
                 2) == 0.95


def _table(header_start: str) -> list[list[str]]:
    """The body rows of the bo.md table whose header row starts with ``header_start``."""
    lines = [ln.strip() for ln in (DOCS / "bo.md").read_text().splitlines()]
    i = next(k for k, ln in enumerate(lines) if ln.startswith(header_start))
    rows = []
    for ln in lines[i + 2:]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip().strip("`*") for c in ln.strip("|").split("|")])
    return rows


def _g(value: float) -> str:
    return f"{value:.3g}"


def test_the_time_table_is_the_json() -> None:
    rows = _table("| problem | earlier TS (`ts-C2-p1024-g1`)")
    assert len(rows) == 12
    for p, *cells in rows:
        for cell, r in zip(cells[:3], (EARLIER[p, "ts-C2"], CHEAP[p, "ts-C2-p512-g1.1"],
                                       CHEAP[p, "ucb-C2-g1.1"]), strict=True):
            assert cell == (f"{r['cpu_ms_per_eval']:.1f} ms ({r['switches']:.0f}; "
                            f"{r['vs_reference']:.2f}x)"), (p, cell)
        assert cells[3] == f"{CHEAP[p, 'optuna-gp']['cpu_ms_per_eval']:.1f} ms"


def test_the_five_seed_regret_table_is_the_json() -> None:
    rows = _table("| problem | earlier TS | TS now | random | earlier TS switches")
    assert [r[0] for r in rows] == PROBLEMS
    key = "regret_at_cost_s10"
    for p, *cells in rows:
        want = [_g(_median(SUITE, p, "ts-C2-p1024-g1")), _g(_median(SUITE, p, "ts-C2")),
                _g(_median(SUITE, p, "random")),
                f"{_median(SUITE, p, 'ts-C2-p1024-g1', 'switches'):.0f}",
                f"{_median(SUITE, p, 'ts-C2', 'switches'):.0f}",
                _g(_median(SUITE, p, "ts-C2-p1024-g1-s10", key)),
                _g(_median(SUITE, p, "ts-C2-s10", key)),
                _g(_median(SUITE, p, "ucb-C2")), _g(_median(SUITE, p, "ucb-C2-g1.1"))]
        assert cells == want, p


def test_the_fifteen_seed_tables_are_the_json() -> None:
    rows = _table("| problem | earlier TS | TS now | random | `ei-C2` | `ucb-C2` |")
    assert {r[0]: tuple(None if c == "-" else float(c) for c in r[1:]) for r in rows} == FIFTEEN
    rows = _table("| problem | `ei-C2`, seeds 0-4 |")
    assert [r[0] for r in rows] == PROBLEMS
    both = SUITE + MORE
    for p, *cells in rows:
        ei, rnd = _median(both, p, "ei-C2"), _median(both, p, "random")
        assert cells == [_g(_median(SUITE, p, "ei-C2")), _g(_median(SUITE, p, "random")),
                         _g(ei), _g(rnd), f"{ei / rnd:.2f}"], p
