"""Per-step diagnostics of prompt selection: prediction quality and wasted groups.

* Spearman rank correlation between the predicted success rate of the selected prompts
  (posterior mean *before* this step's update) and their observed success rate
  ``successes / trials`` in this step. Positive means the selector ranks prompt
  difficulty correctly. Ties get average ranks (the usual definition); the value is
  NaN when either side is constant or fewer than two prompts were rolled out.
* Fraction of zero-variance groups: prompts whose ``k`` rollouts all agree (``s = 0`` or
  ``s = k``). Such groups have zero GRPO advantage and give no gradient. With fractional
  rewards only the sums are seen, so this counts groups that are all 0 or all 1.

Shapes: ``(n,)`` per selected prompt.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from lowswitch.errors import InputError

__all__ = ["StepMetrics", "average_ranks", "spearman", "zero_variance_fraction"]


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks ``1 .. n`` of ``x (n,)`` with ties given their average rank (float64).

    Example:
        >>> average_ranks(torch.tensor([3.0, 1.0, 3.0])).tolist()
        [2.5, 1.0, 2.5]
    """
    n = x.numel()
    order = torch.argsort(x, stable=True)
    sorted_x = x[order]
    _, inverse, counts = torch.unique_consecutive(sorted_x, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).to(torch.float64)          # 1-based last rank of each run
    avg = ends - (counts.to(torch.float64) - 1.0) / 2.0        # mean of first..last rank
    ranks = torch.empty(n, dtype=torch.float64, device=x.device)
    ranks[order] = avg[inverse]
    return ranks


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman rank correlation of ``x (n,)`` and ``y (n,)``; NaN if undefined.

    Example:
        >>> spearman(torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.0, 0.2, 1.0]))
        1.0
    """
    if x.shape != y.shape or x.dim() != 1:
        raise InputError(
            f"x, y: expected two (n,) tensors of equal length, got {tuple(x.shape)} "
            f"and {tuple(y.shape)}"
        )
    if x.numel() < 2:
        return math.nan
    rx = average_ranks(x) - (x.numel() + 1) / 2.0
    ry = average_ranks(y) - (y.numel() + 1) / 2.0
    denom = torch.sqrt((rx * rx).sum() * (ry * ry).sum())
    if float(denom) == 0.0:
        return math.nan
    return float((rx * ry).sum() / denom)


def zero_variance_fraction(successes: torch.Tensor, trials: torch.Tensor) -> float:
    """Fraction of groups whose rollouts all agree (``s == 0`` or ``s == k``).

    Example:
        >>> zero_variance_fraction(torch.tensor([0.0, 2.0, 4.0]), torch.tensor([4.0, 4.0, 4.0]))
        0.6666666666666666
    """
    if successes.numel() == 0:
        return math.nan
    flat = (successes == 0) | (successes == trials)
    return float(flat.to(torch.float64).mean())


@dataclass(frozen=True)
class StepMetrics:
    """Diagnostics of one ``update`` call of :class:`mopps.PromptSelector`.

    Attributes:
        step: 1-based number of the update.
        n_prompts: prompts rolled out in this step.
        spearman: rank correlation of predicted vs observed success (NaN if undefined).
        zero_variance_fraction: share of groups with all-equal rewards.
        mean_predicted: mean predicted success rate of these prompts.
        mean_observed: mean observed success rate ``s / k``.

    Example:
        >>> StepMetrics(1, 2, 0.5, 0.0, 0.4, 0.5).as_dict()["spearman"]
        0.5
    """

    step: int
    n_prompts: int
    spearman: float
    zero_variance_fraction: float
    mean_predicted: float
    mean_observed: float

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe apart from NaN, which ``json`` writes as ``NaN``)."""
        return asdict(self)

    @classmethod
    def compute(
        cls, step: int, predicted: torch.Tensor, successes: torch.Tensor, trials: torch.Tensor
    ) -> StepMetrics:
        """Metrics from ``predicted (n,)`` rates and observed ``successes, trials (n,)``.

        Example:
            >>> m = StepMetrics.compute(1, torch.tensor([0.2, 0.8]),
            ...                         torch.tensor([0.0, 3.0]), torch.tensor([4.0, 4.0]))
            >>> m.spearman, m.zero_variance_fraction
            (1.0, 0.5)
        """
        observed = successes / trials
        n = int(predicted.numel())
        return cls(
            step=int(step),
            n_prompts=n,
            spearman=spearman(predicted.to(torch.float64), observed.to(torch.float64)),
            zero_variance_fraction=zero_variance_fraction(successes, trials),
            mean_predicted=float(predicted.mean()) if n else math.nan,
            mean_observed=float(observed.mean()) if n else math.nan,
        )
