"""Exact-equivalence tests of UniquePointGP against a naive GP on all t rows."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.exceptions.warnings import InputDataWarning
from gpytorch.distributions import MultivariateNormal

from lowswitch import InputError, UniquePointGP

DT = torch.float64


def make_data(seed: int, q: int = 7, d: int = 3, max_rep: int = 6, known_noise: bool = False):
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(q, d, generator=g, dtype=DT)
    reps = torch.randint(1, max_rep + 1, (q,), generator=g)
    X = U[torch.repeat_interleave(torch.arange(q), reps)]
    X = X[torch.randperm(X.shape[0], generator=g)]
    f = torch.sin(5 * X).sum(-1, keepdim=True)
    Y = 3.0 + 2.0 * f + 0.3 * torch.randn(X.shape[0], 1, generator=g, dtype=DT)
    Yvar = None
    if known_noise:
        Yvar = 0.05 + 0.2 * torch.rand(X.shape[0], 1, generator=g, dtype=DT)
    return X, Y, Yvar


def set_hypers(model: UniquePointGP, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    d = model.unique_X.shape[1]
    with torch.no_grad():
        model.covar_module.lengthscale = 0.2 + 0.5 * torch.rand(1, d, generator=g, dtype=DT)
        model.mean_module.constant.fill_(0.3)
        if not model.heteroscedastic:
            model.likelihood.noise = torch.tensor([0.07], dtype=DT)
    model.clear_cache()


def naive(model: UniquePointGP, X: torch.Tensor, Y: torch.Tensor, Yvar, Xtest: torch.Tensor):
    """Full GP on all t rows in the model's standardised units; returns original units."""
    mu, sd = model.outcome_scale
    y = (Y.reshape(-1) - mu) / sd
    if Yvar is None:
        noise = model.likelihood.noise.detach().reshape(()).expand(y.shape[0])
    else:
        noise = Yvar.reshape(-1) / sd**2
    with torch.no_grad():
        K = model.covar_module(X).to_dense() + torch.diag(noise)
        m_train = model.mean_module(X)
        Ks = model.covar_module(Xtest, X).to_dense()
        Kss = model.covar_module(Xtest).to_dense()
        m_test = model.mean_module(Xtest)
        Kinv = torch.linalg.inv(K)
        mean = m_test + Ks @ Kinv @ (y - m_train)
        cov = Kss - Ks @ Kinv @ Ks.transpose(-1, -2)
        ll = MultivariateNormal(m_train, K).log_prob(y)
    return (
        mean * sd + mu,
        cov.diagonal(dim1=-2, dim2=-1) * sd**2,
        ll,
        ll - y.shape[0] * math.log(sd),
    )


