"""Low-switch GP-UCB: ``x_h = argmax mu(x) + sqrt(beta_t) sigma(x)``, then ``B_h`` repeats.

``beta_t`` comes from a schedule (``lowswitch.policies.beta``); the default is the
data-dependent IGP-UCB width driven by the unique-point information gain.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from botorch.acquisition import UpperConfidenceBound
from torch import Tensor

from lowswitch.policies.base import LowSwitchPolicy
from lowswitch.policies.beta import BetaSchedule, beta_from_dict, beta_to_dict, make_beta


class LowSwitchGPUCB(LowSwitchPolicy):
    """Rarely-switching GP-UCB with ask/tell (``switch_threshold=1`` is plain GP-UCB).

    Takes the arguments of [`LowSwitchPolicy`][lowswitch.policies.base.LowSwitchPolicy].

    Options:
        ``beta`` (a keyword, or ``PolicyConfig(options={"beta": ...})``): ``None`` /
        ``"igp-ucb"`` (default [`IGPUCBBeta`][lowswitch.policies.beta.IGPUCBBeta]), a positive
        number (constant ``beta``) or a schedule; also a dict from
        ``beta_to_dict``.

    Example:
        >>> import torch
        >>> from lowswitch import LowSwitchGPUCB
        >>> opt = LowSwitchGPUCB(torch.tensor([[0.0], [1.0]]), seed=0)
        >>> for _ in range(6):
        ...     block = opt.ask()
        ...     x = float(block.x[0])
        ...     opt.tell(block.x, torch.full((block.repeats,), -(x - 0.3) ** 2))
        >>> opt.n_evaluations >= 6
        True
    """

    def _configure_extra(self, cfg: dict[str, Any]) -> dict[str, Any]:
        beta = cfg.get("beta")
        schedule = beta_from_dict(beta) if isinstance(beta, dict) else make_beta(beta)
        return {"beta": schedule}

    def _apply_extra(self, extra: dict[str, Any]) -> None:
        self.beta_schedule: BetaSchedule = extra["beta"]

    def _extra_config(self) -> dict[str, Any]:
        return {"beta": beta_to_dict(self.beta_schedule)}

    def current_beta(self) -> float:
        """``beta_t`` for the current model (``gamma_t`` from ``model.information_gain()``)."""
        if self._model is None:
            return self.beta_schedule(0.0)
        with torch.no_grad():
            gamma = float(self._model.information_gain())
        return self.beta_schedule(gamma)

    _scores_from_moments = True

    def _candidate_scores(self, mean: Tensor, variance: Tensor) -> Tensor:
        """``mean + sqrt(beta_t) sigma`` (as BoTorch's ``UpperConfidenceBound``)."""
        return mean + math.sqrt(self.current_beta()) * variance.clamp_min(1e-12).sqrt()

    def _select(
        self,
        model: Any,
        generator: torch.Generator,
        exclude_x: list[Tensor],
        exclude_index: list[int | None],
    ) -> tuple[Tensor, int | None]:
        acq = UpperConfidenceBound(model, beta=self.current_beta())
        return self._argmax_acquisition(acq, generator, exclude_x, exclude_index)


__all__ = ["LowSwitchGPUCB"]
