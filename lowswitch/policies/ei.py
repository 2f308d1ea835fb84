"""Low-switch GP-EI: ``x_h = argmax LogEI(x; incumbent)``, then ``B_h`` repeats.

Noisy setting: the incumbent is the best *posterior mean* over the evaluated unique points
(not the best noisy observation), and the acquisition is BoTorch's numerically stable
``LogExpectedImprovement``.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import LogExpectedImprovement
from torch import Tensor

from lowswitch.policies.base import LowSwitchPolicy


def posterior_mean_incumbent(model: Any) -> float:
    """``max_i mu(u_i)`` over the model's unique inputs (the noisy-EI incumbent).

    Args:
        model: a fitted :class:`~lowswitch.gp.model.UniquePointGP`.

    Returns:
        The best posterior mean (model units, maximisation).

    Example:
        >>> import torch
        >>> from lowswitch import UniquePointGP
        >>> X = torch.tensor([[0.1], [0.5], [0.9]], dtype=torch.float64)
        >>> m = UniquePointGP(X, torch.tensor([[0.0], [1.0], [0.5]], dtype=torch.float64))
        >>> isinstance(posterior_mean_incumbent(m.eval()), float)
        True
    """
    with torch.no_grad():
        mean = model.posterior(model.unique_X).mean.reshape(-1)
    return float(mean.max())


class LowSwitchGPEI(LowSwitchPolicy):
    """Rarely-switching GP-EI (log-EI, posterior-mean incumbent) with ask/tell.

    Same arguments as :class:`~lowswitch.policies.base.LowSwitchPolicy`.

    Example:
        >>> import torch
        >>> from lowswitch import LowSwitchGPEI
        >>> cands = torch.linspace(0, 1, 11, dtype=torch.float64).unsqueeze(-1)
        >>> opt = LowSwitchGPEI(torch.tensor([[0.0], [1.0]]), candidates=cands, seed=1)
        >>> for _ in range(5):
        ...     b = opt.ask()
        ...     opt.tell(b.x, torch.full((b.repeats,), float(b.x[0])))
        >>> opt.recommend().shape
        torch.Size([1])
    """

    def _select(
        self,
        model: Any,
        generator: torch.Generator,
        exclude_x: list[Tensor],
        exclude_index: list[int | None],
    ) -> tuple[Tensor, int | None]:
        # The incumbent comes from the real model: hallucination leaves means unchanged.
        acq = LogExpectedImprovement(model, best_f=posterior_mean_incumbent(self._model))
        return self._argmax_acquisition(acq, generator, exclude_x, exclude_index)


__all__ = ["LowSwitchGPEI", "posterior_mean_incumbent"]
