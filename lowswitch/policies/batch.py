"""One ``ask``: the blocks of a decision, design blocks first, then model blocks.

* **Design blocks** come from ``design`` while fewer than
  ``n_initial`` design blocks were issued and the told data holds fewer than
  ``n_initial`` unique points (and always while it holds fewer than 2).
* **Model blocks**: at the first one of an ask, the hyperparameters are refitted if a
  switch boundary is due (``needs_refit``), the
  pending blocks and the blocks chosen so far are hallucinated
  (``BatchModel``), and the policy's acquisition picks
  the point; the switch rule (with the switch cost, if any) sets its repeats. Each later
  block of the same ask is chosen after hallucinating the previous one (GP-BUCB).
  Chosen blind (``k > 1``, pending blocks, ``cost_up_front``, or by a policy that has
  handed out no block yet), a block gets the switch cost's extra repeats up front; asked
  one at a time by a policy in flight it gets the plain rule's, and the extra ones are
  decided at the next ask, after its results (``_stay_block``; docs/maths/switching.md).

Every ask draws from its own generator seeded by ``(seed, ASK_STREAM, ask number)``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lowswitch.policies.block import Block
from lowswitch.policies.design import design_point
from lowswitch.policies.seeds import ASK_STREAM, seeded_generator
from lowswitch.policies.selection import BatchModel, argmax_scores, cost_aware_repeats
from lowswitch.policies.switch import switch_repeats

#: how many posterior sds above the best evaluated mean still count as "can be the best"
RELEVANCE_Z: float = 2.0

if TYPE_CHECKING:
    from lowswitch.policies.base import LowSwitchPolicy


def choose_blocks(
    policy: LowSwitchPolicy, k: int, hall_X: list[Tensor], hall_n: list[int], remaining: int | None
) -> tuple[list[Block], int]:
    """Up to ``k`` blocks (design first, then model blocks) and the new design cursor."""
    gen = seeded_generator(policy.seed, ASK_STREAM, policy._n_asks)
    blocks: list[Block] = []
    cursor = policy._design_cursor
    batch: BatchModel | None = None
    n_told_unique = policy.n_unique
    m = None if policy.candidates is None else policy.candidates.shape[0]

    told: list[Tensor] | None = None  # the told points, read only while designing

    def designing() -> bool:
        return n_told_unique < 2 or (cursor < policy.n_initial and n_told_unique < policy.n_initial)

    # blocks chosen before any of their results are seen, or by a policy that may not be
    # asked again (one rebuilt from the history for every decision has no last block, so
    # it could never stay), or the user asked for that
    blind = k > 1 or bool(hall_X) or policy.cost_up_front or policy._last_x is None
    if not blind and policy.switch_cost and not designing():
        stay = _stay_block(policy, remaining)
        if stay is not None:
            return [stay], cursor
    while len(blocks) < k and (remaining is None or remaining >= 1):
        if m is not None and len(blocks) >= m:
            break
        if designing():
            if told is None:
                told = list(policy._told_points())
            x, idx = design_point(policy.seed, cursor, policy.bounds, policy.candidates,
                                  [b.x for b in blocks], hall_X + told)
            cursor += 1
            repeats = policy.initial_repeats
            if remaining is not None:
                repeats = min(repeats, remaining)
        else:
            if batch is None:
                batch = _start_batch(policy, hall_X, hall_n)
            elif blocks:
                batch.add(blocks[-1])
            x, idx, repeats = _model_block(policy, batch, gen, blocks, remaining, blind)
        blocks.append(Block(x=x, repeats=repeats, index=idx))
        hall_X.append(x)
        hall_n.append(repeats)
        if remaining is not None:
            remaining -= repeats
    return blocks, cursor

def _start_batch(policy: LowSwitchPolicy, hall_X: list[Tensor], hall_n: list[int]) -> BatchModel:
    """Refit at a switch boundary if due, then hallucinate what is pending."""
    if policy._holder.needs_refit(policy.refit_growth):
        policy._holder.refit(policy.seed, policy._n_asks, policy.fit_tolerance)
    return BatchModel.start(policy._model, hall_X, hall_n, policy.candidates,
                            policy._scores_from_moments)

def _model_block(
    policy: LowSwitchPolicy, batch: BatchModel, gen: torch.Generator, blocks: list[Block],
    remaining: int | None, blind: bool,
) -> tuple[Tensor, int | None, int]:
    """One block chosen on the batch's model: ``(x, row or None, repeats)``."""
    if batch.cand_post is not None:
        values = policy._candidate_scores(batch.cand_post.mean, batch.cand_post.variance)
        idx: int | None = argmax_scores(values, [b.index for b in blocks])
        x = policy.candidates[idx].clone()  # type: ignore[index]
        var = float(batch.cand_post.variance[idx])
    else:
        x, idx = policy._select(
            batch.model, gen, [b.x for b in blocks], [b.index for b in blocks]
        )
        with torch.no_grad():
            var = float(batch.model.posterior(x.unsqueeze(0)).variance.reshape(()))
    noise = float(policy._model.noise_variance)
    repeats = switch_repeats(var, noise, policy.switch_threshold, remaining, policy.max_repeats)
    if policy.switch_cost and blind:
        previous = blocks[-1].x if blocks else policy._last_x
        repeats = cost_aware_repeats(repeats, policy._model, x, var, noise, policy.switch_cost,
                                     previous, (remaining, policy.max_repeats))
    return x, idx, repeats


def _stay_block(policy: LowSwitchPolicy, remaining: int | None) -> Block | None:
    """Another block at the last point, if the switch cost says stay and it can be the best.

    Seen one look at a time, the cost rule's extra repeats are decided after each block:
    stay while ``stay_repeats`` at the current variance is positive and the point's upper
    band ``mu + RELEVANCE_Z * sd`` reaches the best posterior mean among the evaluated points
    (a point that cannot be recommended gains the decision nothing from more looks).
    ``max_repeats`` caps the evaluations of the point in all, so that stays never add up
    past it (e.g. the number of folds).
    """
    x = policy._last_x
    model = policy._model
    if x is None or model is None or model.n_unique < 2:
        return None
    with torch.no_grad():
        post = model.posterior(x.unsqueeze(0))
        mean, var = float(post.mean.reshape(())), float(post.variance.reshape(()))
        best = float(model.posterior_mean(model.unique_X).max())
    if mean + RELEVANCE_Z * math.sqrt(max(var, 0.0)) < best:
        return None
    cap = policy.max_repeats
    if cap is not None:  # a stay never takes the point past max_repeats evaluations in all
        here = (model.unique_X == x).all(-1)
        cap -= int(model.counts[here].sum())
        if cap < 1:
            return None
    noise = float(model.noise_variance)
    extra = cost_aware_repeats(0, model, x, var, noise, policy.switch_cost, x, (remaining, cap))
    if extra < 1:
        return None
    idx = None
    if policy.candidates is not None:
        idx = int(torch.nonzero((policy.candidates == x).all(-1))[0])
    return Block(x=x.clone(), repeats=extra, index=idx)


__all__ = ["choose_blocks"]
