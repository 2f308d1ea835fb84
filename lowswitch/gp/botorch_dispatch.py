r"""Registrations with BoTorch's dispatchers so that BoTorch's generic paths run exactly.

Pathwise (Matheron) updates: BoTorch's ``gaussian_update`` for an ``ExactGP`` treats each
training target as one observation with the likelihood's noise ``sigma2``. A
``UniquePointGP``'s targets are the q unique means, and mean ``i`` carries noise
``1 / p_i`` (``sigma2 / n_i``, or ``1 / W_i`` with known noise). Registered here for
``UniquePointGP``, the update uses that diagonal noise:

.. math::
    (f \mid y)(\cdot) = f(\cdot) + k(\cdot, U)\,(K_U + P^{-1})^{-1}
        (\bar y - f(U) - \varepsilon),\qquad \varepsilon \sim N(0, P^{-1}),

which has the law of the exact posterior given all t rows (the means are sufficient and
their errors independent). ``draw_matheron_paths``, ``get_optimal_samples`` (JES, PES),
and path-based Thompson sampling then see replicate counts.

Fitting needs no registration: BoTorch's ``get_loss_closure`` calls a model's
``compute_custom_loss`` (see
[`UniquePointGP.compute_custom_loss`][lowswitch.gp.model.UniquePointGP.compute_custom_loss]).
"""

from __future__ import annotations

from typing import Any

from botorch.sampling.pathwise.update_strategies import GaussianUpdate
from gpytorch.likelihoods import _GaussianLikelihoodBase
from gpytorch.models import ExactGP
from linear_operator.operators import DiagLinearOperator
from torch import Tensor

from lowswitch.errors import InputError
from lowswitch.gp.model import UniquePointGP

__all__: list[str] = []


@GaussianUpdate.register(UniquePointGP, _GaussianLikelihoodBase)
def _gaussian_update_unique_points(
    model: UniquePointGP,
    likelihood: _GaussianLikelihoodBase,
    *,
    sample_values: Tensor,
    noise_covariance: Any = None,
    **kwargs: Any,
) -> Any:
    if getattr(model, "batch_stats", None) is not None:
        raise InputError(
            "pathwise sampling (draw_matheron_paths, get_optimal_samples) is not supported "
            "on a batched UniquePointGP (its padding points have no finite noise); build "
            "one UniquePointGP per training set"
        )
    if noise_covariance is None:
        _, precision = model._standardized()
        noise_covariance = DiagLinearOperator(1.0 / precision.detach())
    generic = GaussianUpdate.dispatch(ExactGP, type(likelihood))
    return generic(
        model,
        likelihood,
        sample_values=sample_values,
        noise_covariance=noise_covariance,
        **kwargs,
    )
