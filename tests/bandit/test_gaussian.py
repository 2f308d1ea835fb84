"""Gaussian arms: Cholesky with jitter, joint sampling with explicit generators."""

from __future__ import annotations

import pytest
import torch

from lowswitch.bandit import GaussianArms, argmax_k, robust_cholesky, torch_generator
from lowswitch.errors import InputError


def _cov(m: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(m, 2, generator=g, dtype=torch.float64)
    return torch.exp(-0.5 * torch.cdist(x, x) ** 2 / 0.3**2)


def test_sample_moments_match_joint_gaussian():
    cov = _cov(4) + 1e-3 * torch.eye(4, dtype=torch.float64)
    mean = torch.tensor([0.0, 1.0, -1.0, 2.0], dtype=torch.float64)
    arms = GaussianArms(mean, cov)
    f = arms.sample(torch_generator(0), 40000)
    assert f.shape == (40000, 4) and f.dtype == torch.float64
    torch.testing.assert_close(f.mean(0), mean, atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(f.T), cov, atol=0.03, rtol=0)
    assert arms.jitter == 0.0


def test_singular_covariance_gets_jitter():
    x = torch.tensor([[0.0], [0.0], [1e-9]], dtype=torch.float64)  # duplicates
    cov = torch.exp(-0.5 * torch.cdist(x, x) ** 2)
    L, eps = robust_cholesky(cov)
    assert eps > 0
    torch.testing.assert_close(L @ L.T, cov + eps * torch.eye(3, dtype=torch.float64))
    arms = GaussianArms(torch.zeros(3, dtype=torch.float64), cov)
    assert torch.isfinite(arms.sample(torch_generator(1), 5)).all()


def test_same_generator_state_same_draws_and_argmax():
    arms = GaussianArms(torch.zeros(6, dtype=torch.float64), _cov(6, 2))
    a = arms.sample(torch_generator(5), 3)
    b = arms.sample(torch_generator(5), 3)
    assert torch.equal(a, b)
    assert argmax_k(a[0], 1).item() == int(a[0].argmax())


def test_bad_input():
    with pytest.raises(InputError):
        GaussianArms(torch.zeros(3, dtype=torch.float64), torch.eye(2, dtype=torch.float64))
    with pytest.raises(InputError):
        GaussianArms(torch.zeros(2, dtype=torch.float64),
                     torch.tensor([[1.0, 0.0], [0.0, -5.0]], dtype=torch.float64)).sample(
            torch_generator(0))
    with pytest.raises(InputError):
        GaussianArms(torch.tensor([float("nan")], dtype=torch.float64),
                     torch.eye(1, dtype=torch.float64))


def test_float32_warns_and_upcasts():
    with pytest.warns(UserWarning):
        arms = GaussianArms(torch.zeros(2), torch.eye(2))
    assert arms.mean.dtype == torch.float64


def test_independent_arms():
    arms = GaussianArms.independent(torch.zeros(3, dtype=torch.float64),
                                    torch.tensor([1.0, 4.0, 0.0], dtype=torch.float64))
    f = arms.sample(torch_generator(0), 20000)
    torch.testing.assert_close(f.std(0), torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64),
                               atol=0.05, rtol=0)
