"""The BO page's "A policy rebuilt for every decision" table holds for ``bo-rebuild.json``
(kept-policy runs of ``bo-suite-stay.json`` beside the ``-b`` runs, seeds 0-4)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs" / "benchmarks"
DATA = json.loads((DOCS / "bo-rebuild.json").read_text())
ROWS = DATA["per_seed"] + DATA["heldout_per_seed"]
PROBLEMS = ("branin", "hartmann3", "hartmann6", "levy4")
HELDOUT = ("dixonprice4", "eggholder", "powell4", "shekel", "sixhumpcamel")


def _median(problem: str, method: str, key: str) -> float:
    values = [r[key] for r in ROWS if (r["problem"], r["method"]) == (problem, method)]
    assert len(values) == 5, (problem, method)
    return statistics.median(values)


def test_the_table_cell_by_cell() -> None:
    page = (DOCS / "bo.md").read_text()
    for p in PROBLEMS + HELDOUT:
        cells = [f"{_median(p, 'ei-C2-b', 'switches'):.0f}",
                 f"{_median(p, 'ei-C2-s100-b', 'switches'):.0f}"]
        cells += [f"{_median(p, m, 'regret_at_cost_s100'):.3g}"
                  for m in ("ei-C2-b", "ei-C2-s100-b", "ei-C2-s100")]
        assert f"| `{p}` | " + " | ".join(cells) + " |" in page, (p, cells)


def test_the_sentences_under_it() -> None:
    at = {(p, m): _median(p, m, "regret_at_cost_s100") for p in PROBLEMS
          for m in ("ei-C2-b", "ei-C2-s100-b", "ei-C2-s100")}
    below = {p for p in PROBLEMS if at[p, "ei-C2-s100-b"] < at[p, "ei-C2-b"]}
    assert below == {"branin", "hartmann3", "hartmann6"}
    kept = {p for p in PROBLEMS if at[p, "ei-C2-s100"] < at[p, "ei-C2-s100-b"]}
    assert len(kept) == 3
    halves = [_median(p, "ei-C2-s100-b", "switches") / _median(p, "ei-C2-b", "switches")
              for p in PROBLEMS]
    assert all(0.4 <= h <= 0.6 for h in halves), halves


def test_the_held_out_sentences() -> None:
    at = {(p, m): _median(p, m, "regret_at_cost_s100") for p in HELDOUT
          for m in ("ei-C2-b", "ei-C2-s100-b", "ei-C2-s100")}
    assert {p for p in HELDOUT if at[p, "ei-C2-s100-b"] < at[p, "ei-C2-b"]} == set(HELDOUT) - {
        "shekel"}
    kept = {p for p in HELDOUT if at[p, "ei-C2-s100"] < at[p, "ei-C2-s100-b"]}
    assert kept == {"dixonprice4", "powell4", "shekel"}
    assert at["shekel", "ei-C2-s100"] / at["shekel", "ei-C2-s100-b"] > 0.99
    fractions = [_median(p, "ei-C2-s100-b", "switches") / _median(p, "ei-C2-b", "switches")
                 for p in HELDOUT]
    assert [round(f, 2) for f in (min(fractions), max(fractions))] == [0.30, 0.67]
