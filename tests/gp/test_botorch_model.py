"""UniquePointGP as a BoTorch model: exact paths or loud refusals (issue 14).

Every reference is BoTorch's own ``SingleTaskGP`` on all t rows with copied
hyperparameters, or the exact posterior itself.
"""

from __future__ import annotations

import pytest
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Log, Normalize, Standardize
from botorch.optim.closures import get_loss_closure
from botorch.sampling import SobolQMCNormalSampler
from botorch.sampling.pathwise import draw_matheron_paths
from botorch.sampling.pathwise.utils import get_train_inputs
from gpytorch.likelihoods import FixedNoiseGaussianLikelihood, GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood, LeaveOneOutPseudoLikelihood

from lowswitch import InputError, UniquePointGP
from lowswitch.errors import StateError
from lowswitch.gp import ConditionedUniquePointGP

DT = torch.float64


def data(seed: int = 0, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(6, 2, generator=g, dtype=DT) * torch.tensor([4.0, 2.0], dtype=DT) * scale
    X = U.repeat_interleave(torch.tensor([1, 2, 5, 10, 20, 40]), 0)
    X = X[torch.randperm(X.shape[0], generator=g)]
    Y = torch.sin(X.sum(-1, keepdim=True) / scale) + 0.3 * torch.randn(
        X.shape[0], 1, generator=g, dtype=DT
    )
    return U, X, Y


def set_hypers(model, normalized: bool) -> None:
    with torch.no_grad():
        ls = [[0.3, 0.4]] if normalized else [[1.2, 0.8]]
        model.covar_module.lengthscale = torch.tensor(ls, dtype=DT)
        model.mean_module.constant.fill_(0.1)
        model.likelihood.noise = torch.tensor([0.2], dtype=DT)


def pair(normalize: bool, seed: int = 0):
    """A UniquePointGP and a SingleTaskGP on all rows with the same hyperparameters."""
    U, X, Y = data(seed)
    model = UniquePointGP(X, Y, input_transform=Normalize(2) if normalize else None)
    ref = SingleTaskGP(X, Y, input_transform=Normalize(2) if normalize else None)
    set_hypers(model, normalize)
    set_hypers(ref, normalize)
    model.eval()
    ref.eval()
    return U, model, ref


# ------------------------------------------------------------------ pathwise
@pytest.mark.parametrize("normalize", [False, True])
def test_matheron_paths_match_exact_posterior_with_replicates(normalize):
    U, model, _ = pair(normalize)
    Xt = torch.cat([U[:3], U[3:] + 0.05])
    post = model.posterior(Xt)
    mean, var = post.mean.squeeze(-1), post.variance.squeeze(-1)
    torch.manual_seed(1)
    samples = draw_matheron_paths(model, torch.Size([10_000]))(Xt).detach()
    sd = var.sqrt()
    # MC error of the mean is ~0.01 sd; the count-blind update was off by up to 20 sd
    assert float(((samples.mean(0) - mean) / sd).abs().max()) < 0.05
    ratio = samples.var(0) / var
    assert float(ratio.min()) > 0.93 and float(ratio.max()) < 1.07
    cov = torch.cov(samples.T)
    assert float(((cov - post.covariance_matrix) / (sd[:, None] * sd[None, :])).abs().max()) < 0.06


# ------------------------------------------------------- transforms and cache
def test_train_inputs_follow_singletaskgp_semantics_with_normalize():
    _U, model, ref = pair(True)
    raw = get_train_inputs(model, transformed=False)[0]
    torch.testing.assert_close(raw, model.unique_X, rtol=0, atol=0)
    tf = get_train_inputs(model, transformed=True)[0]
    torch.testing.assert_close(tf, model.input_transform(model.unique_X), rtol=0, atol=1e-15)
    # eval mode: train_inputs transformed once (as SingleTaskGP), raw ones kept aside
    torch.testing.assert_close(model.train_inputs[0], tf, rtol=0, atol=0)
    model.train()
    torch.testing.assert_close(model.train_inputs[0], model.unique_X, rtol=0, atol=0)
    torch.testing.assert_close(get_train_inputs(model, transformed=True)[0], tf)
    model.eval()
    ref_tf = get_train_inputs(ref, transformed=True)[0]
    assert float(ref_tf.min()) >= 0 and float(tf.min()) >= 0 and float(tf.max()) <= 1


def test_load_state_dict_refreshes_the_posterior():
    _U, model, ref = pair(False)
    other = UniquePointGP(*data(0)[1:])
    with torch.no_grad():
        other.covar_module.lengthscale = torch.tensor([[0.25, 2.0]], dtype=DT)
        other.likelihood.noise = torch.tensor([0.05], dtype=DT)
    Xt = torch.rand(4, 2, dtype=DT)
    model.posterior(Xt)  # fills the cache
    model.load_state_dict(other.state_dict())
    ref.load_state_dict(other.state_dict())
    torch.testing.assert_close(
        model.posterior(Xt).mean, ref.posterior(Xt).mean, rtol=1e-9, atol=1e-10
    )


def test_hyperparameters_set_by_hand_refresh_the_posterior():
    _U, model, ref = pair(False)
    Xt = torch.rand(4, 2, dtype=DT)
    model.posterior(Xt)
    for m in (model, ref):
        with torch.no_grad():
            m.covar_module.lengthscale = torch.tensor([[0.5, 0.5]], dtype=DT)
    torch.testing.assert_close(
        model.posterior(Xt).mean, ref.posterior(Xt).mean, rtol=1e-9, atol=1e-10
    )


@pytest.mark.parametrize("cast", ["to", "float"])
def test_dtype_casting_to_float32_and_back(cast):
    _U, model, _ref = pair(True)
    Xt = torch.rand(5, 2, dtype=DT)
    want = model.posterior(Xt)
    low = model.to(torch.float32) if cast == "to" else model.float()
    assert {p.dtype for p in low.parameters()} == {torch.float32}
    got = low.posterior(Xt.float())
    assert got.mean.dtype == torch.float32
    torch.testing.assert_close(got.mean.double(), want.mean, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(got.variance.double(), want.variance, rtol=1e-3, atol=1e-4)
    back = low.double()
    torch.testing.assert_close(back.posterior(Xt).mean, want.mean, rtol=1e-5, atol=1e-5)
    assert back.exact_marginal_log_likelihood().dtype == DT


# ------------------------------------------------------------------- fitting
def test_fit_gpytorch_mll_loss_is_the_exact_t_row_likelihood():
    _, model, _ = pair(False)
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    loss = get_loss_closure(mll)()
    priors = sum(p.log_prob(c(m)).sum() for _, m, p, c, _ in mll.named_priors())
    exact = model.exact_marginal_log_likelihood()
    torch.testing.assert_close(-loss * model.n_unique - priors, exact, rtol=1e-8, atol=0)


def test_fit_gpytorch_mll_reaches_the_exact_optimum():
    _, X, Y = data(3)
    model = UniquePointGP(X, Y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    model.train()
    objective = model.exact_marginal_log_likelihood() + sum(
        p.log_prob(c(m)).sum() for _, m, p, c, _ in model.named_priors()
    )
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(objective, params)
    # stationary for the exact t-row objective (the means-only optimum is not)
    assert max(float(g.abs().max()) for g in grads) < 0.05
    # the noise is learned from the replicates: the means-only fit cannot see them
    pooled = float(model.stats.m2.sum()) / (model.n_observations - model.n_unique)
    assert 0.5 < model.noise_variance.item() / pooled < 2.0


def test_direct_gpytorch_mll_evaluation_is_refused():
    _, model, _ = pair(False)
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with pytest.raises(StateError, match="fit_gp"):
        mll(model(*model.train_inputs), model.train_targets)
    with pytest.raises(InputError, match="fit_gp"):
        get_loss_closure(LeaveOneOutPseudoLikelihood(model.likelihood, model))()


# -------------------------------------------------------- fantasies / conditioning
@pytest.mark.parametrize("normalize", [False, True])
def test_fantasize_equals_singletaskgp_on_all_rows(normalize):
    U, model, ref = pair(normalize)
    g = torch.Generator().manual_seed(5)
    Xf = torch.cat([U[:2], torch.rand(1, 2, generator=g, dtype=DT)]).expand(4, 3, 2)
    fm = model.fantasize(Xf, SobolQMCNormalSampler(torch.Size([7]), seed=2))
    fr = ref.fantasize(Xf, SobolQMCNormalSampler(torch.Size([7]), seed=2))
    assert isinstance(fm, ConditionedUniquePointGP) and fm.batch_shape == fr.batch_shape
    Xt = torch.rand(4, 5, 2, generator=g, dtype=DT)
    pm, pr = fm.posterior(Xt), fr.posterior(Xt)
    torch.testing.assert_close(pm.mean, pr.mean, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(pm.covariance_matrix, pr.covariance_matrix, rtol=1e-9, atol=1e-9)
    noisy_m = fm.posterior(Xt, observation_noise=True).variance
    torch.testing.assert_close(noisy_m, fr.posterior(Xt, observation_noise=True).variance)


def test_fantasy_rows_are_replicates_merged_exactly():
    """A fantasy at a training point equals a UniquePointGP whose count there grew."""
    U, X, Y = data(1)
    model = UniquePointGP(X, Y)
    set_hypers(model, False)
    model.eval()
    Xn = torch.cat([U[:1], U[:1], U[4:5]])  # two rows at u_0, one at u_4
    Yn = torch.tensor([[0.3], [-0.1], [1.7]], dtype=DT)
    batched = model.condition_on_observations(Xn.expand(2, 3, 2), Yn.expand(2, 3, 1))
    merged = UniquePointGP(torch.cat([X, Xn]), torch.cat([Y, Yn]), outcome_transform=None)
    merged.load_state_dict(model.state_dict())  # same hyperparameters, transforms kept
    merged.outcome_transform = model.outcome_transform  # same standardisation
    merged.refit_outcome_transform = lambda: None  # type: ignore[method-assign]
    merged._sync_train_data()
    merged.eval()
    i0 = int((merged.unique_X == U[0]).all(-1).nonzero())
    assert merged.counts[i0] == model.counts[int((model.unique_X == U[0]).all(-1).nonzero())] + 2
    assert merged.n_unique == model.n_unique
    Xt = torch.rand(6, 2, dtype=DT)
    want = merged.posterior(Xt)
    got = batched.posterior(Xt)
    torch.testing.assert_close(got.mean[0], want.mean, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(got.variance[1], want.variance, rtol=1e-9, atol=1e-10)
    # the unbatched path merges the rows into the statistics
    direct = model.condition_on_observations(Xn, Yn)
    assert isinstance(direct, UniquePointGP) and direct.n_observations == X.shape[0] + 3
    torch.testing.assert_close(direct.posterior(Xt).mean, want.mean, rtol=1e-9, atol=1e-9)


def test_nested_conditioning_and_noise_argument():
    _U, model, ref = pair(False)
    g = torch.Generator().manual_seed(9)
    X1, X2 = torch.rand(3, 1, 2, generator=g, dtype=DT), torch.rand(3, 2, 2, generator=g, dtype=DT)
    Y1, Y2 = (
        torch.randn(3, 1, 1, generator=g, dtype=DT),
        torch.randn(3, 2, 1, generator=g, dtype=DT),
    )
    n1 = torch.full_like(Y1, 1e-3)
    m = model.condition_on_observations(X1, Y1, noise=n1).condition_on_observations(X2, Y2)
    # SingleTaskGP with a GaussianLikelihood ignores `noise` (gpytorch's homoscedastic
    # noise model drops it); with fixed noise sigma2 on every row it honours it
    _, X, Y = data(0)
    sd = float(model.outcome_scale[1])
    ref = SingleTaskGP(X, Y, train_Yvar=torch.full_like(Y, 0.2 * sd**2))
    with torch.no_grad():
        ref.covar_module.lengthscale = model.covar_module.lengthscale.detach().clone()
        ref.mean_module.constant.fill_(0.1)
    ref.eval()
    ref.posterior(X1)  # gpytorch needs a forward pass before conditioning
    r = ref.condition_on_observations(X1, Y1, noise=n1)
    r.posterior(X2)
    r = r.condition_on_observations(X2, Y2, noise=torch.full_like(Y2, 0.2))
    Xt = torch.rand(3, 4, 2, generator=g, dtype=DT)
    torch.testing.assert_close(m.posterior(Xt).mean, r.posterior(Xt).mean, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(
        m.posterior(Xt).variance, r.posterior(Xt).variance, rtol=1e-8, atol=1e-10
    )


def test_fantasize_cost_does_not_grow_with_t():
    """Same q, 1,000x more rows: the fantasy model holds nothing of size t."""
    g = torch.Generator().manual_seed(0)
    U = torch.rand(20, 2, generator=g, dtype=DT)
    small = UniquePointGP(U.repeat(2, 1), torch.randn(40, 1, generator=g, dtype=DT))
    big = UniquePointGP(U.repeat(2000, 1), torch.randn(40_000, 1, generator=g, dtype=DT))
    for m in (small, big):
        m.eval()
        fant = m.fantasize(U[:3], SobolQMCNormalSampler(torch.Size([4]), seed=0))
        sizes = [t.numel() for t in (*fant._rows, fant._Vn, fant._Lc, fant._w)]
        sizes += [t.numel() for t in vars(fant._base_cache).values() if isinstance(t, torch.Tensor)]
        assert max(sizes) <= 20 * 20 + 2 * 6 + 2 * 20 * 2


# ------------------------------------------------------------- small surfaces
def test_subset_output():
    _, model, _ = pair(False)
    Xt = torch.rand(3, 2, dtype=DT)
    sub = model.subset_output([0])
    torch.testing.assert_close(sub.posterior(Xt).mean, model.posterior(Xt).mean)
    with pytest.raises(InputError, match="one output"):
        model.subset_output([1])


def test_likelihood_argument():
    _, X, Y = data(0)
    like = GaussianLikelihood()
    model = UniquePointGP(X, Y, likelihood=like)
    assert model.likelihood is like
    with pytest.raises(InputError, match="GaussianLikelihood"):
        UniquePointGP(X, Y, likelihood=FixedNoiseGaussianLikelihood(torch.ones(X.shape[0])))
    with pytest.raises(InputError, match="train_Yvar"):
        UniquePointGP(X, Y, torch.full_like(Y, 0.1), likelihood=GaussianLikelihood())


def test_two_batch_dimensions_and_nonlinear_outcome_transforms_are_refused():
    _, X, Y = data(0)
    with pytest.raises(InputError, match="one model per batch"):
        UniquePointGP(X.expand(2, 2, *X.shape), Y.expand(2, 2, *Y.shape))
    with pytest.raises(InputError, match="Log"):
        UniquePointGP(X, Y.exp(), outcome_transform=Log())
    with pytest.raises(InputError, match="batch_shape"):
        UniquePointGP(X, Y, outcome_transform=Standardize(m=1, batch_shape=torch.Size([2])))
