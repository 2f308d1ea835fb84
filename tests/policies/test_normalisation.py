"""Policies on any box: unit-cube normalisation inside, a noise floor from the replicates.

- The whole trajectory is invariant to an affine map of the box (same seed -> the same
  blocks up to the map and rounding).
- On a wide box the first fit leaves the prior mode (it froze there before the inputs were
  normalised: every design point was ~20 lengthscales from the next).
- The learned noise never falls below the replicates' lower confidence limit.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from scipy.stats import chi2

from lowswitch import LowSwitchGPEI, LowSwitchGPTS, LowSwitchGPUCB
from lowswitch.policies.noise import pooled_noise_floor

D = torch.float64


def _objective(u: torch.Tensor) -> float:
    """A smooth 2-d function of unit-cube coordinates with one interior maximum."""
    return float(-((u[0] - 0.3) ** 2) - 0.5 * (u[1] - 0.7) ** 2 + 0.2 * torch.sin(5 * u[0]))


def _trajectory(policy: type, bounds: torch.Tensor, n_evals: int) -> list[tuple[list[float], int]]:
    """Blocks as (unit-cube point, repeats); noise drawn per block from a fixed stream."""
    lo, hi = bounds[0], bounds[1]
    opt = policy(bounds, seed=4, switch_threshold=2.0)
    noise = torch.Generator().manual_seed(11)
    out = []
    while opt.n_evaluations < n_evals:
        block = opt.ask()
        u = (block.x - lo) / (hi - lo)
        y = _objective(u) + 0.05 * torch.randn(block.repeats, generator=noise, dtype=D)
        opt.tell(block.x, y)
        out.append((u.tolist(), block.repeats))
    return out


@pytest.mark.parametrize("policy", [LowSwitchGPEI, LowSwitchGPUCB, LowSwitchGPTS])
def test_trajectory_is_invariant_to_an_affine_map_of_the_box(policy: type) -> None:
    unit = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D)
    wide = torch.tensor([[-10.0, 100.0], [10.0, 3000.0]], dtype=D)
    a = _trajectory(policy, unit, 24)
    b = _trajectory(policy, wide, 24)
    assert len(a) == len(b) and len(a) >= 6
    for (ua, ra), (ub, rb) in zip(a, b, strict=True):
        assert ra == rb
        assert ua == pytest.approx(ub, abs=1e-6)


def test_unit_box_decisions_do_not_change_under_the_normalisation() -> None:
    """On [0, 1]^d the map is exactly the identity: block points are bit-identical."""
    unit = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D)
    a = _trajectory(LowSwitchGPEI, unit, 16)
    b = _trajectory(LowSwitchGPEI, unit.clone(), 16)
    assert a == b


def _prior_mode_lengthscales(d: int) -> torch.Tensor:
    from lowswitch.gp.model import UniquePointGP

    X = torch.rand(3, d, dtype=D, generator=torch.Generator().manual_seed(0))
    model = UniquePointGP(X, X.sum(-1, keepdim=True))
    return model.covar_module.lengthscale.detach().reshape(-1)


def test_first_fit_on_a_wide_box_leaves_the_prior_mode() -> None:
    d = 6
    bounds = torch.tensor([[-10.0] * d, [10.0] * d], dtype=D)
    opt = LowSwitchGPEI(bounds, seed=0, n_initial=12)
    gen = torch.Generator().manual_seed(3)
    while opt.model is None or opt.n_evaluations < 30:
        block = opt.ask()
        x = block.x
        y = -float((x[:2] / 10.0).pow(2).sum()) + 0.01 * torch.randn(
            block.repeats, generator=gen, dtype=D
        )
        opt.tell(x, y)
    fitted = opt.model.covar_module.lengthscale.detach().reshape(-1)
    mode = _prior_mode_lengthscales(d)
    # the two active inputs get much shorter lengthscales than the four inactive ones
    assert not torch.allclose(fitted, mode, rtol=0.05)
    assert float(fitted[:2].max()) < float(fitted[2:].min())


def test_pooled_noise_floor_is_the_chi_square_lower_limit() -> None:
    for ss, t, q in [(3.0, 4, 3), (10.0, 20, 10), (250.0, 1000, 100)]:
        dof = t - q
        s2 = ss / dof
        assert pooled_noise_floor(ss, t, q) == pytest.approx(dof * s2 / chi2.ppf(0.99, dof))
    assert pooled_noise_floor(1.0, 7, 7) is None
    # the documented factors: 0.15 at 1 dof, 0.43 at 10, 0.74 at 100
    factors = [pooled_noise_floor(float(k), k + 1, 1) for k in (1, 10, 100)]
    assert [round(f, 2) for f in factors] == [0.15, 0.43, 0.74]  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", [LowSwitchGPEI, LowSwitchGPUCB])
def test_noise_does_not_collapse_below_the_replicates(policy: Any) -> None:
    """A plateau of identical values at distinct points used to fit sigma2 ~ 0."""
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D)
    opt = policy(bounds, seed=0, n_initial=2)
    gen = torch.Generator().manual_seed(1)
    grid = torch.rand(40, 2, dtype=D, generator=gen)
    for x in grid:  # a plateau: 40 distinct points, all exactly 0.5
        opt.tell(x, torch.tensor([0.5], dtype=D))
    sd = 0.1  # replicate pairs at 5 points show the real noise
    sum_sq = 0.0
    for x in grid[:5]:
        y = 0.5 + sd * torch.randn(3, generator=gen, dtype=D)
        opt.tell(x, y)
        merged = torch.cat([torch.tensor([0.5], dtype=D), y])
        sum_sq += float(((merged - merged.mean()) ** 2).sum())
    opt.ask()  # fits
    floor = pooled_noise_floor(sum_sq, opt.n_evaluations, opt.n_unique)
    assert floor is not None
    learned = float(opt.model.noise_variance)
    assert learned >= floor * (1 - 1e-9)
    # documented factor: at 15 degrees of freedom the floor is 0.49 x the pooled estimate
    pooled = sum_sq / (opt.n_evaluations - opt.n_unique)
    assert learned >= 0.49 * pooled and math.isfinite(learned)
