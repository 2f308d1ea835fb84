"""The direct RBF cross-covariance (``lowswitch.gp.rbf``) against gpytorch's kernel.

The single-point posterior computes ``k(X, U)`` of BoTorch's default kernel with plain
tensor operations; these tests hold it to gpytorch's ``RBFKernel`` (values and gradients
in the inputs and the lengthscale, on hostile scales), check that only a plain RBF kernel
takes the path, and that models with other kernels still match the general posterior.
"""

from __future__ import annotations

import pytest
import torch
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.transforms.input import Normalize
from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel
from hypothesis import given, settings
from hypothesis import strategies as st

from lowswitch import UniquePointGP
from lowswitch.gp.rbf import plain_rbf_lengthscale, rbf_cross

D = torch.float64


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), q=st.integers(1, 30), d=st.integers(1, 6),
       log_ls=st.floats(-3.5, 2.0), offset=st.floats(-1e3, 1e3), seed=st.integers(0, 2**16))
def test_values_and_gradients_equal_gpytorchs(n: int, q: int, d: int, log_ls: float,
                                              offset: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    kernel = RBFKernel(ard_num_dims=d).double()
    with torch.no_grad():
        kernel.lengthscale = torch.exp(log_ls + 0.5 * torch.randn(1, d, generator=g, dtype=D))
    X = (offset + torch.rand(n, d, generator=g, dtype=D)).requires_grad_(True)
    U = offset + torch.rand(q, d, generator=g, dtype=D)
    w = torch.randn(n, q, generator=g, dtype=D)
    ref = kernel(X, U).to_dense()
    got = rbf_cross(X, U, kernel.lengthscale)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-13)
    g_ref = torch.autograd.grad((w * ref).sum(), [X, kernel.raw_lengthscale])
    g_got = torch.autograd.grad((w * got).sum(), [X, kernel.raw_lengthscale])
    for a, b in zip(g_got, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_a_point_at_a_unique_point_has_covariance_one() -> None:
    U = torch.rand(5, 3, dtype=D)
    K = rbf_cross(U[2:3], U, torch.full((1, 3), 0.01, dtype=D))
    assert float(K[0, 2]) == 1.0
    assert bool((K >= 0).all() and (K <= 1).all())


def test_only_a_plain_unbatched_rbf_kernel_takes_the_path() -> None:
    class MyRBF(RBFKernel):
        pass

    assert plain_rbf_lengthscale(RBFKernel(ard_num_dims=2)) is not None
    assert plain_rbf_lengthscale(RBFKernel()) is not None
    for other in (MyRBF(), RBFKernel(active_dims=[0]), RBFKernel(batch_shape=torch.Size([2])),
                  ScaleKernel(RBFKernel()), MaternKernel()):
        assert plain_rbf_lengthscale(other) is None


def _model(kernel: object | None) -> UniquePointGP:
    g = torch.Generator().manual_seed(4)
    bounds = torch.tensor([[-3.0, 10.0], [5.0, 40.0]], dtype=D)
    X = (bounds[0] + (bounds[1] - bounds[0]) * torch.rand(9, 2, generator=g, dtype=D)).repeat(2, 1)
    Y = torch.cos(X[:, :1]) + 0.1 * torch.randn(18, 1, generator=g, dtype=D)
    model = UniquePointGP(X, Y, covar_module=kernel,  # type: ignore[arg-type]
                          input_transform=Normalize(2, bounds=bounds))
    with torch.no_grad():
        model.likelihood.noise = 0.02
    return model.eval()


@pytest.mark.parametrize("kernel", ["default", "scaled", "matern"])
def test_posterior_and_its_gradients_match_the_general_path(kernel: str) -> None:
    """In the inputs and in every hyperparameter, for the default and other kernels."""
    k = {"default": None, "scaled": ScaleKernel(RBFKernel(ard_num_dims=2)),
         "matern": MaternKernel(ard_num_dims=2)}[kernel]
    model = _model(k)
    X0 = torch.tensor([[[-1.0, 12.0]], [[4.0, 33.0]], [[0.5, 25.0]]], dtype=D)
    params = [p for p in model.parameters() if p.requires_grad]
    out = []
    for fast in (True, False):
        X = X0.clone().requires_grad_(True)
        post = model.posterior(X) if fast else GPyTorchModel.posterior(model, X)
        value = (post.mean + 0.7 * post.variance.sqrt()).sum()
        out.append((value.detach(), *torch.autograd.grad(value, [X, *params],
                                                         allow_unused=True)))
    for a, b in zip(out[0], out[1], strict=True):
        if b is None:  # the general path may not reach a parameter (e.g. the noise)
            continue
        assert a is not None
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)
