"""Spearman and zero-variance metrics against scipy / hand counts."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from mopps.metrics import StepMetrics, average_ranks, spearman, zero_variance_fraction


@pytest.mark.parametrize("seed", range(5))
def test_spearman_matches_scipy_with_ties(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 5, (40,), generator=g).double()
    y = torch.randint(0, 4, (40,), generator=g).double() + 0.1 * x
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_ranks_average_ties():
    assert average_ranks(torch.tensor([2.0, 2.0, 1.0, 5.0])).tolist() == [2.5, 2.5, 1.0, 4.0]


def test_undefined_cases_are_nan():
    assert math.isnan(spearman(torch.ones(3), torch.arange(3.0)))
    assert math.isnan(spearman(torch.ones(1), torch.ones(1)))


def test_zero_variance_fraction():
    s = torch.tensor([0.0, 4.0, 2.0, 1.5])
    k = torch.tensor([4.0, 4.0, 4.0, 2.0])
    assert zero_variance_fraction(s, k) == 0.5


def test_step_metrics():
    m = StepMetrics.compute(3, torch.tensor([0.9, 0.1, 0.5]), torch.tensor([3.0, 0.0, 2.0]),
                            torch.tensor([3.0, 4.0, 4.0]))
    assert m.step == 3 and m.n_prompts == 3 and m.spearman == 1.0
    assert m.zero_variance_fraction == pytest.approx(2 / 3)
    assert m.mean_observed == pytest.approx((1 + 0 + 0.5) / 3)
