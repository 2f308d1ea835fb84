"""UniquePointGP.from_chunks against the same model built from all rows and a t-row GP."""

from __future__ import annotations

import pytest
import torch
from botorch.models.transforms.input import Normalize

from lowswitch import InputError, UniquePointGP

DT = torch.float64


def make_data(seed, q, max_rep, known_noise):
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(q, 3, generator=g, dtype=DT)
    reps = torch.randint(1, max_rep + 1, (q,), generator=g)
    X = U[torch.repeat_interleave(torch.arange(q), reps)]
    X = X[torch.randperm(X.shape[0], generator=g)]
    Y = 3.0 + 2.0 * torch.sin(5 * X).sum(-1, keepdim=True)
    Y = Y + 0.3 * torch.randn(X.shape[0], 1, generator=g, dtype=DT)
    V = 0.05 + 0.2 * torch.rand(X.shape[0], 1, generator=g, dtype=DT) if known_noise else None
    return X, Y, V


def set_hypers(model):
    with torch.no_grad():
        model.covar_module.lengthscale = torch.tensor([[0.3, 0.5, 0.7]], dtype=DT)
        model.mean_module.constant.fill_(0.3)
        if not model.heteroscedastic:
            model.likelihood.noise = torch.tensor([0.07], dtype=DT)
    model.clear_cache()


def naive(model, Z, Y, V, Ztest):
    """Mean and variance of the GP on all t rows (transformed inputs Z), original units."""
    mu, sd = model.outcome_scale
    y = (Y.reshape(-1) - mu) / sd
    noise = (
        model.likelihood.noise.reshape(()).expand(len(y)) if V is None else V.reshape(-1) / sd**2
    )
    with torch.no_grad():
        K = model.covar_module(Z).to_dense() + torch.diag(noise)
        Ks = model.covar_module(Ztest, Z).to_dense()
        mean = model.mean_module(Ztest) + Ks @ torch.linalg.solve(K, y - model.mean_module(Z))
        var = model.covar_module(Ztest).to_dense().diagonal() - (
            Ks * torch.linalg.solve(K, Ks.T).T
        ).sum(-1)
    return mean * sd + mu, var * sd**2


def chunked(X, Y, Yvar, size):
    for s in range(0, X.shape[0], size):
        yield (X[s : s + size], Y[s : s + size]) + (() if Yvar is None else (Yvar[s : s + size],))


@pytest.mark.parametrize("known_noise", [False, True])
@pytest.mark.parametrize("size", [1, 4, 1000])
def test_from_chunks_posterior_equals_all_rows_gp(known_noise, size):
    X, Y, Yvar = make_data(4, 9, 5, known_noise)
    X = 10.0 * X - 3.0  # outside the unit cube: the Normalize bounds come from all chunks
    whole = UniquePointGP(X, Y, Yvar, input_transform=Normalize(d=3))
    model = UniquePointGP.from_chunks(chunked(X, Y, Yvar, size), input_transform=Normalize(d=3))
    assert torch.equal(model.unique_X, whole.unique_X)
    assert torch.equal(model.counts, whole.counts)
    torch.testing.assert_close(model.means, whole.means, rtol=1e-13, atol=0)
    torch.testing.assert_close(model.input_transform.offset, whole.input_transform.offset)
    assert model.outcome_scale == pytest.approx(whole.outcome_scale, rel=1e-13)
    set_hypers(model)
    Xtest = torch.rand(6, 3, generator=torch.Generator().manual_seed(1), dtype=DT) * 10 - 3
    post = model.posterior(Xtest)
    # the t-row reference works in the transformed inputs
    mean, var = naive(model, model.input_transform(X), Y, Yvar, model.input_transform(Xtest))
    torch.testing.assert_close(post.mean.squeeze(-1), mean, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(post.variance.squeeze(-1), var, rtol=1e-8, atol=1e-10)


def test_from_chunks_refuses_bad_chunks():
    X, Y, V = make_data(0, 7, 3, True)
    with pytest.raises(InputError, match="at least one"):
        UniquePointGP.from_chunks(iter(()))
    with pytest.raises(InputError, match=r"chunks\[1\]: expected a tuple"):
        UniquePointGP.from_chunks([(X, Y), X])
    with pytest.raises(InputError, match=r"chunks\[1\] X: expected 3 columns"):
        UniquePointGP.from_chunks([(X, Y), (X[:, :2], Y)])
    with pytest.raises(InputError, match="Yvar"):
        UniquePointGP.from_chunks([(X, Y), (X, Y, V)])
