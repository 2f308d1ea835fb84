"""bo.md "UCB's decision time" and the s = 10 ten-seed check, recomputed from the JSON.

Sources: ``ucb-fit-tolerance.json`` (UCB with ``fit_tolerance`` 1e-4, 5 seeds, all 12
suite problems), ``bo-suite.json`` (the default UCB and random search, same seeds), the
``opt-time-300-ucb*.json`` summaries and ``ucb-decision-ab.json`` (CPU time, seed 0), and
``bo-suite-cost-seeds5-14.json`` (seeds 5-14 of branin and levy10 at equal total cost).
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs" / "benchmarks"
SUITE = json.loads((DOCS / "bo-suite.json").read_text())["per_seed"]
LOOSE = json.loads((DOCS / "ucb-fit-tolerance.json").read_text())["per_seed"]
PROBLEMS = sorted({r["problem"] for r in SUITE})


def _median(rows: list[dict], problem: str, method: str, key: str = "simple_regret") -> float:
    return statistics.median(r[key] for r in rows
                             if (r["problem"], r["method"]) == (problem, method))


def _table() -> dict[str, list[str]]:
    out = {}
    for p in PROBLEMS:
        a, b = _median(SUITE, p, "ucb-C2"), _median(LOOSE, p, "ucb-C2-f0.0001")
        out[p] = [f"{a:.3g}", f"{b:.3g}", f"{b / a:.2f}", f"{_median(SUITE, p, 'random'):.3g}",
                  f"{_median(SUITE, p, 'ucb-C2', 'switches'):.0f} / "
                  f"{_median(LOOSE, p, 'ucb-C2-f0.0001', 'switches'):.0f}"]
    return out


def test_the_runs_are_complete() -> None:
    assert {r["problem"] for r in LOOSE} == set(PROBLEMS) and len(PROBLEMS) == 12
    assert len(LOOSE) == 60 and all(r["completed"] and r["evaluations"] == 300 for r in LOOSE)


def test_the_docs_table_matches_the_json_cell_by_cell() -> None:
    text = (DOCS / "bo.md").read_text()
    section = text.split("### UCB's decision time", 1)[1].split("\n### ", 1)[0]
    rows = {m.group(1): [c.strip() for c in m.group(2).split("|")]
            for m in re.finditer(r"^\| `([a-z0-9-]+)` \|(.*)\|$", section, re.M)}
    assert rows == _table()


def test_the_looser_fit_is_worse_on_more_problems_and_still_beats_random() -> None:
    ratio = {p: _median(LOOSE, p, "ucb-C2-f0.0001") / _median(SUITE, p, "ucb-C2")
             for p in PROBLEMS}
    assert sum(r < 1 for r in ratio.values()) == 5 and sum(r > 1 for r in ratio.values()) == 7
    assert {p for p, r in ratio.items() if r > 1.8} == {
        "hartmann6", "hartmann6-shift", "levy10", "rosenbrock4"}
    assert all(_median(LOOSE, p, "ucb-C2-f0.0001") < _median(SUITE, p, "random")
               for p in PROBLEMS)


def _summary(name: str) -> dict[tuple[str, str], dict]:
    rows = json.loads((DOCS / name).read_text())["summary"]
    return {(r["problem"], r["method"]): r for r in rows}


def test_ucb_time_after_the_change_is_above_gpsampler_on_two_problems() -> None:
    lean = _summary("opt-time-300-ucb-lean.json")
    ratio = {p: lean[p, "ucb-C2"]["vs_reference"] for p in PROBLEMS}
    above = {p: round(r, 2) for p, r in ratio.items() if r > 1}
    assert above == {"styblinskitang5": 1.42, "levy10": 1.18}
    assert [lean[p, "ucb-C2"]["switches"] for p in ("styblinskitang5", "levy10")] == [290, 271]
    earlier = _summary("opt-time-300-ucb.json")
    assert round(earlier["levy10", "ucb-C2"]["vs_reference"], 2) == 0.28


def test_the_before_and_after_table_matches_its_json() -> None:
    ab = json.loads((DOCS / "ucb-decision-ab.json").read_text())["runs"]
    section = (DOCS / "bo.md").read_text().split("### UCB's decision time", 1)[1]
    for run in ab:
        cells = (f"| {run['round']} | {run['code']} | {run['ucb_ms_per_eval']:.1f} | "
                 f"{run['gpsampler_ms_per_eval']:.1f} | {run['ratio']:.2f} | "
                 f"{run['switches']} |")
        assert cells in section, cells
    before = [r["ucb_ms_per_eval"] for r in ab if r["code"] == "fb5561e"]
    after = [r["ucb_ms_per_eval"] for r in ab if r["code"] != "fb5561e"]
    assert len(before) == len(after) == 2 and max(after) < min(before)


def test_the_earlier_levy10_timing_switched_less() -> None:
    earlier = _summary("opt-time-300-ucb.json")["levy10", "ucb-C2"]
    assert earlier["switches"] == 87


def test_the_looser_fit_is_cheaper_and_still_above_gpsampler_on_styblinski_tang() -> None:
    run = _summary("opt-time-300-ucb-f0.0001.json")
    p = "styblinskitang5"
    ms = [round(run[p, m]["cpu_ms_per_eval"], 1) for m in ("ucb-C2-f0.0001", "ucb-C2",
                                                             "optuna-gp")]
    assert ms == [83.2, 108.4, 76.0]
    assert round(run[p, "ucb-C2-f0.0001"]["vs_reference"], 2) == 1.10
    assert run[p, "ucb-C2-f0.0001"]["switches"] == run[p, "ucb-C2"]["switches"] == 290


def test_ten_more_seeds_at_equal_cost_on_branin_and_levy10() -> None:
    """bo.md, the s = 10 target: the figures of seeds 5-14 on the two low-noise problems."""
    data = json.loads((DOCS / "bo-suite-cost-seeds5-14.json").read_text())
    acc = {a["problem"]: a for a in data["acceptance"]}
    b, lv = acc["branin"], acc["levy10"]
    assert round(b["s10_vs_best_other"], 2) == 3.24 and round(b["s10_regret"], 2) == 1.09
    assert round(lv["s10_vs_best_other"], 2) == 1.10 and not lv["s10_below_all"]
    assert round(lv["s10_regret"], 2) == 7.01
    assert round(lv["s100_vs_best_other"], 2) == 1.13
    # the best other (the cost-blind ei-C2 on both) = regret / ratio
    assert round(b["s10_regret"] / b["s10_vs_best_other"], 3) == 0.338
    assert round(lv["s10_regret"] / lv["s10_vs_best_other"], 2) == 6.40
    runs = data["per_seed"]
    assert len(runs) == 100 and all(r["evaluations"] == 300 for r in runs)
    assert {r["seed"] for r in runs} == set(range(5, 15))

    def switches(m: str) -> list[int]:
        return [r["switches"] for r in runs if (r["problem"], r["method"]) == ("branin", m)]

    assert (min(switches("ei-C2-s10")), max(switches("ei-C2-s10"))) == (15, 44)
    assert (min(switches("ei-C2")), max(switches("ei-C2"))) == (18, 38)


def test_the_block_replay_on_branin() -> None:
    """bo.md, the s = 10 target: where the cost-aware EI spent its evaluations on branin."""
    data = json.loads((DOCS / "blocks-branin-s10.json").read_text())
    med = data["medians"]
    blind, aware = med["ei-C2"], med["ei-C2-s10"]
    assert (aware["evaluations_on_bad"], blind["evaluations_on_bad"]) == (25.0, 13.5)
    assert (aware["repeats_on_bad"], blind["repeats_on_bad"]) == (13.5, 1.0)
    assert (aware["switches"], blind["switches"]) == (25.5, 27.0)
    assert (round(aware["best_evaluated"], 3), round(blind["best_evaluated"], 3)) == (
        0.545, 0.189)
    assert (round(aware["recommendation"], 2), round(blind["recommendation"], 3)) == (
        1.09, 0.338)
    assert len(data["runs"]) == 20 and {r["seed"] for r in data["runs"]} == set(range(5, 15))
    assert all(r["evaluations"] + 10 * r["switches"] <= 450 for r in data["runs"])
    # the replay's recommendations are the equal-cost figures of the bo runs (same seeds)
    acc = {a["problem"]: a for a in json.loads(
        (DOCS / "bo-suite-cost-seeds5-14.json").read_text())["acceptance"]}
    assert round(acc["branin"]["s10_regret"], 3) == round(aware["recommendation"], 3)
