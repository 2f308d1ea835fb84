"""Batched training data (issue 14): UniquePointGP on (b, t, d) equals a batched SingleTaskGP.

References are BoTorch's batched ``SingleTaskGP`` on all rows with the same per-set
hyperparameters, the naive all-rows likelihood, and unbatched models fitted per set.
"""

from __future__ import annotations

import pickle

import pytest
import torch
from botorch.acquisition import (
    LogExpectedImprovement,
    UpperConfidenceBound,
    qLogExpectedImprovement,
)
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.optim.closures import get_loss_closure
from botorch.sampling import SobolQMCNormalSampler
from botorch.sampling.pathwise import draw_matheron_paths
from gpytorch.mlls import ExactMarginalLogLikelihood
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowswitch import InputError, UniquePointGP, fit_gp
from lowswitch.benchmark.gp_batched import unbatched_set
from lowswitch.errors import StateError
from lowswitch.gp import BatchedUniquePointGP, ConditionedUniquePointGP

DT = torch.float64
B, D = 3, 2


def ragged(seed: int = 0, qs: tuple[int, ...] = (4, 7, 2), t: int = 30, scale: float = 1.0):
    """``(b, t, d)`` inputs with ``qs[j]`` unique points in set j (replicates), outcomes."""
    g = torch.Generator().manual_seed(seed)
    sets = []
    for q in qs:
        U = torch.rand(q, D, generator=g, dtype=DT) * scale
        idx = torch.cat([torch.arange(q), torch.randint(0, q, (t - q,), generator=g)])
        sets.append(U[idx[torch.randperm(t, generator=g)]])
    X = torch.stack(sets)
    Y = torch.sin(3 * X.sum(-1, keepdim=True) / scale) + 0.3 * torch.randn(
        len(qs), t, 1, generator=g, dtype=DT
    )
    return X, Y


def set_hypers(model, b: int = B) -> None:
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        model.covar_module.lengthscale = 0.2 + torch.rand(b, 1, D, generator=g, dtype=DT)
        model.mean_module.constant.copy_(torch.randn(b, generator=g, dtype=DT) * 0.3)
        model.likelihood.noise = 0.05 + 0.3 * torch.rand(b, 1, generator=g, dtype=DT)


def pair(normalize: bool | str = False, standardize: bool = True, **kw):
    """Models with the same hyperparameters; ``normalize="per-set"``: per-set bounds."""
    X, Y = ragged(**kw)
    b = X.shape[0]
    it = {
        False: lambda: None,
        True: lambda: Normalize(D),
        "per-set": lambda: Normalize(D, batch_shape=torch.Size([b])),
    }[normalize]
    ot = (lambda: Standardize(1, batch_shape=torch.Size([b]))) if standardize else (lambda: None)
    model = UniquePointGP(X, Y, input_transform=it(), outcome_transform=ot())
    ref = SingleTaskGP(X, Y, input_transform=it(), outcome_transform=ot())
    for m in (model, ref):
        set_hypers(m, b)
        m.eval()
    return X, Y, model, ref


def naive_mll(ref: SingleTaskGP, X, Y):
    """Per-set log density of the (standardised) rows under the SingleTaskGP's prior."""
    ref.eval()
    Yt = Y.squeeze(-1)
    if hasattr(ref, "outcome_transform"):
        Yt = (Yt - ref.outcome_transform.means[..., 0]) / ref.outcome_transform.stdvs[..., 0]
    Xt = ref.transform_inputs(X)
    K = ref.covar_module(Xt).to_dense()
    K = K + ref.likelihood.noise[..., None] * torch.eye(X.shape[-2], dtype=DT)
    return torch.distributions.MultivariateNormal(ref.mean_module(Xt), K).log_prob(Yt)


def assert_close(a, b, rtol=1e-8, atol=1e-10):
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


