r"""Padded unique-point statistics and the exact likelihood of a batch of training sets.

Shapes: ``b`` training sets (the model's batch), each of ``t`` rows; ``q_j`` unique
inputs in set ``j`` and ``q = max_j q_j``; ``d`` input dimension.

Ragged sets are stored as ``(b, q)`` arrays: set ``j``'s unique points come first (in
first-seen order) and the remaining ``q - q_j`` *padding* slots have count 0, mean 0 and
sum of squares 0, with the input of the set's first unique point. A padding slot has
precision ``p = 0``, so ``S = diag(sqrt p)`` zeroes its row and column of
``A = I + S K_U S`` (an identity row: ``log det A`` and ``L^{-1} S r`` are those of the
real points alone) and every term of the likelihood sums over real points only. The
posterior weight ``S A^{-1} S r`` of a padding slot is 0, so padding contributes nothing
anywhere, whatever the kernel says about its (duplicated) input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from lowswitch.gp.likelihood import precision_factor
from lowswitch.gp.stats import UniqueStats

__all__ = [
    "PaddedStats",
    "padded_means_log_density",
    "padded_within_point_log_density",
    "padded_within_point_log_density_known_noise",
]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class PaddedStats:
    """Per-set [`UniqueStats`][lowswitch.gp.stats.UniqueStats] laid out as padded ``(b, q)`` arrays.

    Attributes:
        sets: the ``b`` per-set statistics (the source of truth).
        X: ``(b, q, d)`` raw unique inputs; padding repeats the set's first input.
        n: ``(b, q)`` counts, 0 on padding.
        mean: ``(b, q)`` mean observation per point, 0 on padding.
        m2: ``(b, q)`` within-point sums of squares, 0 on padding.
        W, wmean, wm2, logvar: ``(b, q)`` known-noise statistics (see
            [`UniqueStats`][lowswitch.gp.stats.UniqueStats]), 0 on padding; None without known
            noise.

    Example:
        >>> X = torch.tensor([[[0.], [0.], [1.]], [[2.], [3.], [4.]]], dtype=torch.float64)
        >>> Y = torch.tensor([[1., 3., 5.], [1., 2., 3.]], dtype=torch.float64)
        >>> s = PaddedStats.build(X, Y)
        >>> s.q, s.n.tolist(), s.X[0, :, 0].tolist()
        ([2, 3], [[2.0, 1.0, 0.0], [1.0, 1.0, 1.0]], [0.0, 1.0, 0.0])
    """

    sets: list[UniqueStats]
    X: Tensor
    n: Tensor
    mean: Tensor
    m2: Tensor
    W: Tensor | None = None
    wmean: Tensor | None = None
    wm2: Tensor | None = None
    logvar: Tensor | None = None

    @classmethod
    def build(cls, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> PaddedStats:
        """Group each set ``X[j]`` ``(t, d)``, ``Y[j]`` ``(t,)`` separately; O(b t) + O(b q d)."""
        return cls.from_sets(
            [UniqueStats(X[j], Y[j], None if Yvar is None else Yvar[j]) for j in range(X.shape[0])]
        )

    @classmethod
    def from_sets(cls, sets: list[UniqueStats]) -> PaddedStats:
        """Lay out already-built per-set statistics."""
        q = max(s.q for s in sets)
        X = torch.stack([_pad(s.X, q, s.X[0]) for s in sets])
        zero = torch.zeros((), dtype=torch.float64)
        n = torch.stack([_pad(s.n, q, zero) for s in sets])
        mean = torch.stack([_pad(s.mean, q, zero) for s in sets])
        m2 = torch.stack([_pad(s.m2, q, zero) for s in sets])
        if not sets[0].heteroscedastic:
            return cls(sets, X, n, mean, m2)
        known = [
            torch.stack([_pad(getattr(s, name), q, zero) for s in sets])
            for name in ("W", "wmean", "wm2", "logvar")
        ]
        return cls(sets, X, n, mean, m2, *known)

    @property
    def q(self) -> list[int]:
        """Number of unique points of each set."""
        return [s.q for s in self.sets]

    @property
    def t(self) -> list[int]:
        """Number of rows of each set."""
        return [s.t for s in self.sets]

    @property
    def mask(self) -> Tensor:
        """``(b, q)`` True on real points, False on padding."""
        return self.n > 0

    def total_moments(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(t, mean, sum of squares)`` over each set's rows, each ``(b,)`` (exact)."""
        moments = [s.total_moments() for s in self.sets]
        t, mean, ss = (torch.tensor(v, dtype=torch.float64) for v in zip(*moments, strict=True))
        return t, mean, ss


def _pad(v: Tensor, q: int, fill: Tensor) -> Tensor:
    """``v`` ``(q_j, ...)`` extended to ``(q, ...)`` with copies of ``fill``."""
    extra = q - v.shape[0]
    if extra == 0:
        return v
    return torch.cat([v, fill.expand(extra, *v.shape[1:])])


