"""Campaign switch cost (wells per new condition) and a noise estimate from the first plate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from campaign_helpers import run_cli, small_screen

from lowswitch.campaign.campaign import Campaign
from lowswitch.campaign.planner import PlanConfig, plan_plate
from lowswitch.errors import InputError

gen = torch.Generator().manual_seed(0)
X = torch.rand(60, 3, generator=gen, dtype=torch.float64)


def _observations() -> tuple[list[int], list[float]]:
    idx = [i for i in range(10) for _ in range(2)]
    noise = torch.randn(len(idx), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ys = (-((X[idx] - 0.3) ** 2).sum(-1) * 10 + 0.5 * noise).tolist()
    return idx, ys


@pytest.mark.parametrize("slots", [2, 3, 8, 9])
def test_first_plate_estimates_the_noise_at_any_plate_size(slots: int) -> None:
    blocks, _ = plan_plate(X, [], [], {}, slots, PlanConfig(initial_conditions=8), plate=1)
    assert sum(b.replicates for b in blocks) == slots
    assert all(b.replicates >= 2 for b in blocks)
    # C = 1 (one well per decision) keeps single wells
    single, _ = plan_plate(
        X, [], [], {}, 8, PlanConfig(initial_conditions=8, switch_threshold=1.0), plate=1
    )
    assert [b.replicates for b in single] == [1] * 8


def test_a_costly_set_up_means_fewer_conditions_per_plate() -> None:
    idx, ys = _observations()
    per_cost = {}
    for cost in (0.0, 10.0, 100.0):
        cfg = PlanConfig(policy="ei", initial_conditions=5, switch_cost=cost)
        blocks, _ = plan_plate(X, idx, ys, {}, 24, cfg, plate=3)
        assert sum(b.replicates for b in blocks) == 24
        per_cost[cost] = len(blocks)
    assert per_cost[100.0] < per_cost[0.0]
    assert per_cost[10.0] <= per_cost[0.0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), [1.0, 2.0]])
def test_switch_cost_validation(bad: object) -> None:
    with pytest.raises(InputError, match="switch_cost"):
        PlanConfig(switch_cost=bad)  # type: ignore[arg-type]


def test_create_stores_switch_cost_and_the_cli_takes_it(tmp_path: Path) -> None:
    db = str(tmp_path / "lab.db")
    screen = small_screen()
    inputs = [c for c in screen.columns if c != "yield"]
    camp = Campaign.create(db, "api", screen.drop(columns="yield"), inputs, "yield",
                           switch_cost=12.0)
    assert camp.plan_config.switch_cost == 12.0
    camp.storage.dispose()
    csv = tmp_path / "screen.csv"
    screen.drop(columns="yield").to_csv(csv, index=False)
    run_cli("campaign", "create", "--name", "cli", "--storage", db, "--candidates", str(csv),
            "--inputs", ",".join(inputs), "--objective", "yield", "--switch-cost", "7.5")
    assert Campaign.open(db, "cli").plan_config.switch_cost == 7.5
    proc = run_cli("campaign", "create", "--name", "bad", "--storage", db, "--candidates", str(csv),
                   "--inputs", ",".join(inputs), "--objective", "yield", "--switch-cost", "-2",
                   check=False)
    assert proc.returncode == 2 and "switch_cost" in proc.stderr
    stored = json.loads(json.dumps(PlanConfig(switch_cost=3).to_dict()))
    assert stored["config"]["switch_cost"] == 3.0


@pytest.mark.parametrize("name", ["voided", "void_reason", "Voided"])
def test_export_columns_of_voids_are_reserved(tmp_path: Path, name: str) -> None:
    import pandas as pd

    with pytest.raises(InputError, match="reserved"):
        Campaign.create(str(tmp_path / "r.db"), "r", pd.DataFrame({name: ["a", "b"]}),
                        inputs=[name], objective="y")


@pytest.mark.parametrize("max_conditions", [1, None])
def test_plates_are_planned_blind_so_cost_up_front_changes_nothing(
    max_conditions: int | None,
) -> None:
    """A plate's policy is built afresh from the data and never sees a block's results
    before the next decision, so the planner always commits the cost rule's extra repeats
    up front (docs/maths/switching.md); ``cost_up_front`` has no campaign option."""
    from lowswitch.policies.config import PolicyConfig

    idx, ys = _observations()
    plans = []
    for up_front in (False, True):
        cfg = PlanConfig(policy="ei", initial_conditions=5, max_conditions=max_conditions,
                         config=PolicyConfig(switch_cost=10.0, cost_up_front=up_front))
        plans.append(plan_plate(X, idx, ys, {}, 24, cfg, plate=3)[0])
    assert plans[0] == plans[1]
    if max_conditions == 1:
        assert len(plans[0]) == 1


def test_the_planners_policy_commits_the_extension_up_front() -> None:
    """Built afresh from the data, the planner's policy has handed out no block, so even a
    one-block ask commits the extension like a blind batch (no planner override needed)."""
    from lowswitch.campaign.planner import build_policy
    from lowswitch.policies.config import PolicyConfig

    idx, ys = _observations()
    box = torch.stack([torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)])

    def built(cost: float) -> Any:
        cfg = PlanConfig(policy="ei", initial_conditions=5,
                         config=PolicyConfig(switch_cost=cost, cost_up_front=False))
        return build_policy(X, box, idx, ys, cfg, 0, None)

    assert built(10.0).cost_up_front is False
    one, both, free = built(10.0).ask(), built(10.0).ask(n_blocks=2)[0], built(0.0).ask()
    assert torch.equal(one.x, both.x) and one.repeats == both.repeats
    assert torch.equal(one.x, free.x) and one.repeats > free.repeats
