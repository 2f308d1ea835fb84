"""The initial design (lowswitch/policies/design.py): a loop that rebuilds the policy from its
history before every ask walks the same design as one policy kept across the loop."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from lowswitch import LowSwitchGPEI, LowSwitchGPTS, LowSwitchGPUCB
from lowswitch.policies.design import design_point

D = torch.float64
BOX = torch.tensor([[-3.0, 10.0], [5.0, 40.0]], dtype=D)
GRID = torch.cartesian_prod(torch.linspace(-3, 5, 6, dtype=D), torch.linspace(10, 40, 5, dtype=D))


def _y(x: torch.Tensor, n: int) -> torch.Tensor:
    return torch.full((n,), float((x / BOX[1]).sum()), dtype=D)


@pytest.mark.parametrize("policy", [LowSwitchGPEI, LowSwitchGPUCB, LowSwitchGPTS])
@pytest.mark.parametrize("candidates", [None, GRID])
def test_a_rebuilt_policy_walks_the_same_design(policy: Any, candidates: Any) -> None:
    kept = policy(BOX, candidates=candidates, seed=4, n_initial=5)
    walked = []
    for _ in range(5):
        b = kept.ask()
        kept.tell(b.x, _y(b.x, b.repeats))
        walked.append((b.x, b.repeats))
    history: list[tuple[torch.Tensor, int]] = []
    for _ in range(5):
        fresh = policy(BOX, candidates=candidates, seed=4, n_initial=5)
        for x, n in history:
            fresh.tell(x, _y(x, n))
        b = fresh.ask()
        history.append((b.x, b.repeats))
    assert len({tuple(x.tolist()) for x, _ in history}) == 5  # never the first point again
    for (x, n), (x2, n2) in zip(walked, history, strict=True):
        assert torch.equal(x, x2) and n == n2


def test_a_told_point_is_avoided_but_a_batch_point_never_repeated() -> None:
    first = design_point(0, 0, BOX, GRID, [])[0]
    second = design_point(0, 0, BOX, GRID, [first])[0]
    assert torch.equal(design_point(0, 0, BOX, GRID, [], [first])[0], second)
    # every candidate told: the design falls back to the cursor's point, unless it is in
    # the batch, which it never repeats
    everything = list(GRID)
    assert torch.equal(design_point(0, 0, BOX, GRID, [], everything)[0], first)
    assert torch.equal(design_point(0, 0, BOX, GRID, [first], everything)[0], second)
