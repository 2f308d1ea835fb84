"""Switch cost: the cost-aware threshold (pure maths) and its effect on the policies."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from lowswitch import InputError, LowSwitchGPEI, LowSwitchGPTS, LowSwitchGPUCB
from lowswitch.policies.switch import (
    check_switch_cost,
    move_cost,
    move_rate,
    stay_repeats,
)

D = torch.float64


def _rate(b: float, s: float, rho: float) -> float:
    """Information per unit cost of b evaluations at a fresh point (the quantity maximised)."""
    return 0.5 * math.log1p(b / rho) / (s + b)


@pytest.mark.parametrize("s", [0.5, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("fresh", [1e-3, 0.1, 1.0, 10.0])
def test_move_rate_is_the_best_rate_of_a_move(s: float, fresh: float) -> None:
    noise = 1.0
    rho = noise / fresh
    rate = move_rate(noise, fresh, s)
    grid = [10 ** (k / 400) for k in range(-1600, 2401)]  # B from 1e-4 to 1e6
    best = max(_rate(b, s, rho) for b in grid)
    assert rate == pytest.approx(best, rel=1e-4) and rate >= best * (1 - 1e-9)


def _naive_stay(var: float, noise: float, fresh: float, s: float) -> int:
    """Count repeats whose marginal information is at least the rate of a move."""
    rate = move_rate(noise, fresh, s)
    rho, b = noise / var, 0
    while 0.5 * math.log1p(1.0 / (rho + b)) >= rate:
        b += 1
    return b


@pytest.mark.parametrize("s", [0.5, 3.0, 10.0, 100.0, 1000.0])
@pytest.mark.parametrize("var", [1e-3, 0.05, 0.3, 1.0, 4.0])
def test_stay_repeats_is_the_marginal_value_rule(s: float, var: float) -> None:
    assert stay_repeats(var, 0.5, 1.0, s) == _naive_stay(var, 0.5, 1.0, s)


def test_zero_cost_adds_nothing_and_cost_only_lengthens_blocks() -> None:
    assert stay_repeats(1.0, 1.0, 1.0, 0.0) == 0
    # the maths page's figures: a fresh point with noise = prior variance
    assert (stay_repeats(1.0, 1.0, 1.0, 10.0), stay_repeats(1.0, 1.0, 1.0, 100.0)) == (7, 37)
    assert stay_repeats(0.01, 1.0, 1.0, 10.0) == 0  # well known: leave at once
    fresh = [stay_repeats(1.0, 1.0, 1.0, s) for s in (1.0, 10.0, 100.0, 1000.0)]
    assert fresh == sorted(fresh) and fresh[-1] > fresh[0]
    # tiny noise: the first evaluation says almost everything, blocks stay short
    assert stay_repeats(1.0, 1e-4, 1.0, 10.0) <= 2


def test_move_cost_scalar_and_per_input() -> None:
    assert move_cost(5.0, None, [0.1, 0.2]) == 5.0
    assert move_cost(5.0, [0.1, 0.2], [0.1, 0.2]) == 0.0
    assert move_cost(5.0, [0.1, 0.2], [0.1, 0.3]) == 5.0
    assert move_cost((10.0, 1.0), None, [0.1, 0.2]) == 11.0
    assert move_cost((10.0, 1.0), [0.1, 0.2], [0.1, 0.3]) == 1.0
    assert move_cost((10.0, 1.0), [0.0, 0.2], [0.1, 0.3]) == 11.0


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, True, "ten", [1.0], [1.0, -2.0]])
def test_switch_cost_validation(bad: Any) -> None:
    with pytest.raises(InputError, match="switch_cost"):
        check_switch_cost(bad, dim=2)
    with pytest.raises(InputError, match="switch_cost"):
        LowSwitchGPEI(torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D), switch_cost=bad)


def _run(policy: Any, s: Any, n: int = 90, seed: int = 0) -> Any:
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D)
    opt = policy(bounds, seed=seed) if s is None else policy(bounds, seed=seed, switch_cost=s)
    gen = torch.Generator().manual_seed(7)
    while opt.n_evaluations < n:
        block = opt.ask()
        x = block.x
        noise = 0.1 * torch.randn(block.repeats, generator=gen, dtype=D)
        y = -float(((x - 0.3) ** 2).sum()) + noise
        opt.tell(x, y)
    return opt


@pytest.mark.parametrize("policy", [LowSwitchGPEI, LowSwitchGPUCB, LowSwitchGPTS])
def test_a_costly_switch_means_fewer_switches(policy: Any) -> None:
    cheap = _run(policy, 0.0)
    dear = _run(policy, 100.0)
    assert dear.n_switches < cheap.n_switches
    # zero cost is exactly the default policy (bit-identical state)
    default = _run(policy, None)
    assert default.n_switches == cheap.n_switches
    assert default.state_dict()["data"] == cheap.state_dict()["data"]


def test_per_input_costs_and_state_round_trip() -> None:
    opt = _run(LowSwitchGPEI, [20.0, 0.0], n=40)
    state = json.loads(json.dumps(opt.state_dict()))
    assert state["config"]["switch_cost"] == [20.0, 0.0]
    twin = LowSwitchGPEI.from_state_dict(state)
    assert twin.switch_cost == (20.0, 0.0)
    a, b = opt.ask(), twin.ask()
    assert torch.equal(a.x, b.x) and a.repeats == b.repeats


def test_small_noise_still_gets_extra_evaluations_at_a_fresh_point() -> None:
    """docs/maths/switching.md: nats count relative variance reductions, so the rule keeps
    adding evaluations at small noise (2 at s = 10 down to a noise sd of ~2.3 % of the
    prior sd; at least 7 at s = 100 down to a noise sd of 0.1 % of it)."""
    fresh = 1.0  # a fresh point: posterior variance = the prior's
    assert [stay_repeats(fresh, rho, fresh, 10.0) for rho in (1e-6, 1e-4, 1e-3, 1e-2)] == [
        1, 1, 2, 2]
    assert stay_repeats(fresh, 5.3e-4, fresh, 10.0) == 2
    assert stay_repeats(fresh, 5.1e-4, fresh, 10.0) == 1
    assert round(math.sqrt(5.2e-4), 3) == 0.023  # the 2.3 % of the prior sd
    assert [stay_repeats(fresh, rho, fresh, 100.0) for rho in (1e-6, 1e-4, 1e-3)] == [7, 10, 12]
    assert stay_repeats(fresh, 1e-7, fresh, 100.0) < 7
    # the limit of the b-th repeat's gain as rho -> 0 is 1/2 ln(b / (b - 1))
    for b in (2, 3, 7):
        gain = 0.5 * math.log1p(1.0 / (1e-12 + b - 1))
        assert math.isclose(gain, 0.5 * math.log(b / (b - 1)), rel_tol=1e-9)