# ----------------------------------------------------------------- posterior
@pytest.mark.parametrize("normalize", [False, True, "per-set"])
@pytest.mark.parametrize("standardize", [False, True])
def test_posterior_equals_batched_singletaskgp(normalize, standardize):
    X, _, model, ref = pair(normalize, standardize, scale=3.0)
    assert isinstance(model, BatchedUniquePointGP)
    assert model.batch_shape == ref.batch_shape == torch.Size([B])
    assert model.n_unique_per_batch == [4, 7, 2]
    assert model.counts.shape == (B, 7) and int((model.counts == 0).sum()) == 3 + 5
    g = torch.Generator().manual_seed(3)
    for Xt in (
        3 * torch.rand(5, D, generator=g, dtype=DT),
        3 * torch.rand(6, 1, 2, D, generator=g, dtype=DT),
        X[:, :4],  # training points (replicated and padded duplicates)
    ):
        pm, pr = model.posterior(Xt), ref.posterior(Xt)
        assert pm.mean.shape == pr.mean.shape
        assert_close(pm.mean, pr.mean)
        assert_close(pm.covariance_matrix, pr.covariance_matrix)
        noisy = model.posterior(Xt, observation_noise=True).variance
        assert_close(noisy, ref.posterior(Xt, observation_noise=True).variance)
    Xt = 3 * torch.rand(5, D, generator=g, dtype=DT)
    assert_close(model.posterior_mean(Xt), ref.posterior(Xt).mean.squeeze(-1))
    if normalize == "per-set":  # padding repeats a real input: same bounds as the rows
        assert model.input_transform.mins.shape == (B, 1, D)
        assert_close(model.input_transform.mins, ref.input_transform.mins, rtol=0, atol=0)
        assert_close(model.input_transform.ranges, ref.input_transform.ranges, rtol=0, atol=0)
    copied = pickle.loads(pickle.dumps(model))
    assert type(copied) is BatchedUniquePointGP
    assert_close(copied.posterior(Xt).mean, ref.posterior(Xt).mean)


def test_one_set_batch_equals_the_unbatched_model():
    X, Y = ragged(qs=(5,))
    batched, single = UniquePointGP(X, Y), UniquePointGP(X[0], Y[0])
    set_hypers(batched, 1)
    with torch.no_grad():
        single.covar_module.lengthscale = batched.covar_module.lengthscale[0]
        single.mean_module.constant.copy_(batched.mean_module.constant[0])
        single.likelihood.noise = batched.likelihood.noise[0]
    Xt = torch.rand(4, D, dtype=DT)
    assert_close(batched.posterior(Xt).mean[0], single.posterior(Xt).mean)
    assert_close(batched.exact_marginal_log_likelihood()[0], single.exact_marginal_log_likelihood())
    assert_close(batched.information_gain()[0], single.information_gain())
    assert_close(batched.noise_variance[0], single.noise_variance)


# ---------------------------------------------------------------- updates
@pytest.mark.parametrize("known_noise", [False, True])
def test_add_observations_equals_a_model_on_all_rows(known_noise):
    X, Y = ragged(seed=5, t=30)
    V = 0.05 + 0.1 * torch.rand(*Y.shape, generator=torch.Generator().manual_seed(1), dtype=DT)
    V = V if known_noise else None
    k = 12  # the last 12 rows of each set arrive later (new points and repeats)
    part = UniquePointGP(X[:, :-k], Y[:, :-k], None if V is None else V[:, :-k])
    full = UniquePointGP(X, Y, V)
    Xt = torch.rand(4, D, dtype=DT)
    for m in (part, full):
        set_hypers(m)
        m.posterior(Xt)  # a cached factor must be dropped by the update
    part.add_observations(X[:, -k:], Y[:, -k:], None if V is None else V[:, -k:])
    assert part.n_unique_per_batch == full.n_unique_per_batch
    assert torch.equal(part.counts, full.counts)
    part.refit_outcome_transform()  # new rows were standardised with the old constants
    assert_close(part.posterior(Xt).mean, full.posterior(Xt).mean)
    assert_close(part.posterior(Xt).variance, full.posterior(Xt).variance)
    assert_close(part.exact_marginal_log_likelihood(), full.exact_marginal_log_likelihood())


