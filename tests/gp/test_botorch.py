"""BoTorch acquisition functions and optimisers work on UniquePointGP unchanged."""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound, qUpperConfidenceBound
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.optim import optimize_acqf, optimize_acqf_discrete
from botorch.sampling import SobolQMCNormalSampler
from botorch.test_functions import Branin

from lowswitch import UniquePointGP, fit_gp

DT = torch.float64


@pytest.fixture(scope="module")
def model():
    g = torch.Generator().manual_seed(0)
    U = torch.rand(10, 2, generator=g, dtype=DT)
    X = U.repeat(5, 1)
    f = Branin(negate=True)
    Y = f(X * torch.tensor([15.0, 15.0], dtype=DT) - torch.tensor([5.0, 0.0], dtype=DT))
    Y = Y.unsqueeze(-1) + torch.randn(X.shape[0], 1, generator=g, dtype=DT)
    return fit_gp(UniquePointGP(X, Y))


BOUNDS = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=DT)


def test_ucb_and_logei_optimize(model):
    best = model.means.max()
    for acq in (UpperConfidenceBound(model, beta=2.0), LogExpectedImprovement(model, best_f=best)):
        x, val = optimize_acqf(acq, BOUNDS, q=1, num_restarts=4, raw_samples=64)
        assert x.shape == (1, 2) and bool(torch.isfinite(val))
        assert bool((x >= 0).all() and (x <= 1).all())


def test_qlognei_with_gradients(model):
    acq = qLogNoisyExpectedImprovement(
        model,
        X_baseline=model.unique_X,
        sampler=SobolQMCNormalSampler(torch.Size([64]), seed=0),
    )
    torch.manual_seed(0)  # optimize_acqf draws its raw samples from the global RNG
    x, val = optimize_acqf(acq, BOUNDS, q=2, num_restarts=2, raw_samples=32)
    assert x.shape == (2, 2) and bool(torch.isfinite(val))


def test_discrete(model):
    cands = torch.rand(50, 2, dtype=DT, generator=torch.Generator().manual_seed(1))
    x, _ = optimize_acqf_discrete(UpperConfidenceBound(model, beta=1.0), q=1, choices=cands)
    assert x.shape == (1, 2)
    qucb = qUpperConfidenceBound(
        model, beta=1.0, sampler=SobolQMCNormalSampler(torch.Size([32]), seed=0)
    )
    x, _ = optimize_acqf_discrete(qucb, q=3, choices=cands)
    assert x.shape == (3, 2)


def test_observation_noise_adds_sigma2(model):
    X = torch.rand(3, 2, dtype=DT)
    latent = model.posterior(X).variance
    noisy = model.posterior(X, observation_noise=True).variance
    torch.testing.assert_close(
        noisy - latent, model.noise_variance.expand_as(latent), rtol=1e-8, atol=1e-12
    )
