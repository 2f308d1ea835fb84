"""The initial design (lowswitch/policies/design.py): a loop that rebuilds the policy from its
history before every ask walks the same design as one policy kept across the loop."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 12), seed=st.integers(0, 2**31 - 1), cursor=st.integers(0, 40),
       data=st.data())
def test_design_never_repeats_a_batch_point_and_avoids_told_ones_while_it_can(
    m: int, seed: int, cursor: int, data: st.DataObject,
) -> None:
    cands = torch.linspace(0.0, 1.0, m, dtype=D).unsqueeze(-1)
    box = torch.tensor([[0.0], [1.0]], dtype=D)
    rows = st.lists(st.integers(0, m - 1), unique=True)
    batch = data.draw(rows.filter(lambda r: len(r) < m), label="batch")
    told = data.draw(rows, label="told")
    x, i = design_point(seed, cursor, box, cands, [cands[j] for j in batch],
                        [cands[j] for j in told])
    assert i is not None and torch.equal(x, cands[i])
    assert i not in batch
    if set(range(m)) - set(batch) - set(told):
        assert i not in told
    # a box: every Sobol point handed out differs from the avoided ones
    avoid = [design_point(seed, k, box, None, [])[0] for k in range(cursor, cursor + 3)]
    y, _ = design_point(seed, cursor, box, None, [], avoid)
    assert not any(torch.equal(y, a) for a in avoid)
    assert torch.equal(y, design_point(seed, cursor + 3, box, None, [])[0])
