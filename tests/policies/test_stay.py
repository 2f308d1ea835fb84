"""The switch cost seen one look at a time: stay at the last point only while it can be best.

docs/maths/switching.md, "A switch that costs something": asked one block at a time, a
policy with a switch cost gives a new point the plain rule's repeats and decides the cost
rule's extra repeats after their results are told; blocks chosen blind (several at once,
or with pending blocks) keep the extension up front.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from lowswitch import LowSwitchGPEI, LowSwitchGPTS, LowSwitchGPUCB
from lowswitch.policies.batch import RELEVANCE_Z
from lowswitch.policies.switch import stay_repeats, switch_repeats

D = torch.float64
BOUNDS = torch.tensor([[0.0], [1.0]], dtype=D)
GRID = torch.linspace(0.0, 1.0, 41, dtype=D).unsqueeze(-1)
NOISE_SD = 0.05


def _f(x: torch.Tensor) -> float:
    return float(torch.sin(6.0 * x).sum())  # maximised near x = 0.26


def _warm(policy: Any, **kw: Any) -> Any:
    """A policy in flight on a 41-point grid: its own design of 3 points, 2 looks each.

    It has handed out blocks, so it is asked one look at a time (a policy that has handed
    out nothing yet chooses its first model block blind; see the rebuilt-policy tests).
    """
    opt = policy(BOUNDS, candidates=GRID, seed=1, n_initial=3, **kw)
    gen = torch.Generator().manual_seed(11)
    while opt.n_unique < 3:
        block = opt.ask()
        opt.tell(block.x, _f(block.x) + NOISE_SD * torch.randn(block.repeats, generator=gen,
                                                               dtype=D))
    return opt


def _moments(opt: Any, x: torch.Tensor) -> tuple[float, float, float, float, float]:
    """(mean, variance, noise, fresh variance, best evaluated mean) of opt's model at x."""
    model = opt.model
    with torch.no_grad():
        post = model.posterior(x.unsqueeze(0))
        z = model.transform_inputs(x.unsqueeze(0))
        prior = float(model.covar_module(z, diag=True).reshape(()))
        best = float(model.posterior_mean(model.unique_X).max())
    fresh = prior * model.outcome_scale[1] ** 2
    return (float(post.mean.reshape(())), float(post.variance.reshape(())),
            float(model.noise_variance), fresh, best)


@pytest.mark.parametrize("policy", [LowSwitchGPEI, LowSwitchGPUCB, LowSwitchGPTS])
def test_a_new_point_gets_the_plain_rule_and_a_blind_batch_the_extension(policy: Any) -> None:
    seq, blind = _warm(policy, switch_cost=10.0), _warm(policy, switch_cost=10.0)
    first = seq.ask()
    _, var, noise, fresh, _ = _moments(seq, first.x)
    plain = switch_repeats(var, noise, seq.switch_threshold)
    assert first.repeats == plain
    # the same choice made blind (two blocks at once) commits the extension up front
    both = blind.ask(n_blocks=2)
    assert torch.equal(both[0].x, first.x)
    assert both[0].repeats == max(plain, stay_repeats(var, noise, fresh, 10.0))
    assert both[0].repeats > plain  # the case is not vacuous: the rule does extend here


def _after_one_look(value: float) -> tuple[Any, torch.Tensor, Any]:
    opt = _warm(LowSwitchGPEI, switch_cost=10.0)
    block = opt.ask()
    assert block.repeats == 1
    opt.tell(block.x, torch.tensor([value], dtype=D))
    state = json.loads(json.dumps(opt.state_dict()))
    return opt, block.x, state


def test_a_look_that_keeps_the_point_in_the_running_extends_the_block() -> None:
    opt, x, state = _after_one_look(1.5)  # above every value seen so far
    mean, var, noise, fresh, best = _moments(opt, x)
    assert mean + RELEVANCE_Z * math.sqrt(var) >= best
    expected = stay_repeats(var, noise, fresh, 10.0)
    assert expected >= 1
    switches = opt.n_switches
    stay = opt.ask()
    assert torch.equal(stay.x, x) and stay.repeats == expected
    assert stay.index is not None and torch.equal(GRID[stay.index], x)
    assert opt.n_switches == switches  # staying is not a switch
    # a policy restored from the state after the look decides the same
    twin = LowSwitchGPEI.from_state_dict(state)
    again = twin.ask()
    assert torch.equal(again.x, x) and again.repeats == expected


def test_a_look_that_rules_the_point_out_ends_the_stay() -> None:
    opt, x, _ = _after_one_look(-5.0)  # far below everything: it cannot be the best
    mean, var, noise, fresh, best = _moments(opt, x)
    assert mean + RELEVANCE_Z * math.sqrt(var) < best
    assert stay_repeats(var, noise, fresh, 10.0) >= 1  # nats alone would have stayed
    switches = opt.n_switches
    nxt = opt.ask()
    assert not torch.equal(nxt.x, x)
    assert opt.n_switches == switches + 1


def test_without_a_switch_cost_nothing_is_decided_after_the_look() -> None:
    free = _warm(LowSwitchGPEI)
    block = free.ask()
    free.tell(block.x, torch.tensor([1.5], dtype=D))
    nxt = free.ask()
    # the plain policy's next block comes from the acquisition: a repeat there, if any,
    # gets the plain rule's count, never the cost rule's
    _, var, noise, _, _ = _moments(free, nxt.x)
    assert nxt.repeats == switch_repeats(var, noise, free.switch_threshold)


