"""``UniquePointGP.posterior`` on one point per batch comes straight from the factor.

Analytic acquisitions (LogEI, UCB, ...) score ``(b, 1, d)`` inputs; the model computes
those posteriors from its cached factor instead of gpytorch's prediction strategy. These
tests hold that path to the general one (``GPyTorchModel.posterior``) and to
``SingleTaskGP``, values and gradients, and check that BoTorch's ``self.to(X)`` at every
acquisition call no longer throws the factor away.
"""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound
from botorch.models import SingleTaskGP
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.transforms.input import Normalize

from lowswitch import UniquePointGP

D = torch.float64


def _data(seed: int = 0, d: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    bounds = torch.tensor([[-4.0] * d, [6.0] * d], dtype=D)
    X = (bounds[0] + 10 * torch.rand(12, d, generator=g, dtype=D)).repeat(3, 1)
    Y = torch.sin(X).sum(-1, keepdim=True) + 0.2 * torch.randn(36, 1, generator=g, dtype=D)
    return X, Y, bounds


def _models(transform: bool) -> tuple[UniquePointGP, SingleTaskGP]:
    X, Y, bounds = _data()
    d = X.shape[-1]
    ours = UniquePointGP(X, Y, input_transform=Normalize(d, bounds=bounds) if transform else None)
    ref = SingleTaskGP(X, Y, input_transform=Normalize(d, bounds=bounds) if transform else None)
    with torch.no_grad():
        ours.covar_module.lengthscale = torch.tensor([[0.3, 0.5, 0.8]], dtype=D)
        ref.covar_module.lengthscale = torch.tensor([[0.3, 0.5, 0.8]], dtype=D)
        ours.likelihood.noise = 0.05
        ref.likelihood.noise = 0.05
        ours.mean_module.constant.fill_(0.1)
        ref.mean_module.constant.fill_(0.1)
    return ours.eval(), ref.eval()


@pytest.mark.parametrize("transform", [False, True])
@pytest.mark.parametrize("shape", [(1, 3), (7, 1, 3), (2, 5, 1, 3)])
def test_single_point_posterior_equals_the_general_path_and_single_task_gp(
    transform: bool, shape: tuple[int, ...]
) -> None:
    ours, ref = _models(transform)
    X = -4 + 10 * torch.rand(*shape, generator=torch.Generator().manual_seed(1), dtype=D)
    fast = ours.posterior(X)
    slow = GPyTorchModel.posterior(ours, X)
    other = ref.posterior(X)
    for post in (slow, other):
        assert fast.mean.shape == post.mean.shape
        torch.testing.assert_close(fast.mean, post.mean, rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(fast.variance, post.variance, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("acqf", ["logei", "ucb"])
def test_acquisition_values_and_gradients_match_single_task_gp(acqf: str) -> None:
    ours, ref = _models(True)
    X0 = -4 + 10 * torch.rand(6, 1, 3, generator=torch.Generator().manual_seed(2), dtype=D)
    grads, values = [], []
    for model in (ours, ref):
        acq = (LogExpectedImprovement(model, best_f=1.0) if acqf == "logei"
               else UpperConfidenceBound(model, beta=2.0))
        X = X0.clone().requires_grad_(True)
        v = acq(X)
        v.sum().backward()
        values.append(v.detach())
        grads.append(X.grad)
    torch.testing.assert_close(values[0], values[1], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-7, atol=1e-10)


def test_single_point_batches_do_not_use_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    ours, _ = _models(True)
    expected = GPyTorchModel.posterior(ours, torch.full((3, 1, 3), 0.5, dtype=D))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("general posterior path taken")

    monkeypatch.setattr(GPyTorchModel, "posterior", refuse)
    got = ours.posterior(torch.full((3, 1, 3), 0.5, dtype=D))
    torch.testing.assert_close(got.mean, expected.mean, rtol=1e-12, atol=1e-12)
    with pytest.raises(AssertionError, match="general posterior path"):
        ours.posterior(torch.full((3, 2, 3), 0.5, dtype=D))


def test_other_posteriors_take_the_general_path() -> None:
    ours, _ = _models(True)
    X = torch.rand(4, 2, 3, dtype=D)  # two points per batch: joint covariance
    post = ours.posterior(X)
    assert post.distribution.covariance_matrix.shape == (4, 2, 2)
    noisy = ours.posterior(torch.rand(4, 1, 3, dtype=D), observation_noise=True)
    plain = ours.posterior(noisy.mean.new_zeros(4, 1, 3) + 0.5)
    assert bool((noisy.variance > plain.variance.min()).all())


def test_acquisition_calls_keep_the_factor_and_a_dtype_change_rebuilds_it() -> None:
    ours, _ = _models(True)
    acq = LogExpectedImprovement(ours, best_f=1.0)
    X = torch.rand(5, 1, 3, dtype=D)
    acq(X)
    cache = ours._cache
    assert cache is not None
    acq(X)  # BoTorch calls self.to(X): a no-op move keeps the factor
    assert ours._cache is cache
    ours.float()
    assert ours._cache is None
    assert ours.posterior(X.float()).mean.dtype == torch.float32
