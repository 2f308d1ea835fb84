"""Plate planning: initial design, caps, exact equivalence with the policy, fit reuse."""

from __future__ import annotations

import pytest
import torch

import lowswitch
from lowswitch.campaign.planner import Block, PlanConfig, build_policy, plan_plate, plate_seed
from lowswitch.errors import InputError

gen = torch.Generator().manual_seed(0)
X = torch.rand(60, 3, generator=gen, dtype=torch.float64)


def f(x: torch.Tensor) -> torch.Tensor:
    return -((x - 0.3) ** 2).sum(-1) * 10


def observations(n_cond: int = 10, reps: int = 2) -> tuple[list[int], list[float]]:
    idx = [i for i in range(n_cond) for _ in range(reps)]
    noise = torch.randn(len(idx), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ys = (f(X[idx]) + 0.1 * noise).tolist()
    return idx, ys


def test_initial_design_is_distinct_even_and_seeded() -> None:
    cfg = PlanConfig(initial_conditions=5)
    blocks, fit = plan_plate(X, [], [], {}, 12, cfg, plate=1)
    assert fit is None
    assert len({b.candidate for b in blocks}) == 5
    assert sorted(b.replicates for b in blocks) == [2, 2, 2, 3, 3]
    assert plan_plate(X, [], [], {}, 12, cfg, plate=1)[0] == blocks
    assert plan_plate(X, [], [], {}, 12, cfg, plate=2)[0] != blocks


def test_random_policy_fills_distinct_wells() -> None:
    blocks, _ = plan_plate(X, [], [], {}, 7, PlanConfig(policy="random"), plate=3)
    assert len({b.candidate for b in blocks}) == 7 and all(b.replicates == 1 for b in blocks)


def test_plan_equals_the_policy_asked_directly() -> None:
    idx, ys = observations()
    cfg = PlanConfig(initial_conditions=4, switch_threshold=4.0)
    pending = {11: 2, 12: 1}
    blocks, fit = plan_plate(X, idx, ys, pending, 10, cfg, plate=5)
    opt = build_policy(X, torch.stack([torch.zeros(3), torch.ones(3)]).double(), idx, ys, cfg,
                       plate_seed(cfg.seed, 5))
    direct = opt.ask(n_blocks=10, pending=[(X[11], 2), (X[12], 1)])
    expected, left = [], 10
    for b in direct:
        if left == 0:
            break
        expected.append(Block(int(b.index), min(b.repeats, left)))
        left -= expected[-1].replicates
    assert blocks == expected
    assert sum(b.replicates for b in blocks) == 10
    for guess in (1, 2, 3):  # asking for fewer blocks first (then doubling) changes nothing
        assert plan_plate(X, idx, ys, pending, 10, cfg, plate=5, expected_blocks=guess)[0] == blocks
    assert fit is not None and fit.n_observations == len(idx) and fit.n_unique == 10


def test_condition_cap_turns_spare_wells_into_replicates() -> None:
    idx, ys = observations()
    blocks, _ = plan_plate(X, idx, ys, {}, 9, PlanConfig(initial_conditions=4, max_conditions=2),
                           plate=4)
    assert len(blocks) == 2 and sum(b.replicates for b in blocks) == 9


def test_stored_fit_is_reused_until_the_data_grow() -> None:
    idx, ys = observations()
    cfg = PlanConfig(initial_conditions=4, refit_growth=1.5)
    _, fit = plan_plate(X, idx, ys, {}, 4, cfg, plate=2)
    assert fit is not None
    more_idx, more_ys = [*idx, 10, 11], ys + f(X[[10, 11]]).tolist()  # 12 < 1.5 * 10 conditions
    opt = build_policy(X, torch.stack([torch.zeros(3), torch.ones(3)]).double(), more_idx,
                       more_ys, cfg, 7, fit)
    assert opt.state_dict()["hyper"] == fit.hyper and opt.n_evaluations == len(more_idx)
    _, again = plan_plate(X, more_idx, more_ys, {}, 4, cfg, plate=3, fit=fit)
    assert again is None  # no refit: nothing new to store
    grown = list(range(20))
    g_idx = more_idx + grown
    g_ys = more_ys + f(X[grown]).tolist()
    _, refit = plan_plate(X, g_idx, g_ys, {}, 4, cfg, plate=4, fit=fit)
    assert refit is not None and refit.n_observations == len(g_idx)


@pytest.mark.parametrize(
    "kwargs",
    [{"policy": "gp"}, {"switch_threshold": 0.5}, {"max_conditions": 0}, {"initial_conditions": 0},
     {"refit_growth": 0.9}],
)
def test_plan_config_validation(kwargs: dict) -> None:
    with pytest.raises(InputError):
        PlanConfig(**kwargs)


def test_policies_are_exported() -> None:
    assert callable(lowswitch.LowSwitchGPUCB)


def test_plate_policies_fit_at_1e_6_unless_the_campaign_sets_a_tolerance() -> None:
    """docs/glossary.md: campaign plates use 1e-6 unless ``fit_tolerance`` is set."""
    from lowswitch.policies.config import PolicyConfig

    idx, ys = observations()
    box = torch.stack([torch.zeros(3), torch.ones(3)]).double()
    for policy in ("ucb", "ei", "ts"):
        default = build_policy(X, box, idx, ys, PlanConfig(policy=policy, initial_conditions=4),
                               plate_seed(0, 1))
        assert default.fit_tolerance == 1e-6 and default.config.fit_tolerance == 1e-6
    cfg = PlanConfig(initial_conditions=4, config=PolicyConfig(fit_tolerance=1e-3))
    assert build_policy(X, box, idx, ys, cfg, plate_seed(0, 1)).fit_tolerance == 1e-3
