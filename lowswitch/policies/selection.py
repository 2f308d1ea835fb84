"""Selection helpers of the policies: the model of a batch, acquisition maximisation, repeats.

A batch of blocks (``ask(n_blocks=k, pending=...)``) is chosen one block at a time on a
``BatchModel``: the policy's GP with the pending blocks and the blocks chosen so far
hallucinated (``B_h`` zero-innovation observations each, GP-BUCB). On a finite candidate set
an acquisition computed from posterior moments uses exact rank-one variance updates
(``CandidatePosterior``) instead of a hallucinated copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from torch import Tensor

from lowswitch.gp.candidates import CandidatePosterior
from lowswitch.policies.acquisition import maximize_on_box, score_points
from lowswitch.policies.block import Block
from lowswitch.policies.switch import move_cost, stay_repeats


@dataclass
class BatchModel:
    """The model a batch's next block is chosen on.

    Attributes:
        model: the GP with every pending and already chosen block hallucinated.
        cand_post: exact candidate moments (moment-scored acquisitions on finite sets).
    """

    model: Any
    cand_post: CandidatePosterior | None = None

    @classmethod
    def start(
        cls, model: Any, hall_X: list[Tensor], hall_n: list[int], candidates: Tensor | None,
        from_moments: bool,
    ) -> BatchModel:
        """Hallucinate ``hall_n[i]`` observations at ``hall_X[i]`` on ``model``."""
        if hall_X:
            model = model.hallucinate(torch.stack(hall_X), hall_n)
        cand_post = None
        if candidates is not None and from_moments:
            # exact rank-one variance updates instead of a hallucinated copy per block:
            # O(m q) per block instead of O(m q^2)
            cand_post = CandidatePosterior(model, candidates)
        return cls(model, cand_post)

    def add(self, block: Block) -> None:
        """Hallucinate the block just chosen."""
        if self.cand_post is not None and block.index is not None:
            self.cand_post.hallucinate(block.index, block.repeats)
        else:
            self.model = self.model.hallucinate(block.x.unsqueeze(0), [block.repeats])


def argmax_scores(values: Tensor, exclude_index: list[int | None]) -> int:
    """Row of the first maximum of ``values (m,)``, rows in ``exclude_index`` skipped.

    Example:
        >>> argmax_scores(torch.tensor([1.0, 3.0, 2.0]), [1])
        2
    """
    values = values.clone()
    for i in exclude_index:
        if i is not None:
            values[i] = -math.inf
    return int(torch.argmax(values))


def argmax_acquisition(
    acq: AcquisitionFunction,
    candidates: Tensor | None,
    bounds: Tensor,
    raw_samples: int,
    num_restarts: int,
    generator: torch.Generator,
    exclude_x: list[Tensor],
    exclude_index: list[int | None],
) -> tuple[Tensor, int | None]:
    """Maximise an analytic acquisition over the candidates or the box.

    Finite set: exhaustive scoring (chunks of 2,048), excluded rows skipped, first
    maximum. Box: ``raw_samples`` Sobol points (seeded from ``generator``) plus the
    evaluated unique points are scored, the best ``num_restarts`` start L-BFGS-B in
    ``botorch.optim.optimize_acqf``; if an evaluated unique point scores at least as
    high as the optimiser's result it is returned exactly (a repeat).
    """
    if candidates is not None:
        i = argmax_scores(score_points(acq, candidates), exclude_index)
        return candidates[i].clone(), i
    model: Any = acq.model
    return maximize_on_box(
        acq, bounds, model.unique_X, raw_samples, num_restarts, generator, exclude_x
    )


def cost_aware_repeats(
    repeats: int,
    model: Any,
    x: Tensor,
    var: float,
    noise: float,
    switch_cost: float | tuple[float, ...],
    previous: Tensor | None,
    caps: tuple[int | None, ...],
) -> int:
    """The plain rule's ``repeats``, extended by the marginal-value rule of the switch cost.

    The cost of leaving ``x`` is what this block's move cost (per-input costs: the inputs
    it changes), or, for a block that stays, the cheapest single-input move. The
    fresh-point variance is the prior's at ``x`` (far from all data); ``caps`` (budget
    left, ``max_repeats``) bound the extension.
    """
    cost = switch_cost
    if isinstance(cost, tuple):
        moved = move_cost(cost, None if previous is None else previous.tolist(), x.tolist())
        positive = [c for c in cost if c > 0.0]
        cost = moved if moved > 0.0 else (min(positive) if positive else 0.0)
    with torch.no_grad():
        z = model.transform_inputs(x.unsqueeze(0))
        prior = float(model.covar_module(z, diag=True).reshape(()))
    fresh = prior * model.outcome_scale[1] ** 2
    extra = stay_repeats(var, noise, fresh, cost)
    for cap in caps:
        if cap is not None:
            extra = min(extra, cap)
    return max(repeats, extra)


__all__ = ["BatchModel", "argmax_acquisition", "argmax_scores", "cost_aware_repeats"]
