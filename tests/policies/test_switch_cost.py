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
    cost_aware_threshold,
    move_cost,
    switch_repeats,
)

D = torch.float64


def _rate(c: float, s: float, rho: float) -> float:
    """Information per unit cost of an epoch stopping at factor c (the quantity maximised)."""
    return 0.5 * math.log(c) / (s + (c - 1.0) * rho)


@pytest.mark.parametrize("s", [0.5, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("var", [1e-3, 0.1, 1.0, 10.0])
def test_threshold_maximises_information_per_cost(s: float, var: float) -> None:
    noise, c0 = 1.0, 1.0
    rho = noise / var
    c = cost_aware_threshold(var, noise, c0, s)
    assert c0 <= c <= c0 + s
    if c < c0 + s:  # interior: the stationarity condition holds ...
        assert c * math.log(c) - c + 1.0 == pytest.approx(s / rho, rel=1e-9)
    # ... and no threshold on a fine grid of [1, 1 + s] does better
    grid = [1.0 + (s * k) / 2000 for k in range(1, 2001)]
    assert _rate(c, s, rho) >= max(_rate(g, s, rho) for g in grid) * (1 - 1e-9)


def test_zero_cost_is_the_plain_rule_and_cost_only_raises_the_threshold() -> None:
    for c0 in (1.0, 2.0, 4.0):
        for var in (1e-4, 0.3, 5.0):
            assert cost_aware_threshold(var, 0.5, c0, 0.0) == c0
            previous = c0
            for s in (0.1, 1.0, 10.0, 100.0, 1000.0):
                c = cost_aware_threshold(var, 0.5, c0, s)
                assert c >= previous and c <= c0 + s
                previous = c
    # blocks grow with the cost (noise 1, posterior variance 1, C = 2)
    costs = (0.0, 10.0, 100.0)
    blocks = [switch_repeats(1.0, 1.0, cost_aware_threshold(1.0, 1.0, 2.0, s)) for s in costs]
    assert blocks == sorted(blocks) and blocks[0] == 1 and blocks[-1] > 10


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
