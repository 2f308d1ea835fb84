"""Cross-covariances of BoTorch's default kernel, computed directly on the hot path.

An acquisition optimiser evaluates the single-point posterior a few thousand times per
decision at a handful of points each. Through gpytorch's ``Kernel.__call__`` (a lazily
evaluated kernel tensor, input checks, a linear operator) most of the cost of one
``k(X, U)`` with ``X`` of 4 rows is that machinery; computed with plain tensor operations it
is the same number to rounding (what this saves in a UCB run: docs/benchmarks/bo.md,
"UCB's decision time"). Only a plain, unbatched gpytorch ``RBFKernel`` (what
``get_covar_module_with_dim_scaled_prior`` builds, BoTorch's default) takes this path;
any other kernel goes through gpytorch unchanged.
"""

from __future__ import annotations

from typing import Any

from gpytorch.kernels import RBFKernel
from torch import Tensor

__all__ = ["is_plain_rbf", "plain_rbf_lengthscale", "rbf_cross"]


def is_plain_rbf(kernel: Any) -> bool:
    """Exactly gpytorch's ``RBFKernel`` (not a subclass), no ``active_dims``, no batch shape.

    Example:
        >>> is_plain_rbf(RBFKernel()), is_plain_rbf(RBFKernel(active_dims=[0]))
        (True, False)
    """
    return type(kernel) is RBFKernel and kernel.active_dims is None and not kernel.batch_shape


def plain_rbf_lengthscale(kernel: Any) -> Tensor | None:
    """The ``(1, d)`` lengthscale of a plain, unbatched ``RBFKernel``; ``None`` otherwise.

    Plain: exactly gpytorch's ``RBFKernel`` (not a subclass), no ``active_dims``, no batch
    shape. Gradients flow to the kernel's raw lengthscale as through gpytorch.

    Example:
        >>> from gpytorch.kernels import MaternKernel
        >>> plain_rbf_lengthscale(RBFKernel(ard_num_dims=2)).shape
        torch.Size([1, 2])
        >>> plain_rbf_lengthscale(MaternKernel()) is None
        True
    """
    if not is_plain_rbf(kernel):
        return None
    lengthscale: Tensor = kernel.lengthscale
    return lengthscale


def rbf_cross(X: Tensor, U: Tensor, lengthscale: Tensor) -> Tensor:
    """``k(X, U) = exp(-|(x - u) / l|^2 / 2)``, as gpytorch's ``RBFKernel`` computes it.

    Squared distances by the quadratic expansion, centred first at the mean of ``U / l``
    (gpytorch centres at the mean of its first argument; either keeps the expansion's
    cancellation small) and clamped at zero.

    Args:
        X: ``(n, d)`` inputs (transformed, as the kernel sees them).
        U: ``(q, d)`` inputs.
        lengthscale: ``(1, d)`` or ``(d,)``.

    Returns:
        ``(n, q)``.

    Example:
        >>> import torch
        >>> k = RBFKernel(ard_num_dims=2).double()
        >>> X, U = torch.rand(3, 2).double(), torch.rand(5, 2).double()
        >>> ref = k(X, U).to_dense()
        >>> bool(torch.allclose(rbf_cross(X, U, k.lengthscale), ref, atol=1e-14, rtol=0))
        True
    """
    Z = X / lengthscale
    V = U / lengthscale
    centre = V.mean(-2, keepdim=True)
    Z = Z - centre
    V = V - centre
    sq = (Z * Z).sum(-1, keepdim=True) + (V * V).sum(-1) - 2.0 * (Z @ V.transpose(-1, -2))
    return (-0.5 * sq.clamp_min(0.0)).exp()
