"""Fitting on the exact likelihood: noise consistency with replicates."""

from __future__ import annotations

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from lowswitch import UniquePointGP, fit_gp

DT = torch.float64
NOISE_SD = 0.3


def replicated(n_rep: int, q: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(q, 2, generator=g, dtype=DT)
    X = U.repeat(n_rep, 1)
    f = torch.sin(4 * X[:, :1]) + torch.cos(3 * X[:, 1:])
    return X, f + NOISE_SD * torch.randn(X.shape[0], 1, generator=g, dtype=DT), U


def test_noise_estimate_is_consistent_with_replicates():
    true = NOISE_SD**2
    errors = []
    for n_rep in (2, 10, 60):
        X, Y, _ = replicated(n_rep)
        model = fit_gp(UniquePointGP(X, Y))
        errors.append(abs(model.noise_variance.item() - true) / true)
    assert errors[-1] < 0.15, errors
    assert errors[-1] < errors[0], errors


def test_means_only_fit_is_biased():
    """The expert's shortcut without counts: a GP on the q means learns ~sigma2/n."""
    X, Y, U = replicated(60)
    model = fit_gp(UniquePointGP(X, Y))
    means = Y.reshape(60, -1).mean(0).unsqueeze(-1)
    naive = SingleTaskGP(U, means)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(naive.likelihood, naive))
    naive_noise = naive.likelihood.noise.item() * naive.outcome_transform.stdvs.item() ** 2
    assert abs(model.noise_variance.item() - NOISE_SD**2) < 0.15 * NOISE_SD**2
    assert naive_noise < 0.5 * NOISE_SD**2


def test_fit_matches_full_gp_likelihood_optimum():
    """Same objective as SingleTaskGP on all rows: the fitted log-likelihoods agree."""
    X, Y, _ = replicated(4, q=8, seed=3)
    ours = fit_gp(UniquePointGP(X, Y))
    full = SingleTaskGP(X, Y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(full.likelihood, full))
    # evaluate our exact likelihood at the full model's hyperparameters
    probe = UniquePointGP(X, Y)
    probe.load_state_dict(
        {k: v for k, v in full.state_dict().items() if not k.startswith("outcome_transform")},
        strict=False,
    )
    probe.clear_cache()
    with torch.no_grad():
        ll_ours = ours.exact_marginal_log_likelihood().item()
        ll_at_full = probe.exact_marginal_log_likelihood().item()
    assert ll_ours >= ll_at_full - 1e-3 * abs(ll_at_full)


def test_fit_converges_when_t_much_larger_than_q():
    """Regression: with t >> q the within-point term dominates the objective's size and
    L-BFGS-B's relative-reduction test used to stop before moving the lengthscales."""
    from lowswitch.gp.likelihood import ExactReplicateMLL

    X, Y, _ = replicated(20_000, q=12, seed=4)  # t = 240,000
    model = UniquePointGP(X, Y)
    init = model.covar_module.lengthscale.detach().clone()
    fit_gp(model)
    assert not torch.allclose(model.covar_module.lengthscale, init, rtol=0.05)
    mll = ExactReplicateMLL(model)
    params = [p for p in mll.parameters() if p.requires_grad]
    grads = torch.autograd.grad(mll(), params)
    assert max(g.abs().max().item() for g in grads) < 0.1  # 1.8 before the fix


def test_a_looser_tolerance_stops_sooner_and_a_bad_one_is_refused():
    import math

    import pytest

    from lowswitch.errors import InputError

    g = torch.Generator().manual_seed(3)
    X = torch.rand(40, 3, generator=g, dtype=torch.float64).repeat(2, 1)
    Y = torch.sin(4 * X).sum(-1, keepdim=True) + 0.1 * torch.randn(80, 1, generator=g,
                                                                   dtype=torch.float64)
    calls = {}
    for tol in (1e-9, 1e-2):
        model = UniquePointGP(X, Y)
        real = model.exact_marginal_log_likelihood
        count = [0]

        def counted(*a, _real=real, _count=count, **k):
            _count[0] += 1
            return _real(*a, **k)

        model.exact_marginal_log_likelihood = counted
        fit_gp(model, ftol=tol)
        calls[tol] = count[0]
    assert calls[1e-2] < calls[1e-9]
    for bad in (0.0, 1.0, math.nan, True, -1e-3):
        with pytest.raises(InputError, match=r"ftol: expected a number in \(0, 1\)"):
            fit_gp(UniquePointGP(X, Y), ftol=bad)