def padded_within_point_log_density(n: Tensor, m2: Tensor, sigma2: Tensor) -> Tensor:
    """Homoscedastic within-point term of each set (padding, ``n = 0``, adds nothing).

    Args:
        n: ``(b, q)`` counts; m2: ``(b, q)`` sums of squares; sigma2: ``(b,)`` noise.

    Returns:
        ``(b,)``.

    Example:
        >>> n, zeros = torch.tensor([[2.0, 0.0]], dtype=torch.float64), torch.zeros(1, 2).double()
        >>> v = padded_within_point_log_density(n, zeros, torch.ones(1).double())
        >>> round(v.item(), 6) == round(-0.5 * math.log(2 * math.pi) - 0.5 * math.log(2), 6)
        True
    """
    real = n > 0
    extra_rows = n.sum(-1) - real.sum(-1).to(n.dtype)  # sum of (n_i - 1) over real points
    log_n = torch.where(real, n, torch.ones_like(n)).log().sum(-1)
    return -(0.5 * extra_rows * (_LOG_2PI + sigma2.log()) + 0.5 * log_n + 0.5 * m2.sum(-1) / sigma2)


def padded_within_point_log_density_known_noise(
    n: Tensor, W: Tensor, wm2: Tensor, logvar: Tensor
) -> Tensor:
    """Known-noise within-point term of each set (padding, ``n = W = 0``, adds nothing).

    Args:
        n, W, wm2, logvar: ``(b, q)`` counts, total precisions, weighted sums of squares
            and sums of log noise variances (standardised units).

    Returns:
        ``(b,)``.

    Example:
        >>> n = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
        >>> zeros = torch.zeros(1, 2, dtype=torch.float64)
        >>> padded_within_point_log_density_known_noise(n, n, zeros, zeros).tolist()
        [-0.0]
    """
    real = n > 0
    extra_rows = n.sum(-1) - real.sum(-1).to(n.dtype)
    log_W = torch.where(real, W, torch.ones_like(W)).log().sum(-1)
    return -(0.5 * extra_rows * _LOG_2PI + 0.5 * logvar.sum(-1) + 0.5 * log_W + 0.5 * wm2.sum(-1))


def padded_means_log_density(K_U: Tensor, residual: Tensor, precision: Tensor) -> Tensor:
    """``log N(r_j; 0, K_j + P_j^{-1})`` over the real points of each set, differentiable.

    A padding slot has ``precision == 0`` and is left out exactly (see the module
    docstring). The backward is analytic, as in
    ``lowswitch.gp.likelihood.gaussian_means_log_density``, with zero gradient for the
    padding slots.

    Args:
        K_U: ``(b, q, q)`` prior covariances; residual: ``(b, q)``; precision: ``(b, q)``.

    Returns:
        ``(b,)``.

    Example:
        >>> K = torch.eye(2, dtype=torch.float64).expand(1, 2, 2)
        >>> p = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
        >>> v = padded_means_log_density(K, torch.zeros(1, 2).double(), p)
        >>> round(v.item(), 6) == round(-0.5 * math.log(2 * math.pi * 2.0), 6)
        True
    """
    out: Tensor = _PaddedMeansLogDensity.apply(K_U, residual, precision)
    return out


class _PaddedMeansLogDensity(torch.autograd.Function):
    r"""Batched ``log N(r; 0, K + P^{-1})`` with padding slots (``p = 0``) left out.

    With ``alpha = Sigma^{-1} r`` and ``G = (alpha alpha^T - Sigma^{-1}) / 2`` on the real
    points: ``dl/dK = G``, ``dl/dr = -alpha``, ``dl/dp_i = -G_ii / p_i^2``; through the
    A-form all three are 0 on padding (``S`` zeroes them), and ``dl/dp`` is set to 0 there.
    """

    @staticmethod
    def forward(ctx: Any, K: Tensor, residual: Tensor, precision: Tensor) -> Tensor:
        L = precision_factor(K, precision)
        real = precision > 0
        s = precision.sqrt()
        z = torch.linalg.solve_triangular(L, (s * residual).unsqueeze(-1), upper=False)
        z = z.squeeze(-1)
        log_p = torch.where(real, precision, torch.ones_like(precision)).log().sum(-1)
        logdet = 2.0 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1) - log_p
        ctx.save_for_backward(L, z, precision)
        q = real.sum(-1).to(precision.dtype)  # (an integer tensor times 0.5 is float32)
        return -0.5 * (z * z).sum(-1) - 0.5 * logdet - 0.5 * q * _LOG_2PI

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        L, z, precision = ctx.saved_tensors
        real = precision > 0
        s = precision.sqrt()
        w = torch.linalg.solve_triangular(L.mT, z.unsqueeze(-1), upper=True).squeeze(-1)
        alpha = s * w
        sigma_inv = s[..., :, None] * torch.cholesky_inverse(L) * s[..., None, :]
        G = 0.5 * (alpha[..., :, None] * alpha[..., None, :] - sigma_inv)
        g = grad[..., None]
        g_K = g[..., None] * G if ctx.needs_input_grad[0] else None
        g_r = -g * alpha if ctx.needs_input_grad[1] else None
        g_p = None
        if ctx.needs_input_grad[2]:
            safe = torch.where(real, precision, torch.ones_like(precision))
            g_p = torch.where(real, -g * G.diagonal(dim1=-2, dim2=-1) / safe**2, 0.0)
        return g_K, g_r, g_p
