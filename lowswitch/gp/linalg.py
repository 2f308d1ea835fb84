r"""Small dense linear-algebra kernels for the unique-point GP (float64, autograd-safe).

The GP works with the symmetric, well-conditioned matrix

.. math::
    A = I_q + S K_U S,\qquad S = \mathrm{diag}(\sqrt{p}),

where ``p_i`` is the precision of unique point ``i`` (``n_i / sigma2`` for homoscedastic
noise). Every eigenvalue of ``A`` is at least 1, so its Cholesky factor exists even when
``K_U`` is numerically singular, and ``(K_U + P^{-1})^{-1} = S A^{-1} S``.

Updates implemented here keep the factor ``L`` (``A = L L^T``) current without a new
O(q^3) factorisation:

* a repeat at point ``i`` changes ``p_i`` to ``p_i' = c^2 p_i`` (``c > 1``), so
  ``A' = C A C + (1 - c^2) e_i e_i^T`` with ``C = diag(1, .., c, .., 1)``: scale row ``i``
  of ``L`` by ``c`` and apply a rank-one downdate, O((q - i) q);
* new points append rows, O(q^2 k).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lowswitch.bandit.gaussian import jittered_cholesky

__all__ = ["append_rows", "cholesky_psd", "scale_row_and_downdate", "solve_lower"]


def cholesky_psd(A: Tensor, max_tries: int = 6) -> Tensor:
    """Cholesky factor of a symmetric positive (semi-)definite matrix, with jitter.

    The GP's use of the project's one jittered Cholesky,
    [`jittered_cholesky`][lowswitch.bandit.gaussian.jittered_cholesky]: plain first, then a
    diagonal jitter from ``1e-10 * mean(diag(A))``, growing 10x per try.

    Args:
        A: ``(..., q, q)`` symmetric matrix.
        max_tries: number of jitter escalations before giving up.

    Returns:
        ``(..., q, q)`` lower-triangular ``L`` with ``L L^T = A (+ jitter)``.

    Raises:
        torch.linalg.LinAlgError: not positive definite even with the largest jitter.

    Example:
        >>> L = cholesky_psd(torch.eye(2, dtype=torch.float64) * 4)
        >>> L.diagonal().tolist()
        [2.0, 2.0]
    """
    return jittered_cholesky(A, max_tries)[0]


def solve_lower(L: Tensor, B: Tensor) -> Tensor:
    """Solve ``L X = B``, ``L`` lower-triangular ``(q, q)`` or ``(b, q, q)``, ``B`` ``(..., q, m)``.

    Batch dimensions of ``B`` are folded into its columns for one solve: broadcasting a 2-D
    ``L`` over a batch would copy it per batch element (an acquisition scored on
    ``(2048, 1, d)`` inputs with q = 150 ran ~700x slower that way).
    """
    if B.dim() > 2 and L.dim() == 2:
        q = B.shape[-2]
        flat = B.movedim(-2, 0).reshape(q, -1)
        out = torch.linalg.solve_triangular(L, flat, upper=False)
        return out.reshape(q, *B.shape[:-2], B.shape[-1]).movedim(0, -2)
    extra = B.dim() - L.dim()
    if L.dim() > 2 and extra > 0 and B.shape[extra:-1] == L.shape[:-1]:
        # batched factor (b, q, q), B (..., b, q, m): fold the leading dimensions into
        # the columns, (b, q, ... * m), for one solve per factor
        lead = tuple(range(extra))
        moved = B.movedim(lead, tuple(range(-extra - 1, -1)))  # (b, q, ..., m)
        flat = moved.reshape(*L.shape[:-1], -1)
        out = torch.linalg.solve_triangular(L, flat, upper=False).reshape(moved.shape)
        return out.movedim(tuple(range(-extra - 1, -1)), lead)
    return torch.linalg.solve_triangular(L, B, upper=False)


def scale_row_and_downdate(L: Tensor, i: int, c: float) -> Tensor:
    r"""Factor of ``C A C + (1 - c^2) e_i e_i^T`` from the factor ``L`` of ``A``.

    Used when point ``i``'s precision grows by ``c^2`` (a repeat). Works in place on a
    copy; cost O((q - i) q), one step when ``i`` is the last row (the usual case while a
    block repeats the newest point).

    Args:
        L: ``(q, q)`` lower-triangular factor of ``A``.
        i: row whose precision changed.
        c: ``sqrt(p_i' / p_i) >= 1``.

    Returns:
        ``(q, q)`` updated factor.

    Example:
        >>> A = torch.tensor([[2.0, 0.5], [0.5, 1.5]], dtype=torch.float64)
        >>> C = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
        >>> A2 = C @ A @ C + torch.diag(torch.tensor([0.0, 1 - 4.0], dtype=torch.float64))
        >>> L2 = scale_row_and_downdate(torch.linalg.cholesky(A), 1, 2.0)
        >>> bool(torch.allclose(L2 @ L2.T, A2))
        True
    """
    L = L.clone()
    L[i, : i + 1] *= c
    v = torch.zeros(L.shape[0] - i, dtype=L.dtype, device=L.device)
    v[0] = (c * c - 1.0) ** 0.5
    for k in range(i, L.shape[0]):
        j = k - i
        lkk = L[k, k]
        r = torch.sqrt((lkk - v[j]) * (lkk + v[j]))
        cos = r / lkk
        sin = v[j] / lkk
        L[k, k] = r
        if k + 1 < L.shape[0]:
            col = (L[k + 1 :, k] - sin * v[j + 1 :]) / cos
            v[j + 1 :] = cos * v[j + 1 :] - sin * col
            L[k + 1 :, k] = col
    return L


def append_rows(L: Tensor, A21: Tensor, A22: Tensor) -> Tensor:
    """Factor of ``[[A, A21^T], [A21, A22]]`` from the factor ``L`` of ``A``.

    Args:
        L: ``(q, q)`` factor of the leading block.
        A21: ``(k, q)`` new off-diagonal block.
        A22: ``(k, k)`` new diagonal block.

    Returns:
        ``(q + k, q + k)`` lower-triangular factor.

    Example:
        >>> A = torch.tensor([[2.0, 0.5], [0.5, 1.5]], dtype=torch.float64)
        >>> L = append_rows(torch.linalg.cholesky(A[:1, :1]), A[1:, :1], A[1:, 1:])
        >>> bool(torch.allclose(L, torch.linalg.cholesky(A)))
        True
    """
    L21 = solve_lower(L, A21.transpose(-1, -2)).transpose(-1, -2)
    L22 = cholesky_psd(A22 - L21 @ L21.transpose(-1, -2))
    q, k = L.shape[0], A22.shape[0]
    out = L.new_zeros(q + k, q + k)
    out[:q, :q] = L
    out[q:, :q] = L21
    out[q:, q:] = L22
    return out
