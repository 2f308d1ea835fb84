"""Per-step diagnostics of prompt selection: prediction quality and wasted groups.

* Spearman rank correlation between the predicted success rate of the selected prompts
  (posterior mean *before* this step's update) and their observed success rate
  ``successes / trials`` in this step. Positive means the selector ranks prompt
  difficulty correctly. Ties get average ranks (the usual definition); the value is
  NaN when either side is constant or fewer than two prompts were rolled out.
* Fraction of zero-variance groups: prompts whose ``k`` rollouts all agree (``s = 0`` or
  ``s = k``). Such groups have zero GRPO advantage and give no gradient. With fractional
  rewards only the sums are seen, so this counts groups that are all 0 or all 1.

Shapes: ``(n,)`` per selected prompt; tensors or arrays in, Python floats out. Computed
with numpy (single-threaded) on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from lowswitch.errors import InputError

__all__ = ["StepMetrics", "average_ranks", "spearman", "zero_variance_fraction"]


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy().astype(np.float64, copy=False)
    return np.asarray(x, dtype=np.float64)


def average_ranks(x: Any) -> np.ndarray:
    """Ranks ``1 .. n`` of ``x (n,)`` with ties given their average rank (float64).

    Example:
        >>> average_ranks(torch.tensor([3.0, 1.0, 3.0])).tolist()
        [2.5, 1.0, 2.5]
    """
    v = _np(x)
    n = v.size
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = sorted_v[1:] != sorted_v[:-1]
    run_id = np.cumsum(new_run) - 1
    ends = np.flatnonzero(np.append(new_run[1:], True)) + 1.0      # 1-based last rank
    starts = np.flatnonzero(new_run) + 1.0                          # 1-based first rank
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = ((starts + ends) / 2.0)[run_id]
    return ranks


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation of ``x (n,)`` and ``y (n,)``; NaN if undefined.

    Example:
        >>> spearman(torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.0, 0.2, 1.0]))
        1.0
    """
    xv, yv = _np(x), _np(y)
    if xv.shape != yv.shape or xv.ndim != 1:
        raise InputError(
            f"x, y: expected two (n,) arrays of equal length, got {xv.shape} and {yv.shape}"
        )
    if xv.size < 2:
        return math.nan
    rx = average_ranks(xv) - (xv.size + 1) / 2.0
    ry = average_ranks(yv) - (yv.size + 1) / 2.0
    denom = math.sqrt(float((rx * rx).sum()) * float((ry * ry).sum()))
    if denom == 0.0:
        return math.nan
    return float((rx * ry).sum() / denom)


def zero_variance_fraction(successes: Any, trials: Any) -> float:
    """Fraction of groups whose rollouts all agree (``s == 0`` or ``s == k``).

    Example:
        >>> zero_variance_fraction(torch.tensor([0.0, 2.0, 4.0]), torch.tensor([4.0, 4.0, 4.0]))
        0.6666666666666666
    """
    s, k = _np(successes), _np(trials)
    if s.size == 0:
        return math.nan
    return float(((s == 0) | (s == k)).mean())


@dataclass(frozen=True)
class StepMetrics:
    """Diagnostics of one ``update`` call of [`mopps.PromptSelector`][mopps.PromptSelector].

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
        pred, s, k = _np(predicted), _np(successes), _np(trials)
        observed = s / k
        n = int(pred.size)
        return cls(
            step=int(step),
            n_prompts=n,
            spearman=spearman(pred, observed),
            zero_variance_fraction=zero_variance_fraction(s, k),
            mean_predicted=float(pred.mean()) if n else math.nan,
            mean_observed=float(observed.mean()) if n else math.nan,
        )