# ---------------------------------------------------------------- known noise
def test_known_noise_equals_batched_singletaskgp():
    X, Y = ragged(seed=2)
    g = torch.Generator().manual_seed(6)
    V = 0.02 + 0.1 * torch.rand(*Y.shape, generator=g, dtype=DT)
    model, ref = UniquePointGP(X, Y, V), SingleTaskGP(X, Y, train_Yvar=V)
    assert model.heteroscedastic
    lengthscale = 0.2 + torch.rand(B, 1, D, generator=g, dtype=DT)
    constant = torch.randn(B, generator=g, dtype=DT) * 0.3
    for m in (model, ref):
        with torch.no_grad():
            m.covar_module.lengthscale = lengthscale
            m.mean_module.constant.copy_(constant)
        m.eval()
    Xt = torch.rand(5, D, generator=g, dtype=DT)
    pm, pr = model.posterior(Xt), ref.posterior(Xt)
    assert_close(pm.mean, pr.mean)
    assert_close(pm.covariance_matrix, pr.covariance_matrix)
    # exact likelihood: all rows with their own noise (standardised)
    tf = ref.outcome_transform
    Yt = ((Y - tf.means) / tf.stdvs).squeeze(-1)
    K = ref.covar_module(X).to_dense() + torch.diag_embed((V / tf.stdvs**2).squeeze(-1))
    want = torch.distributions.MultivariateNormal(ref.mean_module(X), K).log_prob(Yt)
    assert_close(model.exact_marginal_log_likelihood(), want, rtol=1e-10, atol=0)
    for j in range(B):  # each set equals its own unbatched known-noise model
        single = UniquePointGP(X[j], Y[j], V[j])
        with torch.no_grad():
            single.covar_module.lengthscale = lengthscale[j]
            single.mean_module.constant.copy_(constant[j])
        assert_close(model.noise_variance[j], single.noise_variance, rtol=1e-12, atol=0)
        assert_close(
            model.exact_marginal_log_likelihood()[j],
            single.exact_marginal_log_likelihood(),
            rtol=1e-12,
            atol=0,
        )
    noise = model.likelihood.noise.clone()
    fit_gp(model)  # kernel only: the noise is known
    assert torch.equal(model.likelihood.noise, noise)


# ---------------------------------------------------------------- likelihood
@pytest.mark.parametrize("normalize", [False, True])
def test_exact_mll_per_set_equals_all_rows_and_gradients_match(normalize):
    X, Y, model, ref = pair(normalize)
    model.train()
    value = model.exact_marginal_log_likelihood()
    want = naive_mll(ref, X, Y)
    assert value.shape == (B,)
    assert_close(value, want, rtol=1e-10, atol=0)
    if not normalize:  # each set equals its own unbatched model to rounding
        for j in range(B):
            single = unbatched_set(model, X, Y, j)
            assert_close(value[j], single.exact_marginal_log_likelihood(), rtol=1e-12, atol=0)
    params = [
        "covar_module.raw_lengthscale",
        "mean_module.raw_constant",
        "likelihood.noise_covar.raw_noise",
    ]
    got_g = torch.autograd.grad(value.sum(), [dict(model.named_parameters())[p] for p in params])
    want_g = torch.autograd.grad(want.sum(), [dict(ref.named_parameters())[p] for p in params])
    for a, b in zip(got_g, want_g, strict=True):
        assert_close(a, b, rtol=1e-7, atol=1e-9)
    sd = ref.outcome_transform.stdvs.reshape(B)
    t = X.shape[1]
    assert_close(model.exact_marginal_log_likelihood(original_units=True), want - t * sd.log())


# ------------------------------------------------------------------- fitting
def _per_set_models(X, Y):
    return [fit_gp(UniquePointGP(X[j], Y[j])) for j in range(X.shape[0])]


def _objective(m):
    """Exact log-likelihood + log priors of an unbatched model (what fit_gp maximises)."""
    m.train()
    v = m.exact_marginal_log_likelihood() + sum(
        p.log_prob(c(mod)).sum() for _, mod, p, c, _ in m.named_priors()
    )
    m.eval()
    return float(v.detach())


