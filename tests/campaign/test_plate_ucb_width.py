"""The width GP-UCB plans plates with: twice the sequential default unless the campaign set one."""

from __future__ import annotations

import torch

from lowswitch.campaign.planner import PLATE_UCB_SCALE, PlanConfig, build_policy, plan_plate
from lowswitch.policies import PolicyConfig
from lowswitch.policies.beta import ConstantBeta, IGPUCBBeta

X = torch.rand(40, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
BOUNDS = torch.stack([torch.zeros(3), torch.ones(3)]).double()
IDX = [i for i in range(8) for _ in range(2)]
YS = (-((X[IDX] - 0.4) ** 2).sum(-1)
      + 0.05 * torch.randn(len(IDX), generator=torch.Generator().manual_seed(4),
                           dtype=torch.float64)).tolist()


def test_plates_use_the_plate_width_and_sequential_policies_do_not() -> None:
    assert IGPUCBBeta().scale == 0.1 and 2 * IGPUCBBeta().scale == PLATE_UCB_SCALE
    opt = build_policy(X, BOUNDS, IDX, YS, PlanConfig(policy="ucb", seed=1), seed=5)
    assert opt.beta_schedule == IGPUCBBeta(scale=PLATE_UCB_SCALE)
    from lowswitch import LowSwitchGPUCB

    assert LowSwitchGPUCB(BOUNDS, seed=0).beta_schedule == IGPUCBBeta(scale=0.1)


def test_a_width_the_campaign_set_is_kept() -> None:
    for beta in (3.0, IGPUCBBeta(scale=0.05)):
        cfg = PlanConfig(policy="ucb", config=PolicyConfig(seed=1, options={"beta": beta}))
        opt = build_policy(X, BOUNDS, IDX, YS, cfg, seed=5)
        assert opt.beta_schedule == (ConstantBeta(3.0) if beta == 3.0 else beta)
    assert "beta" not in PlanConfig(policy="ucb", seed=1).to_dict()["config"]["options"]


def test_the_plate_width_changes_the_plan_against_the_sequential_one() -> None:
    """Not a no-op: with the sequential width set explicitly the same rows plan differently
    on at least one of a few plates (the wider bound explores elsewhere)."""
    plain = PlanConfig(policy="ucb", seed=1)
    narrow = PlanConfig(policy="ucb", config=PolicyConfig(seed=1, options={"beta": IGPUCBBeta()}))
    differs = [
        plan_plate(X, IDX, YS, {}, 6, plain, plate=p)[0]
        != plan_plate(X, IDX, YS, {}, 6, narrow, plate=p)[0]
        for p in range(2, 6)
    ]
    assert any(differs)
