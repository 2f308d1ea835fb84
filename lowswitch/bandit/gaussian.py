"""Joint Gaussian posterior over ``m`` arms, sampled through a jittered Cholesky factor.

GP Thompson sampling draws ``f ~ N(mu, Sigma)`` over a finite candidate set and picks the
argmax. With ``Sigma = L L^T``::

    f = mu + L z,   z ~ N(0, I_m)      # z drawn with an explicit generator

GP posterior covariances are often numerically singular (near-duplicate candidates,
tiny noise), so the factor is computed with escalating diagonal jitter
``eps_j = 1e-10 * 10^j * mean(diag Sigma)``, ``j = 0 .. 8``, stopping at the first that
succeeds; the jitter used is recorded in ``GaussianArms.jitter``.

Shapes: ``mean (m,)``, ``covariance (m, m)``, samples ``(n_samples, m)``; float64.
"""

from __future__ import annotations

import warnings

import torch

from lowswitch.bandit.rng import Generator, standard_normal
from lowswitch.errors import InputError

__all__ = ["GaussianArms", "jittered_cholesky", "robust_cholesky"]

_JITTER_START = 1e-10
_JITTER_STEPS = 9


def jittered_cholesky(A: torch.Tensor, max_tries: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower Cholesky factor of symmetric PSD matrices, with escalating diagonal jitter.

    The project's one jittered Cholesky (the GP's factors and GP-TS's joint draws both use
    it). Tries the plain factorisation first; on failure adds ``factor * scale * I`` with
    ``factor`` = 1e-10, 1e-9, ... (``max_tries`` steps) and ``scale`` each matrix's mean
    absolute diagonal (1 where that is 0). The same factor goes to every matrix of a batch.

    Args:
        A: ``(..., m, m)`` symmetric matrices.
        max_tries: number of jitter steps before giving up.

    Returns:
        ``(L, jitter)``: ``L (..., m, m)`` lower triangular with ``L L^T = A + jitter I``
        and ``jitter (...,)`` the absolute jitter added to each matrix (zeros if none).

    Raises:
        torch.linalg.LinAlgError: still not positive definite at the largest jitter.

    Example:
        >>> L, jitter = jittered_cholesky(torch.ones(2, 2, dtype=torch.float64), 9)
        >>> bool(jitter > 0), torch.allclose(L @ L.T, torch.ones(2, 2, dtype=torch.float64))
        (True, True)
    """
    L, info = torch.linalg.cholesky_ex(A)
    if not bool(info.any()):
        return L, torch.zeros(A.shape[:-2], dtype=A.dtype, device=A.device)
    scale = A.diagonal(dim1=-2, dim2=-1).abs().mean(-1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    factor = _JITTER_START
    for _ in range(max_tries):
        jitter = factor * scale
        L, info = torch.linalg.cholesky_ex(A + jitter[..., None, None] * eye)
        if not bool(info.any()):
            return L, jitter
        factor *= 10.0
    raise torch.linalg.LinAlgError(
        f"matrix is not positive definite even with jitter {factor / 10:.1e} x mean diagonal"
    )


def robust_cholesky(covariance: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Lower Cholesky factor of a symmetric PSD matrix with escalating jitter.

    [`jittered_cholesky`][lowswitch.bandit.gaussian.jittered_cholesky] for one matrix, up to
    ``1e-2 x`` its mean variance, with input checks.

    Args:
        covariance: ``(m, m)`` symmetric positive semi-definite matrix.

    Returns:
        ``(L, jitter)``: ``L (m, m)`` lower triangular with
        ``L L^T = covariance + jitter * I`` and the jitter added (0.0 if none was needed).

    Raises:
        InputError: if the matrix is not finite or no jitter up to
            ``1e-2 * mean(diag)`` makes it positive definite.

    Example:
        >>> c = torch.ones(2, 2, dtype=torch.float64)      # singular
        >>> L, eps = robust_cholesky(c)
        >>> eps > 0 and torch.allclose(L @ L.T, c, atol=1e-6)
        True
    """
    if not bool(torch.isfinite(covariance).all()):
        raise InputError("covariance: expected finite values, got NaN or inf")
    if covariance.shape[-1] == 0:
        return covariance.clone(), 0.0
    try:
        L, jitter = jittered_cholesky(covariance, _JITTER_STEPS)
    except torch.linalg.LinAlgError as err:
        raise InputError(f"covariance: not positive semi-definite ({err})") from err
    return L, float(jitter)


