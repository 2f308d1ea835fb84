"""Statistics of the GRPO study (mopps.benchmark.report), against naive references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mopps.benchmark.report import (
    accuracy_at,
    bootstrap_median_ci,
    calibration_bins,
    format_table,
    rollouts_to_target,
    summarise,
)

CURVE = [
    {"step": 0, "rollouts": 0, "wall_s": 0.0, "heldout": 0.30, "pool": 0.20},
    {"step": 10, "rollouts": 640, "wall_s": 3.0, "heldout": 0.36, "pool": 0.25},
    {"step": 20, "rollouts": 1280, "wall_s": 6.0, "heldout": 0.33, "pool": 0.40},
    {"step": 30, "rollouts": 1920, "wall_s": 9.0, "heldout": 0.50, "pool": 0.45},
]


def test_rollouts_to_target_is_the_first_crossing():
    assert rollouts_to_target(CURVE, 0.35) == 640.0  # not the later dip and recovery
    assert rollouts_to_target(CURVE, 0.30) == 0.0
    assert rollouts_to_target(CURVE, 0.40, key="pool") == 1280.0
    assert rollouts_to_target(CURVE, 0.51) == math.inf


def test_accuracy_at_interpolates_and_is_nan_past_the_run():
    assert accuracy_at(CURVE, 320) == pytest.approx(0.33)
    assert accuracy_at(CURVE, 1920) == 0.50
    assert accuracy_at(CURVE, 1600, key="pool") == pytest.approx(0.425)
    assert math.isnan(accuracy_at(CURVE, 2000))


def test_bootstrap_matches_a_naive_loop_and_handles_censoring():
    values = [100.0, 300.0, 200.0, math.inf, 250.0]
    med, lo, hi = bootstrap_median_ci(values, n_boot=500, seed=3)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 5, size=(500, 5))
    boots = sorted(float(np.median([values[j] for j in row])) for row in idx)
    assert med == 250.0
    # percentile interval by the inverted CDF: the ceil(n q)-th order statistic
    assert lo == boots[math.ceil(500 * 0.025) - 1] and hi == boots[math.ceil(500 * 0.975) - 1]
    assert hi == math.inf  # a resample with three censored seeds has median inf
    assert bootstrap_median_ci([math.inf] * 3)[0] == math.inf
    assert bootstrap_median_ci([7.0] * 4) == (7.0, 7.0, 7.0)


def test_calibration_bins_against_a_naive_loop():
    rng = np.random.default_rng(0)
    pairs = [(float(p), float(o)) for p, o in zip(rng.random(200), rng.random(200), strict=True)]
    bins = calibration_bins(pairs, n_bins=4)
    for b in bins:
        members = [(p, o) for p, o in pairs if b["lo"] <= p < b["hi"]]  # no p == 1 here
        assert b["n"] == len(members)
        assert b["predicted"] == pytest.approx(np.mean([p for p, _ in members]))
        assert b["observed"] == pytest.approx(np.mean([o for _, o in members]))
    assert sum(b["n"] for b in bins) == 200


def test_summarise_and_table():
    late = [dict(p, heldout=p["heldout"] - 0.1) for p in CURVE]
    runs = [
        {"method": "a", "seed": s, "curve": CURVE, "informative_fraction": 0.5,
         "step_seconds": 0.3, "spearman": 0.4} for s in range(3)
    ] + [
        {"method": "b", "seed": s, "curve": late, "informative_fraction": 0.2,
         "step_seconds": 0.2} for s in range(3)
    ]
    # target = each run's start + gain: 0.30 + 0.05 for a, 0.20 + 0.05 for b
    table = summarise(runs, gain=0.05, budget=1920)
    assert table["a"]["rollouts_to_target"] == 640.0 and table["a"]["reached"] == 3
    assert table["b"]["rollouts_to_target"] == 640.0
    assert table["a"]["heldout_at_budget"] == 0.5 and table["a"]["spearman"] == 0.4
    assert math.isnan(table["b"]["spearman"])
    never = summarise(runs, gain=0.6, budget=1920)
    text = format_table(never, 0.6, 1920)
    assert "never [never, never] | 0/3" in text and text.count("\n") == 3


def test_level_table_sums_groups_over_seeds():
    from mopps.benchmark.report import format_levels

    curve = [{"heldout_by_level": [0.5, 0.0]}, {"heldout_by_level": [0.75, 0.25]}]
    runs = [
        {"method": "m", "curve": curve, "groups_by_level": [3, 1], "informative_by_level": [3, 0]},
        {"method": "m", "curve": curve, "groups_by_level": [1, 3], "informative_by_level": [0, 3]},
    ]
    rows = format_levels(runs, ["a", "b"]).splitlines()
    assert rows[2] == "| held-out accuracy at start | 0.50 | 0.00 |"
    assert rows[3] == "| m | 0.50 (0.75) -> 0.75 | 0.50 (0.75) -> 0.25 |"