@pytest.mark.parametrize("how", ["fit_gp", "fit_gpytorch_mll"])
def test_joint_fit_equals_fitting_each_set(how):
    X, Y = ragged(seed=4, qs=(6, 9, 3), t=60)
    model = UniquePointGP(X, Y)
    if how == "fit_gp":
        fit_gp(model)
    else:
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        model.train()
        # BoTorch's loss (used with a user closure/optimizer): the summed exact objective
        priors = sum(p.log_prob(c(m)).sum() for _, m, p, c, _ in mll.named_priors())
        want = -(model.exact_marginal_log_likelihood().sum() + priors) / sum(
            model.n_unique_per_batch
        )
        torch.testing.assert_close(get_loss_closure(mll)(), want, rtol=1e-12, atol=0)
        fit_gpytorch_mll(mll)
    for j, sep in enumerate(_per_set_models(X, Y)):
        joint = unbatched_set(model, X, Y, j)
        # same optimum to the optimiser's tolerance (ftol 1e-6 per unique point)
        assert abs(_objective(joint) - _objective(sep)) < 1e-3
        torch.testing.assert_close(
            joint.covar_module.lengthscale, sep.covar_module.lengthscale, rtol=0.05, atol=0.01
        )
        torch.testing.assert_close(joint.noise_variance, sep.noise_variance, rtol=0.02, atol=0)


# ------------------------------------------------------------- acquisitions
def test_acquisitions_equal_batched_singletaskgp():
    _, Y, model, ref = pair(True)
    g = torch.Generator().manual_seed(8)
    best = Y.max(dim=1).values  # (b, 1): one incumbent per set (output dimension kept)
    Xa = torch.rand(5, 1, 1, D, generator=g, dtype=DT)  # n x (model batch) x q x d
    for make in (
        lambda m: LogExpectedImprovement(m, best_f=best),
        lambda m: UpperConfidenceBound(m, beta=2.0),
    ):
        a, r = make(model)(Xa), make(ref)(Xa)
        assert a.shape == r.shape == (5, B)
        assert_close(a, r, rtol=1e-6, atol=1e-9)
    Xq = torch.rand(5, 1, 2, D, generator=g, dtype=DT)
    vals = [
        qLogExpectedImprovement(
            m, best_f=best.squeeze(-1), sampler=SobolQMCNormalSampler(torch.Size([64]), seed=1)
        )(Xq)
        for m in (model, ref)
    ]
    assert vals[0].shape == (5, B)
    assert_close(vals[0], vals[1], rtol=1e-6, atol=1e-9)


# -------------------------------------------------------- fantasies / conditioning
@pytest.mark.parametrize("normalize", [False, True])
def test_fantasize_and_conditioning_equal_batched_singletaskgp(normalize):
    X, _, model, ref = pair(normalize)
    g = torch.Generator().manual_seed(9)
    Xf = torch.cat([X[:, :2], torch.rand(B, 1, D, generator=g, dtype=DT)], 1)  # (b, k, d)
    fm = model.fantasize(Xf, SobolQMCNormalSampler(torch.Size([4]), seed=2))
    fr = ref.fantasize(Xf, SobolQMCNormalSampler(torch.Size([4]), seed=2))
    assert isinstance(fm, ConditionedUniquePointGP) and fm.batch_shape == fr.batch_shape
    Xt = torch.rand(5, D, generator=g, dtype=DT)
    pm, pr = fm.posterior(Xt), fr.posterior(Xt)
    assert_close(pm.mean, pr.mean, rtol=1e-8, atol=1e-9)
    assert_close(pm.covariance_matrix, pr.covariance_matrix, rtol=1e-8, atol=1e-9)
    Xc = X[:, :3] + 0.01  # (b, k, d), one batch of rows per set
    Yc = torch.randn(B, 3, 1, generator=g, dtype=DT)
    cm = model.condition_on_observations(Xc, Yc)
    ref.posterior(Xt)  # SingleTaskGP needs its prediction caches before conditioning
    cr = ref.condition_on_observations(Xc, Yc)
    assert cm.batch_shape == cr.batch_shape == torch.Size([B])
    assert_close(cm.posterior(Xt).mean, cr.posterior(Xt).mean, rtol=1e-8, atol=1e-9)
    assert_close(cm.posterior(Xt).variance, cr.posterior(Xt).variance, rtol=1e-8, atol=1e-9)