class GaussianArms:
    """Joint Gaussian posterior ``N(mean, covariance)`` over ``m`` arms.

    Implements the [`lowswitch.bandit.Arms`][lowswitch.bandit.Arms] protocol. Inputs are converted
    to float64 (float32 warns); device follows ``mean``. The Cholesky factor is computed lazily once
    and cached.

    Args:
        mean: ``(m,)`` posterior mean.
        covariance: ``(m, m)`` posterior covariance (symmetric PSD).

    Example:
        >>> from lowswitch.bandit import torch_generator, argmax_k
        >>> arms = GaussianArms(torch.tensor([0.0, 1.0], dtype=torch.float64),
        ...                     0.01 * torch.eye(2, dtype=torch.float64))
        >>> f = arms.sample(torch_generator(0), n_samples=1)     # (1, 2)
        >>> argmax_k(f[0], 1).tolist()
        [1]
    """

    def __init__(self, mean: torch.Tensor, covariance: torch.Tensor) -> None:
        mean = torch.as_tensor(mean)
        covariance = torch.as_tensor(covariance)
        if mean.dim() != 1:
            raise InputError(f"mean: expected shape (m,), got {tuple(mean.shape)}")
        m = mean.shape[0]
        if tuple(covariance.shape) != (m, m):
            raise InputError(
                f"covariance: expected shape ({m}, {m}) to match mean, "
                f"got {tuple(covariance.shape)}"
            )
        if mean.dtype == torch.float32 or covariance.dtype == torch.float32:
            warnings.warn(
                "GaussianArms: float32 input upcast to float64", UserWarning, stacklevel=2
            )
        if not bool(torch.isfinite(mean).all()):
            raise InputError("mean: expected finite values, got NaN or inf")
        self._mean = mean.to(torch.float64)
        cov = covariance.to(dtype=torch.float64, device=self._mean.device)
        self._covariance = 0.5 * (cov + cov.transpose(-1, -2))
        self._chol: torch.Tensor | None = None
        self.jitter: float = 0.0

    @classmethod
    def independent(cls, mean: torch.Tensor, variance: torch.Tensor) -> GaussianArms:
        """Independent arms: diagonal covariance ``diag(variance)``.

        Example:
            >>> z = torch.zeros(3, dtype=torch.float64)
            >>> GaussianArms.independent(z, z + 1).variance.tolist()
            [1.0, 1.0, 1.0]
        """
        variance = torch.as_tensor(variance)
        if variance.dim() != 1:
            raise InputError(f"variance: expected shape (m,), got {tuple(variance.shape)}")
        if bool((variance < 0).any()):
            raise InputError("variance: expected values >= 0")
        return cls(mean, torch.diag(variance))

    @property
    def n_arms(self) -> int:
        """Number of arms ``m``."""
        return int(self._mean.shape[0])

    @property
    def mean(self) -> torch.Tensor:
        """``(m,)`` posterior mean."""
        return self._mean

    @property
    def covariance(self) -> torch.Tensor:
        """``(m, m)`` posterior covariance (symmetrised)."""
        return self._covariance

    @property
    def variance(self) -> torch.Tensor:
        """``(m,)`` posterior variance (diagonal of the covariance, clamped at 0)."""
        return self._covariance.diagonal().clamp_min(0.0)

    @property
    def cholesky(self) -> torch.Tensor:
        """``(m, m)`` lower factor ``L`` with ``L L^T = covariance + jitter I`` (cached)."""
        if self._chol is None:
            self._chol, self.jitter = robust_cholesky(self._covariance)
        return self._chol

    def sample(self, generator: Generator, n_samples: int = 1) -> torch.Tensor:
        """Joint draws ``mean + L z`` with ``z`` from ``generator``.

        Args:
            generator: torch generator (or numpy generator).
            n_samples: number of joint draws.

        Returns:
            ``(n_samples, m)`` float64 draws.

        Example:
            >>> from lowswitch.bandit import torch_generator
            >>> c = torch.eye(3, dtype=torch.float64)
            >>> GaussianArms(torch.zeros(3, dtype=torch.float64), c).sample(
            ...     torch_generator(0), 4).shape
            torch.Size([4, 3])
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise InputError(f"n_samples: expected an int >= 1, got {n_samples!r}")
        L = self.cholesky
        z = standard_normal(
            generator, (n_samples, self.n_arms), dtype=torch.float64, device=self._mean.device
        )
        return self._mean + z @ L.transpose(-1, -2)