def test_cost_up_front_commits_the_extension_like_a_blind_batch() -> None:
    seq = _warm(LowSwitchGPEI, switch_cost=10.0, cost_up_front=True)
    blind = _warm(LowSwitchGPEI, switch_cost=10.0)
    one, both = seq.ask(), blind.ask(n_blocks=2)
    assert torch.equal(one.x, both[0].x) and one.repeats == both[0].repeats > 1
    state = json.loads(json.dumps(seq.state_dict()))
    assert state["config"]["cost_up_front"] is True
    assert LowSwitchGPEI.from_state_dict(state).cost_up_front is True


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_cost_up_front_must_be_a_bool(bad: Any) -> None:
    from lowswitch import InputError

    with pytest.raises(InputError, match="cost_up_front: expected a bool"):
        LowSwitchGPEI(BOUNDS, cost_up_front=bad)


def test_stays_never_take_a_point_past_max_repeats() -> None:
    opt = _warm(LowSwitchGPEI, switch_cost=100.0, max_repeats=3)
    block = opt.ask()
    x = block.x
    opt.tell(x, torch.full((block.repeats,), 1.5, dtype=D))
    done = block.repeats
    while True:
        nxt = opt.ask()
        if not torch.equal(nxt.x, x):
            break
        assert done + nxt.repeats <= 3
        opt.tell(x, torch.full((nxt.repeats,), 1.5, dtype=D))
        done += nxt.repeats
    assert done == 3  # at s = 100 the rule would stay longer: the cap ended the visit
    uncapped = _warm(LowSwitchGPEI, switch_cost=100.0)
    first = uncapped.ask()
    uncapped.tell(first.x, torch.full((first.repeats,), 1.5, dtype=D))
    assert uncapped.ask().repeats > 3 - first.repeats


@pytest.mark.parametrize("s", [1.0, 10.0, 100.0])
@pytest.mark.parametrize("rho0", [1e-3, 0.1, 1.0, 10.0])
@pytest.mark.parametrize("c", [1.0, 2.0, 4.0])
def test_an_isolated_point_kept_in_the_running_gets_the_up_front_total(
    s: float, rho0: float, c: float,
) -> None:
    """docs/maths/switching.md: Delta_b depends only on rho + b - 1, so the plain block
    followed by stays (each decided at the variance then) adds up to the up-front count."""
    noise, fresh = rho0, 1.0  # a fresh point: variance = the prior's, rho = rho0
    plain = switch_repeats(fresh, noise, c)
    up_front = max(plain, stay_repeats(fresh, noise, fresh, s))
    done, var = plain, 1.0 / (1.0 / fresh + plain / noise)  # isolated: precisions add
    while (extra := stay_repeats(var, noise, fresh, s)) >= 1:
        done += extra
        var = 1.0 / (1.0 / var + extra / noise)
    assert done == up_front


def _told(policy: Any, **kw: Any) -> Any:
    """A fresh policy told 2 looks at 3 spread points: it has handed out nothing."""
    opt = policy(BOUNDS, candidates=GRID, seed=3, n_initial=2, **kw)
    gen = torch.Generator().manual_seed(11)
    for i in (2, 20, 38):
        opt.tell(GRID[i], _f(GRID[i]) + NOISE_SD * torch.randn(2, generator=gen, dtype=D))
    return opt


@pytest.mark.parametrize("policy", [LowSwitchGPEI, LowSwitchGPUCB, LowSwitchGPTS])
def test_a_policy_that_has_handed_out_nothing_commits_the_extension(policy: Any) -> None:
    """Built from the history (warm start, or rebuilt for every decision) a policy has no
    block whose results it could look at before the next ask: it chooses blind."""
    one = _told(policy, switch_cost=10.0).ask()
    both = _told(policy, switch_cost=10.0).ask(n_blocks=2)[0]
    free = _told(policy).ask()
    assert torch.equal(one.x, both.x) and one.repeats == both.repeats
    assert torch.equal(one.x, free.x) and one.repeats > free.repeats


def test_a_loop_that_rebuilds_the_policy_for_every_decision_still_pays_for_switches() -> None:
    """A user's loop that rebuilds the policy from its history before every ask (as the
    Optuna sampler and the campaign planner do) gets the switch cost's extra repeats."""
    gen = torch.Generator().manual_seed(5)

    def run(cost: float) -> int:
        history: list[tuple[torch.Tensor, torch.Tensor]] = []
        last, switches, n = None, 0, 0
        while n < 40:
            opt = LowSwitchGPEI(BOUNDS, candidates=GRID, seed=7, n_initial=3,
                                switch_cost=cost, budget=40)
            for x, ys in history:
                opt.tell(x, ys)
            block = opt.ask()
            ys = _f(block.x) + 0.3 * torch.randn(block.repeats, generator=gen, dtype=D)
            history.append((block.x, ys))
            switches += last is None or not torch.equal(block.x, last)
            last, n = block.x, n + block.repeats
        return switches

    cheap, dear = run(0.0), run(50.0)
    assert dear < cheap, (dear, cheap)
