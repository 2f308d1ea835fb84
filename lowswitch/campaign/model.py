"""GP summaries of a campaign's measurements (posterior at measured conditions).

Example:
    >>> import torch
    >>> X = torch.eye(3, dtype=torch.float64)
    >>> idx, mean, sd = posterior_at_measured(X, [0, 0, 1, 2, 2], [1.0, 1.2, 5.0, 3.0, 3.1])
    >>> idx
    [0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def posterior_at_measured(
    X: torch.Tensor, obs_idx: Sequence[int], obs_y: Sequence[float]
) -> tuple[list[int], list[float], list[float]]:
    """Posterior mean and sd of the mean response at every measured condition.

    Fits :class:`lowswitch.UniquePointGP` (exact replicate likelihood, MAP hyperparameters)
    on all observations.

    Args:
        X: (m, d) float64 encoded candidates.
        obs_idx: candidate index of each observation.
        obs_y: observed values (objective units).

    Returns:
        idx: sorted measured candidate indices (q,); mean, sd: posterior of f there (q,).
    """
    from lowswitch import UniquePointGP, fit_gp

    index = torch.tensor(list(obs_idx), dtype=torch.long)
    train_X = X[index]
    train_Y = torch.tensor(list(obs_y), dtype=X.dtype).unsqueeze(-1)
    measured = sorted(set(int(i) for i in obs_idx))
    if len(measured) < 2 or len(obs_idx) < 3:
        means = {i: [y for j, y in zip(obs_idx, obs_y, strict=True) if j == i] for i in measured}
        return (measured, [sum(v) / len(v) for v in means.values()],
                [float("nan")] * len(measured))
    model = UniquePointGP(train_X, train_Y)
    fit_gp(model)
    with torch.no_grad():
        post = model.posterior(X[torch.tensor(measured, dtype=torch.long)])
        mean = post.mean.squeeze(-1)
        sd = post.variance.squeeze(-1).clamp_min(0.0).sqrt()
    return measured, mean.tolist(), sd.tolist()


__all__ = ["posterior_at_measured"]
