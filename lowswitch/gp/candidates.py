r"""Posterior over a fixed candidate set under a chain of hallucinated repeats (GP-BUCB).

Choosing k blocks from m candidates with hallucination re-scores every candidate after
each block. On a fresh hallucinated copy of the model that costs O(m q^2) per block; here
the expensive projection ``V = L^{-1} S k(U, C)`` (``(q, m)``) is computed once and every
hallucinated block is a rank-one update of the candidate variances, O(m (q + k)):

.. math::
    c_j(a, b) = c_0(a, b) - \sum_{l < j} u_l(a) u_l(b),\qquad
    u_j(a) = \frac{c_j(a, x_j)}{\sqrt{c_j(x_j, x_j) + \sigma^2 / B_j}},

where ``B_j`` zero-innovation observations at ``x_j`` act as one observation with noise
``sigma2 / B_j``. Means do not change (zero innovation). Exact: equal to the variances of
``model.hallucinate`` chains to rounding (tested).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lowswitch.gp.linalg import solve_lower
from lowswitch.gp.model import UniquePointGP

__all__ = ["CandidatePosterior"]


class CandidatePosterior:
    """Mean and variance at ``m`` candidates, updated in O(m (q + k)) per hallucinated block.

    Args:
        model: the (possibly already hallucinated) model; not changed.
        candidates: ``(m, d)`` raw candidate inputs.

    Example:
        >>> import torch
        >>> from lowswitch import UniquePointGP
        >>> X = torch.tensor([[0.1], [0.5], [0.9]], dtype=torch.float64)
        >>> model = UniquePointGP(X, torch.tensor([[0.0], [1.0], [0.2]], dtype=torch.float64))
        >>> cands = torch.linspace(0, 1, 5, dtype=torch.float64).unsqueeze(-1)
        >>> cp = CandidatePosterior(model, cands)
        >>> before = cp.variance[2].item()
        >>> cp.hallucinate(2, 4)
        >>> cp.variance[2].item() < before
        True
    """

    def __init__(self, model: UniquePointGP, candidates: Tensor) -> None:
        with torch.no_grad():
            cache = model._get_cache()
            C = model._transform_X(candidates.to(torch.float64))
            Kuc = model.covar_module(cache.U, C).to_dense()  # (q, m)
            self._V = solve_lower(cache.L, cache.s.unsqueeze(-1) * Kuc)  # (q, m)
            self._C = C
            self._covar = model.covar_module
            mean_tf = model.mean_module(C) + Kuc.transpose(-1, -2) @ cache.alpha
            prior = model.covar_module(C, diag=True)
            self._var_tf = prior - (self._V * self._V).sum(0)
            shift, scale = model.outcome_scale
            self._scale2 = scale * scale
            self.mean = mean_tf * scale + shift
            self._noise_tf = model.noise_variance.reshape(()) / self._scale2
        self._U: list[Tensor] = []  # rank-one factors u_l, each (m,)

    @property
    def variance(self) -> Tensor:
        """``(m,)`` latent posterior variances in original outcome units (>= 0)."""
        return (self._var_tf * self._scale2).clamp_min(0.0)

    def hallucinate(self, index: int, count: int) -> None:
        """Account for ``count`` zero-innovation observations at candidate ``index``."""
        with torch.no_grad():
            x = self._C[index : index + 1]
            cov = self._covar(x, self._C).to_dense().reshape(-1)  # (m,)
            cov = cov - self._V[:, index] @ self._V
            for u in self._U:
                cov = cov - u[index] * u
            denom = cov[index] + self._noise_tf / count
            u = cov / denom.sqrt()
            self._var_tf = self._var_tf - u * u
            self._U.append(u)
