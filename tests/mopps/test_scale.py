"""Smoke and bookkeeping tests of ``python -m mopps.scale``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lowswitch.bandit import BetaArms
from mopps.scale import STATES, _put_in_state, float32_drift, run_cell
from mopps.selector import PromptSelector


def test_states_touch_the_stated_share_of_prompts():
    rng = np.random.default_rng(0)
    for state, share in zip(STATES, (0.0, 0.1, 1.0), strict=True):
        sel = PromptSelector(1_000, seed=0)
        _put_in_state(sel, state, rng)
        moved = (sel.alpha + sel.beta > 2.0).float().mean().item()
        assert moved == pytest.approx(share)


def test_cell_reports_every_state_with_memory_and_ratios():
    rows = run_cell(20_000, batch=16, reps=1, with_float32=True)
    assert [r["state"] for r in rows] == list(STATES)
    for r in rows:
        assert r["nbytes"] == 16 * 20_000 and r["nbytes_float32"] == 8 * 20_000
        assert r["ratio_select_floor_beta"] == pytest.approx(r["select_ms"] / r["floor_beta_ms"])
        assert min(r["select_ms"], r["update_ms"], r["floor_beta_ms"], r["floor_gamma_ms"]) > 0


def test_float32_drift_measures_the_gap_to_float64():
    gap = float32_drift(1_000, steps=200, batch=64, decay=0.9)
    assert 0 < gap["alpha_rel"] < 1e-5 and 0 < gap["mean_abs"] < 1e-5
    # the reference: integer counts without decay stay exact in float32 up to 2^24
    exact = BetaArms.uniform(3, dtype=torch.float32)
    exact.update([0, 0, 1], [5.0, 7.0, 1.0], [9.0, 9.0, 1.0])
    assert exact.alpha.tolist() == [13.0, 2.0, 1.0] and exact.beta.tolist() == [7.0, 1.0, 1.0]
    exact.update([2], [2.0**23], [2.0**24 - 2])  # sums still below 2^24: exact
    assert exact.alpha[2].item() == 2.0**23 + 1 and exact.beta[2].item() == 2.0**23 - 1
