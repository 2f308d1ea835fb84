"""The BO page's and the tuning guide's paired-by-seed figures hold for the stored JSON.

``bo-paired.json`` and ``bo-paired-optuna.json`` must be what ``paired`` computes from the
stored ten-seed rows (``bo-suite-stay-10seeds.json``); the held-out and UCB/TS figures are
recomputed from their stored rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lowswitch.benchmark.paired import load_rows, paired_rows, parse_comparison

DOCS = Path(__file__).parents[2] / "docs" / "benchmarks"
PAGE = (DOCS / "bo.md").read_text()
GUIDE = (DOCS.parent / "guides" / "tuning.md").read_text()
TEN = load_rows([str(DOCS / "bo-suite-stay-10seeds.json")])


def _pooled(table: list[dict]) -> tuple[int, int, int, float]:
    row = table[-1]
    assert row["problem"] == "all"
    return row["wins"], row["losses"], row["ties"], row["p"]


@pytest.mark.parametrize("name", ["bo-paired.json", "bo-paired-optuna.json"])
def test_the_stored_tables_are_what_the_tool_computes(name: str) -> None:
    stored = json.loads((DOCS / name).read_text())["comparisons"]
    for table in stored:
        a, b, s = table[0]["a"], table[0]["b"], table[0]["s"]
        fresh = paired_rows(TEN, a, b, s)
        assert len(fresh) == len(table) == 13
        for x, y in zip(fresh, table, strict=True):
            assert x["problem"] == y["problem"]
            assert (x["wins"], x["losses"], x["ties"]) == (y["wins"], y["losses"], y["ties"])
            assert x["p"] == pytest.approx(y["p"])
            assert x["ratio"] == pytest.approx(y["ratio"])


@pytest.mark.parametrize(("spec", "wins", "losses", "ties", "p", "geo"), [
    ("ei-C2-s10:ei-C2@10", 57, 62, 1, "0.71", "1.02"),
    ("ei-C2-s100:ei-C2@100", 89, 31, 0, "1.1e-07", "0.55"),
    ("ei-C2-s10:optuna-gp@10", 88, 32, 0, "3.2e-07", "0.53"),
    ("ei-C2-s10:optuna-tpe@10", 92, 28, 0, "3.8e-09", "0.54"),
    ("ei-C2-s100:optuna-gp@100", 94, 26, 0, "3.1e-10", "0.42"),
    ("ei-C2-s100:optuna-tpe@100", 92, 28, 0, "3.8e-09", "0.36"),
    ("ei-C2:optuna-gp", 74, 46, 0, "0.013", "0.74"),
    ("ei-C2:optuna-tpe", 78, 42, 0, "0.0013", "0.62"),
])
def test_the_pooled_table(spec: str, wins: int, losses: int, ties: int, p: str, geo: str) -> None:
    table = paired_rows(TEN, *parse_comparison(spec))
    assert _pooled(table)[:3] == (wins, losses, ties)
    assert f"{table[-1]['p']:.2g}" == p
    assert f"{table[-1]['ratio']:.2f}" == geo
    assert f"| {wins} | {losses} | {ties} | {p} | {geo} |" in PAGE


def test_s10_splits_none_significant_and_the_five_named() -> None:
    table = {r["problem"]: r for r in paired_rows(TEN, "ei-C2-s10", "ei-C2", 10.0)}
    del table["all"]
    assert min(r["p"] for r in table.values()) > 0.1
    splits = {p: (table[p]["wins"], table[p]["losses"])
              for p in ("branin", "griewank6", "levy10", "levy4", "rosenbrock4")}
    assert splits == {"branin": (3, 6), "griewank6": (2, 8), "levy10": (3, 7),
                      "levy4": (3, 7), "rosenbrock4": (3, 7)}
    ps = [table[p]["p"] for p in splits]
    assert f"{min(ps):.2f}" == "0.11" and f"{max(ps):.2f}" == "0.51"
    assert "3-6, 2-8, 3-7, 3-7 and 3-7 (p = 0.11-0.51)" in PAGE
    assert "even at s = 10 (57\n  pairs below, 62 above" in PAGE


def test_s100_significant_problems() -> None:
    table = [r for r in paired_rows(TEN, "ei-C2-s100", "ei-C2", 100.0) if r["problem"] != "all"]
    sig = {r["problem"]: (r["wins"], r["losses"]) for r in table if r["p"] < 0.05}
    assert sig == {"griewank6": (9, 1), "levy10": (9, 1), "levy4": (10, 0), "rastrigin3": (9, 1)}


def test_no_significant_loss_against_any_optuna_sampler() -> None:
    for spec in ("ei-C2:optuna-gp", "ei-C2:optuna-tpe", "ei-C2-s10:optuna-gp@10",
                 "ei-C2-s10:optuna-tpe@10", "ei-C2-s100:optuna-gp@100",
                 "ei-C2-s100:optuna-tpe@100"):
        rows = [r for r in paired_rows(TEN, *parse_comparison(spec)) if r["problem"] != "all"]
        significant = [r for r in rows if r["p"] < 0.05]
        assert all(r["wins"] > r["losses"] for r in significant), spec
        n = len(significant)
        assert (1 <= n <= 2) if spec.startswith("ei-C2:") else (4 <= n <= 6), (spec, n)


def test_heldout_and_ucb_ts_figures() -> None:
    held = load_rows([str(DOCS / "bo-heldout-cost.json")])
    assert _pooled(paired_rows(held, "ei-C2-s100", "ei-C2", 100.0))[:2] == (18, 7)
    assert f"{_pooled(paired_rows(held, 'ei-C2-s100', 'ei-C2', 100.0))[3]:.2g}" == "0.043"
    assert _pooled(paired_rows(held, "ei-C2-s10", "ei-C2", 10.0))[:2] == (9, 16)
    assert f"{_pooled(paired_rows(held, 'ei-C2-s10', 'ei-C2', 10.0))[3]:.2f}" == "0.23"
    ucb_ts = load_rows([str(DOCS / "bo-suite-stay-ucb-ts.json"),
                        str(DOCS / "bo-suite-stay-ucb-ts-6more.json")])
    ucb = paired_rows(ucb_ts, "ucb-C2-s10", "ucb-C2", 10.0)
    ts = paired_rows(ucb_ts, "ts-C2-s10", "ts-C2", 10.0)
    assert len(ucb) == len(ts) == 13  # all twelve problems, then the pooled row
    assert _pooled(ucb)[:2] == (31, 29) and f"{_pooled(ucb)[3]:.2f}" == "0.90"
    assert _pooled(ts)[:2] == (33, 27) and f"{_pooled(ts)[3]:.2f}" == "0.52"
    for text in ("18 of 25 pairs (7 above, p = 0.043)", "9 (16 above, p = 0.23)",
                 "in 31 pairs and above in 29 (p = 0.90)", "in 33 and above in 27 (p = 0.52)"):
        assert text in PAGE


def test_the_guide_states_the_same_counts() -> None:
    for text in ("**89** of\n    the 120", "and in 31 the higher", "(sign test p = 1.1e-7",
                 "lower in **57** and higher in 62 (p = 0.71)", "88 (`GPSampler`) and 92 (TPE)",
                 "in 94 and 92 at s = 100"):
        assert text in GUIDE, text
    row = paired_rows(TEN, "ei-C2-s100", "ei-C2", 100.0)[-1]
    assert f"{row['p']:.2g}" == "1.1e-07"


@pytest.mark.parametrize(("name", "cost", "blind", "aware"), [
    ("blocks-levy4-s10.json", 570.0, (0, 0, 38.5, 163, "1.72"), (9.5, 18, 39.5, 152, "2.39")),
    ("blocks-rosenbrock4-s10.json", 660.0, (0, 0, 50, 145.5, "33.1"),
     (6.5, 6.5, 46, 172.5, "48.3")),
])
def test_where_the_extra_looks_go(name: str, cost: float, blind: tuple, aware: tuple) -> None:
    data = json.loads((DOCS / name).read_text())
    assert float(data["args"]["cost"]) == cost and float(data["args"]["s"]) == 10.0
    assert sorted({r["seed"] for r in data["runs"]}) == list(range(10))
    for method, want in (("ei-C2", blind), ("ei-C2-s10", aware)):
        med = data["medians"][method]
        got = (med["stays"], med["stay_evaluations"], med["switches"], med["evaluations"],
               f"{med['recommendation']:.3g}")
        assert got == want, (name, method)
