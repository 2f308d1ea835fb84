"""The held-out check in ``docs/benchmarks/bo.md`` holds for ``docs/benchmarks/bo-heldout.json``."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from lowswitch.benchmark.suite import HELDOUT_SUITE

ROWS = json.loads(
    (Path(__file__).parents[2] / "docs" / "benchmarks" / "bo-heldout.json").read_text()
)["per_seed"]


def _runs(problem: str, method: str) -> list[dict]:
    runs = [r for r in ROWS if (r["problem"], r["method"]) == (problem, method)]
    assert len(runs) == 5 and {r["budget"] for r in runs} == {300}
    return runs


def _median(problem: str, method: str) -> float:
    return statistics.median(r["simple_regret"] for r in _runs(problem, method))


def test_each_acquisition_beats_random_on_four_of_five() -> None:
    assert {r["problem"] for r in ROWS} == set(HELDOUT_SUITE)
    worse = {m: {p for p in HELDOUT_SUITE if _median(p, m) >= _median(p, "random")}
             for m in ("ei-C2", "ucb-C2", "ts-C2", "ts-C2-p1024-g1")}
    assert worse == {"ei-C2": {"eggholder"}, "ucb-C2": {"shekel"}, "ts-C2": {"shekel"},
                     "ts-C2-p1024-g1": {"shekel"}}


def test_current_ts_against_the_earlier_one() -> None:
    """``ts-C2`` (pool 512 + 256, refit_growth 1.1) and the earlier default, as bo.md quotes."""
    quoted = {"dixonprice4": (245, 1390), "eggholder": (72.4, 90.0), "powell4": (871, 279),
              "shekel": (9.84, 10.2), "sixhumpcamel": (1.12, 0.464)}
    for p, (now, then) in quoted.items():
        assert float(f"{_median(p, 'ts-C2'):.3g}") == now, p
        assert float(f"{_median(p, 'ts-C2-p1024-g1'):.3g}") == then, p


def test_how_they_lose() -> None:
    stuck = [r for r in _runs("eggholder", "ei-C2") if r["simple_regret"] > 300]
    assert len(stuck) == 3
    assert (round(min(r["simple_regret"] for r in stuck)),
            round(max(r["simple_regret"] for r in stuck))) == (357, 462)
    assert {r["switches"] for r in stuck} <= set(range(22, 26))
    assert round(_median("eggholder", "ei-C2")) == 357
    assert round(_median("eggholder", "random")) == 174
    medians = [_median("shekel", m)
               for m in ("ei-C2", "ucb-C2", "ts-C2", "ts-C2-p1024-g1", "random")]
    assert round(min(medians), 1) == 9.7 and round(max(medians), 1) == 10.2
    assert round(HELDOUT_SUITE["shekel"].f_range, 1) == 10.4
