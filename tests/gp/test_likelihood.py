"""The Gaussian term's hand-written backward against autograd through a naive formula."""

from __future__ import annotations

import math

import pytest
import torch

from lowswitch.gp.likelihood import gaussian_means_log_density

DT = torch.float64


def _naive(K: torch.Tensor, r: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``log N(r; 0, K + diag(1/p))`` straight from the definition (autograd backward)."""
    sigma = K + torch.diag(1.0 / p)
    L = torch.linalg.cholesky(sigma)
    a = torch.cholesky_solve(r.unsqueeze(-1), L).squeeze(-1)
    return -0.5 * r @ a - L.diagonal().log().sum() - 0.5 * r.shape[0] * math.log(2 * math.pi)


def _inputs(q: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(q, 3, generator=g, dtype=DT)
    K = 1.7 * torch.exp(-0.5 * torch.cdist(X, X) ** 2 / 0.3**2)
    r = torch.randn(q, generator=g, dtype=DT)
    p = torch.rand(q, generator=g, dtype=DT) * 5.0 + 0.05
    return K, r, p


@pytest.mark.parametrize("q,seed", [(1, 0), (6, 1), (40, 2)])
def test_value_and_gradients_match_autograd_of_the_definition(q: int, seed: int) -> None:
    K, r, p = _inputs(q, seed)
    ours = [t.clone().requires_grad_() for t in (K, r, p)]
    ref = [t.clone().requires_grad_() for t in (K, r, p)]
    v_ours = gaussian_means_log_density(*ours)
    v_ref = _naive(*ref)
    torch.testing.assert_close(v_ours, v_ref, rtol=1e-10, atol=1e-10)
    g_ours = torch.autograd.grad(v_ours, ours)
    g_ref = torch.autograd.grad(v_ref, ref)
    for name, a, b in zip(("K", "residual", "precision"), g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10, msg=f"gradient wrt {name}")


def test_gradcheck_through_a_kernel_parameter() -> None:
    """Finite differences through K(lengthscale) and p(noise), as the fit uses them."""
    g = torch.Generator().manual_seed(3)
    X = torch.rand(8, 2, generator=g, dtype=DT)
    r = torch.randn(8, generator=g, dtype=DT)
    n = torch.tensor([1.0, 2, 1, 5, 1, 1, 3, 1], dtype=DT)

    def f(log_ls: torch.Tensor, log_noise: torch.Tensor) -> torch.Tensor:
        K = torch.exp(-0.5 * torch.cdist(X, X) ** 2 / log_ls.exp() ** 2)
        return gaussian_means_log_density(K, r, n / log_noise.exp())

    args = (
        torch.tensor(-1.0, dtype=DT, requires_grad=True),
        torch.tensor(-2.0, dtype=DT, requires_grad=True),
    )
    assert torch.autograd.gradcheck(f, args)
