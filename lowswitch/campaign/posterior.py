"""GP summaries of a campaign's measurements (posterior at measured conditions).

Example:
    >>> import torch
    >>> X = torch.eye(3, dtype=torch.float64)
    >>> idx, mean, sd = posterior_at_measured(X, [0, 0, 1, 2, 2], [1.0, 1.2, 5.0, 3.0, 3.1])
    >>> idx
    [0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch


def posterior_at_measured(
    X: torch.Tensor,
    obs_idx: Sequence[int],
    obs_y: Sequence[float],
    hyper: Mapping[str, Any] | None = None,
) -> tuple[list[int], list[float], list[float]]:
    """Posterior mean and sd of the mean response at every measured condition.

    Fits [`lowswitch.UniquePointGP`][lowswitch.UniquePointGP] (exact replicate likelihood, MAP
    hyperparameters) on all observations, or, with ``hyper``, conditions it on them with those
    hyperparameters (no fit).

    Args:
        X: (m, d) float64 encoded candidates.
        obs_idx: candidate index of each observation.
        obs_y: observed values (objective units).
        hyper: named raw parameters of a fitted model (as stored by a campaign's fits),
            fitted on the objective's sign used here (maximisation).

    Returns:
        idx: sorted measured candidate indices (q,); mean, sd: posterior of f there (q,).
    """
    from lowswitch import UniquePointGP, fit_gp
    from lowswitch.policies.holder import load_hyper

    index = torch.tensor(list(obs_idx), dtype=torch.long)
    train_X = X[index]
    train_Y = torch.tensor(list(obs_y), dtype=X.dtype).unsqueeze(-1)
    measured = sorted(set(int(i) for i in obs_idx))
    if len(measured) < 2 or len(obs_idx) < 3:
        means = {i: [y for j, y in zip(obs_idx, obs_y, strict=True) if j == i] for i in measured}
        return (measured, [sum(v) / len(v) for v in means.values()],
                [float("nan")] * len(measured))
    model = UniquePointGP(train_X, train_Y)
    if hyper is None:
        fit_gp(model)
    else:
        load_hyper(model, dict(hyper))
        model.clear_cache()
        model.eval()
    with torch.no_grad():
        post = model.posterior(X[torch.tensor(measured, dtype=torch.long)])
        mean = post.mean.squeeze(-1)
        sd = post.variance.squeeze(-1).clamp_min(0.0).sqrt()
    return measured, mean.tolist(), sd.tolist()


def reusable_hyper(fit: Any, obs_idx: Sequence[int], refit_growth: float) -> dict[str, Any] | None:
    """The stored fit's hyperparameters if ``suggest`` would reuse them as they are, else None.

    That is the planner's rule (``lowswitch.campaign.planner.build_policy``): the fit saw
    at least 2 and at most all of the observations, and the measured conditions grew by less
    than ``refit_growth`` since.

    Args:
        fit: the last stored [`Fit`][lowswitch.campaign.repository.Fit], or None.
        obs_idx: candidate index of every current observation.
        refit_growth: the campaign's refit factor.

    Example:
        >>> from lowswitch.campaign.repository import Fit
        >>> f = Fit(n_observations=4, n_unique=3, hyper={"a": 1.0})
        >>> reusable_hyper(f, [0, 1, 2, 2, 1], 1.2), reusable_hyper(f, [0, 1, 2, 3, 4], 1.2)
        ({'a': 1.0}, None)
    """
    if fit is None or not 2 <= fit.n_observations <= len(obs_idx):
        return None
    if len(set(obs_idx)) >= refit_growth * fit.n_unique:
        return None
    return dict(fit.hyper)


def fit_hyper(
    X: torch.Tensor, obs_idx: Sequence[int], obs_y: Sequence[float]
) -> dict[str, Any]:
    """Fit the GP on the observations and return its named raw parameters (JSON-safe).

    Example:
        >>> import torch
        >>> X = torch.eye(3, dtype=torch.float64)
        >>> sorted(fit_hyper(X, [0, 1, 2, 2], [1.0, 2.0, 3.0, 3.5]))[0]
        'covar_module.raw_lengthscale'
    """
    from lowswitch import UniquePointGP, fit_gp
    from lowswitch.policies.holder import hyper_to_data

    index = torch.tensor(list(obs_idx), dtype=torch.long)
    model = UniquePointGP(X[index], torch.tensor(list(obs_y), dtype=X.dtype).unsqueeze(-1))
    fit_gp(model)
    return hyper_to_data(model)


__all__ = ["fit_hyper", "posterior_at_measured", "reusable_hyper"]