@pytest.mark.parametrize("known_noise", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("test_shape", [(5,), (2, 5), (3, 2, 4)])
def test_posterior_and_likelihood_match_full_gp(known_noise, seed, test_shape):
    X, Y, Yvar = make_data(seed, known_noise=known_noise)
    model = UniquePointGP(X, Y, Yvar)
    set_hypers(model, seed)
    g = torch.Generator().manual_seed(100 + seed)
    Xtest = torch.rand(*test_shape, X.shape[1], generator=g, dtype=DT)
    post = model.posterior(Xtest)
    mean, var, ll_std, ll_raw = naive(model, X, Y, Yvar, Xtest)
    assert post.mean.shape == (*test_shape, 1)
    torch.testing.assert_close(post.mean.squeeze(-1), mean, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(post.variance.squeeze(-1), var, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(model.posterior_mean(Xtest), mean, rtol=1e-8, atol=1e-10)
    with torch.no_grad():
        torch.testing.assert_close(model.exact_marginal_log_likelihood(), ll_std, rtol=1e-8, atol=0)
        torch.testing.assert_close(
            model.exact_marginal_log_likelihood(original_units=True), ll_raw, rtol=1e-8, atol=0
        )


def test_standardisation_fitted_on_all_rows():
    from botorch.models.transforms.outcome import Standardize

    X, Y, _ = make_data(3)
    model = UniquePointGP(X, Y)
    ref = Standardize(m=1)
    ref(Y)
    mu, sd = model.outcome_scale
    assert mu == pytest.approx(ref.means.item(), rel=1e-12)
    assert sd == pytest.approx(ref.stdvs.item(), rel=1e-12)


def test_counts_and_means():
    X, Y, _ = make_data(4)
    model = UniquePointGP(X, Y)
    assert model.n_observations == X.shape[0]
    assert model.n_unique == torch.unique(X, dim=0).shape[0]
    for u, n, ybar in zip(model.unique_X, model.counts, model.means, strict=True):
        rows = (u == X).all(-1)
        assert int(n) == int(rows.sum())
        assert float(ybar) == pytest.approx(float(Y[rows].mean()), rel=1e-12)


@pytest.mark.parametrize("known_noise", [False, True])
def test_add_observations_matches_full_gp(known_noise):
    X, Y, Yvar = make_data(5, known_noise=known_noise)
    k = X.shape[0] // 2
    model = UniquePointGP(X[:k], Y[:k], None if Yvar is None else Yvar[:k], outcome_transform=None)
    set_hypers(model, 5)
    model.posterior(X[:1])  # build the factor so that the update path is exercised
    g = torch.Generator().manual_seed(9)
    extra = torch.rand(3, X.shape[1], generator=g, dtype=DT)
    X_new = torch.cat([X[k:], extra, X[:2]])
    Y_new = torch.cat([Y[k:], torch.randn(5, 1, generator=g, dtype=DT)])
    V_new = None if Yvar is None else torch.cat([Yvar[k:], 0.1 * torch.ones(5, 1, dtype=DT)])
    # one observation at a time, as a low-switch loop does
    for i in range(X_new.shape[0]):
        model.add_observations(
            X_new[i : i + 1], Y_new[i : i + 1], None if V_new is None else V_new[i : i + 1]
        )
    assert model._cache is not None, "factor should have been updated, not dropped"
    X_all, Y_all = torch.cat([X[:k], X_new]), torch.cat([Y[:k], Y_new])
    V_all = None if Yvar is None else torch.cat([Yvar[:k], V_new])
    Xtest = torch.rand(6, X.shape[1], generator=g, dtype=DT)
    post = model.posterior(Xtest)
    mean, var, ll, _ = naive(model, X_all, Y_all, V_all, Xtest)
    torch.testing.assert_close(post.mean.squeeze(-1), mean, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(post.variance.squeeze(-1), var, rtol=1e-8, atol=1e-10)
    # the updated factor equals a fresh factorisation
    L_updated = model._cache.L.clone()
    model.clear_cache()
    torch.testing.assert_close(L_updated, model._get_cache().L, rtol=1e-9, atol=1e-11)
    with torch.no_grad():
        torch.testing.assert_close(model.exact_marginal_log_likelihood(), ll, rtol=1e-8, atol=0)


def test_repeat_update_does_not_refactorise(monkeypatch):
    X, Y, _ = make_data(6)
    model = UniquePointGP(X, Y)
    set_hypers(model, 6)
    model.posterior(X[:1])
    import lowswitch.gp.cache as mod  # the factorisation lives here since model.py's split

    def fail(*args, **kwargs):
        raise AssertionError("full factorisation called on a repeat")

    monkeypatch.setattr(mod, "precision_factor", fail)
    model.add_observations(model.unique_X[-1:], torch.tensor([[1.0]], dtype=DT))
    model.add_observations(model.unique_X[:1], torch.tensor([[2.0]], dtype=DT))


def test_hallucinate_keeps_mean_and_shrinks_variance():
    X, Y, _ = make_data(7)
    model = UniquePointGP(X, Y)
    set_hypers(model, 7)
    x = torch.rand(2, X.shape[1], dtype=DT, generator=torch.Generator().manual_seed(1))
    Xtest = torch.cat([x, model.unique_X[:2]])
    before = model.posterior(Xtest)
    fant = model.hallucinate(x, [3, 2])
    after = fant.posterior(Xtest)
    torch.testing.assert_close(after.mean, before.mean, rtol=1e-8, atol=1e-9)
    assert bool((after.variance < before.variance).all())
    assert model.n_observations == X.shape[0]  # original untouched
    assert fant.n_observations == X.shape[0] + 5


def test_information_gain_is_half_logdet():
    X, Y, _ = make_data(8)
    model = UniquePointGP(X, Y, outcome_transform=None)
    set_hypers(model, 8)
    with torch.no_grad():
        K = model.covar_module(model.unique_X).to_dense()
        n = model.counts
        M = torch.eye(n.shape[0], dtype=DT) + n.sqrt()[:, None] * K * n.sqrt()[None, :] / 0.07
        expected = 0.5 * torch.logdet(M)
    torch.testing.assert_close(model.information_gain(), expected, rtol=1e-10, atol=0)


def test_huge_counts_and_near_singular_kernel():
    d = 2
    base = torch.tensor([[0.3, 0.3], [0.3, 0.3 + 1e-12], [0.8, 0.1]], dtype=DT)
    X = torch.cat([base[:1].repeat(1_000_000, 1), base[1:]])
    Y = torch.randn(X.shape[0], 1, dtype=DT, generator=torch.Generator().manual_seed(0))
    model = UniquePointGP(X, Y)
    assert model.n_unique == 3 and int(model.counts[0]) == 1_000_000
    with torch.no_grad():
        model.covar_module.lengthscale = torch.full((1, d), 0.5, dtype=DT)
        model.likelihood.noise = torch.tensor([1.0], dtype=DT)
    model.clear_cache()
    post = model.posterior(torch.rand(4, d, dtype=DT))
    assert bool(torch.isfinite(post.mean).all()) and bool((post.variance >= 0).all())
    assert bool(torch.isfinite(model.exact_marginal_log_likelihood()))
    # repeat at the point with 1e6 observations: downdate path, still finite and exact
    model.add_observations(base[:1].repeat(10, 1), torch.zeros(10, 1, dtype=DT))
    L_upd = model._get_cache().L.clone()
    model.clear_cache()
    torch.testing.assert_close(L_upd, model._get_cache().L, rtol=1e-8, atol=1e-10)


def test_float32_warns_and_upcasts():
    X, Y, _ = make_data(9)
    with pytest.warns(InputDataWarning, match="float64"):
        model = UniquePointGP(X.float(), Y)
    assert model.unique_X.dtype == DT


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_Y": torch.tensor([[float("nan")]] * 4, dtype=DT)}, "train_Y: expected finite"),
        ({"train_X": torch.tensor([[float("inf")]] * 4, dtype=DT)}, "train_X: expected finite"),
        ({"train_Y": torch.zeros(3, 1, dtype=DT)}, "train_Y: expected 4 rows"),
        ({"train_Y": torch.zeros(4, 2, dtype=DT)}, r"train_Y: expected shape \(t, 1\)"),
        (
            {"train_X": torch.zeros(0, 1, dtype=DT), "train_Y": torch.zeros(0, 1, dtype=DT)},
            "at least one row",
        ),
        ({"train_X": torch.zeros(4, dtype=DT)}, "train_X: expected a 2-D tensor"),
        ({"train_Yvar": -torch.ones(4, 1, dtype=DT)}, "train_Yvar: expected strictly positive"),
        ({"train_X": [[0.0]] * 4}, "train_X: expected a torch.Tensor"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {"train_X": torch.rand(4, 1, dtype=DT), "train_Y": torch.zeros(4, 1, dtype=DT)}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        UniquePointGP(**args)


def test_bad_add_observations_leaves_model_unchanged():
    X, Y, _ = make_data(10)
    model = UniquePointGP(X, Y)
    before = model.posterior(X[:3]).mean.clone()
    q, t = model.n_unique, model.n_observations
    for bad in (
        (X[:2], torch.tensor([[1.0], [float("nan")]], dtype=DT)),
        (X[:2, :2], torch.zeros(2, 1, dtype=DT)),
        (X[:2], torch.zeros(3, 1, dtype=DT)),
    ):
        with pytest.raises(InputError):
            model.add_observations(*bad)
    with pytest.raises(InputError, match="Yvar"):
        model.add_observations(X[:1], Y[:1], torch.ones(1, 1, dtype=DT))
    assert (model.n_unique, model.n_observations) == (q, t)
    torch.testing.assert_close(model.posterior(X[:3]).mean, before)


def test_rejects_non_affine_outcome_transform():
    from botorch.models.transforms.outcome import Log

    X, Y, _ = make_data(11)
    with pytest.raises(InputError, match="outcome_transform"):
        UniquePointGP(X, Y.abs() + 1, outcome_transform=Log())


def test_negative_zero_is_the_same_point():
    X = torch.tensor([[0.0, 1.0], [-0.0, 1.0]], dtype=DT)
    model = UniquePointGP(X, torch.tensor([[1.0], [2.0]], dtype=DT))
    assert model.n_unique == 1


@pytest.mark.parametrize("known_noise", [False, True])
def test_hallucinate_counts_equal_materialised_rows(known_noise):
    X, Y, Yvar = make_data(12, known_noise=known_noise)
    model = UniquePointGP(X, Y, Yvar)
    set_hypers(model, 12)
    x = torch.cat([torch.rand(1, X.shape[1], dtype=DT), model.unique_X[:1]])
    fast = model.hallucinate(x, [1_000_000, 7])  # memory O(k), not O(sum counts)
    mean = model.posterior(x).mean.reshape(-1)
    slow = model.hallucinate(x[:1], [1]).hallucinate(x[1:], [7])
    Xtest = torch.rand(5, X.shape[1], dtype=DT, generator=torch.Generator().manual_seed(3))
    assert fast.n_observations == model.n_observations + 1_000_007
    assert int(fast.counts[-1]) == 1_000_000
    torch.testing.assert_close(fast.posterior(Xtest).mean, model.posterior(Xtest).mean)
    ref = slow.hallucinate(x[:1], [999_999])
    torch.testing.assert_close(fast.posterior(Xtest).variance, ref.posterior(Xtest).variance)
    assert mean.shape == (2,)