# ------------------------------------------------------------ state and dtype
def test_state_dict_round_trip_and_float_cast():
    X, Y, model, ref = pair(True)
    other = UniquePointGP(X, Y, input_transform=Normalize(D))
    Xt = torch.rand(4, D, dtype=DT)
    other.posterior(Xt)  # fills the cache, must be refreshed by the load
    other.load_state_dict(model.state_dict())
    assert_close(other.posterior(Xt).mean, ref.posterior(Xt).mean)
    want = model.posterior(Xt)
    low = model.float()
    assert {p.dtype for p in low.parameters()} == {torch.float32}
    got = low.posterior(Xt.float())
    assert got.mean.dtype == torch.float32
    torch.testing.assert_close(got.mean.double(), want.mean, rtol=1e-4, atol=1e-4)
    back = low.double()
    torch.testing.assert_close(back.posterior(Xt).mean, want.mean, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- refusals
def test_refusals_say_what_to_do():
    X, Y = ragged()
    model = UniquePointGP(X, Y)
    with pytest.raises(InputError, match="known"):
        UniquePointGP(X, Y, torch.full_like(Y, 0.1), likelihood=model.likelihood)
    with pytest.raises(InputError, match=r"train_Yvar\[2\]"):
        UniquePointGP(X, Y, torch.where(torch.arange(B)[:, None, None] == 2, -1.0, 0.1 + 0 * Y))
    with pytest.raises(InputError, match=r"batch_shape=\(3,\)"):
        UniquePointGP(X, Y, outcome_transform=Standardize(m=1))
    with pytest.raises(InputError, match=r"expected shape \(3, k, 2\)"):
        model.add_observations(X[0, :1], Y[0, :1])
    with pytest.raises(InputError, match=r"Y\[1\]"):
        model.add_observations(
            X[:, :1], torch.where(torch.arange(B)[:, None, None] == 1, 1e300, Y[:, :1])
        )
    assert model.n_observations == B * X.shape[1]  # nothing changed
    with pytest.raises(InputError, match="per training set"):
        model.hallucinate(X[0, :1], [1])
    with pytest.raises(InputError, match="pathwise"):
        draw_matheron_paths(model, torch.Size([2]))
    with pytest.raises(InputError, match="unbatched"):
        UniquePointGP.from_chunks([(X, Y)])
    with pytest.raises(InputError, match=r"train_Y\[1\]"):
        UniquePointGP(X, torch.where(torch.arange(B)[:, None, None] == 1, torch.nan, Y))
    with pytest.raises(StateError, match="outcome_scales"):
        _ = model.outcome_scale


# -------------------------------------------------------------- property test
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    qs=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    extra=st.integers(0, 12),
    seed=st.integers(0, 2**16),
)
def test_random_ragged_batches_equal_singletaskgp(qs, extra, seed):
    X, Y = ragged(seed=seed, qs=tuple(qs), t=max(qs) + extra)
    b = len(qs)
    model, ref = UniquePointGP(X, Y), SingleTaskGP(X, Y)
    for m in (model, ref):
        set_hypers(m, b)
        m.eval()
    assert model.n_unique_per_batch == list(qs)
    Xt = torch.rand(3, D, generator=torch.Generator().manual_seed(seed), dtype=DT)
    pm, pr = model.posterior(Xt), ref.posterior(Xt)
    assert_close(pm.mean, pr.mean, rtol=1e-7, atol=1e-9)
    assert_close(pm.covariance_matrix, pr.covariance_matrix, rtol=1e-7, atol=1e-9)
    assert_close(model.exact_marginal_log_likelihood(), naive_mll(ref, X, Y), rtol=1e-8, atol=1e-8)
