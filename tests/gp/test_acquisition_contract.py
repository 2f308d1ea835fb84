"""Contract: BoTorch acquisition functions on UniquePointGP equal SingleTaskGP on all t rows.

Every public BoTorch acquisition function that accepts a single-output model (and
qLogNEHVI on a ModelListGP of two UniquePointGPs) is built on a UniquePointGP and on a
SingleTaskGP fitted to all t rows with the same hyperparameters, with the same seeds.
Values at fixed inputs must agree to rel 1e-6; then ``optimize_acqf`` runs on the
UniquePointGP version. Also ``ProximalAcquisitionFunction``, a one-stage
``qMultiStepLookahead`` and ``qMultiFidelityKnowledgeGradient`` with a fidelity column.
docs/api/gp.md lists exactly these as supported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from botorch.acquisition import (
    ExpectedImprovement,
    LogExpectedImprovement,
    LogNoisyExpectedImprovement,
    NoisyExpectedImprovement,
    PosteriorMean,
    PosteriorStandardDeviation,
    ProbabilityOfImprovement,
    UpperConfidenceBound,
    qAnalyticProbabilityOfImprovement,
    qExpectedImprovement,
    qKnowledgeGradient,
    qLogExpectedImprovement,
    qLogNoisyExpectedImprovement,
    qLowerBoundMaxValueEntropy,
    qLowerConfidenceBound,
    qMaxValueEntropy,
    qNegIntegratedPosteriorVariance,
    qNoisyExpectedImprovement,
    qPosteriorStandardDeviation,
    qProbabilityOfImprovement,
    qSimpleRegret,
    qUpperConfidenceBound,
)
from botorch.acquisition.analytic import LogProbabilityOfImprovement
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.acquisition.joint_entropy_search import qJointEntropySearch
from botorch.acquisition.knowledge_gradient import qMultiFidelityKnowledgeGradient
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_step_lookahead import qMultiStepLookahead, warmstart_multistep
from botorch.acquisition.predictive_entropy_search import qPredictiveEntropySearch
from botorch.acquisition.proximal import ProximalAcquisitionFunction
from botorch.acquisition.utils import get_optimal_samples, project_to_target_fidelity
from botorch.exceptions import UnsupportedError
from botorch.models import AffineFidelityCostModel, ModelListGP, SingleTaskGP
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from lowswitch import UniquePointGP

DT = torch.float64
BOUNDS = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=DT)
RTOL = 1e-6


def _data(seed: int):
    """Same inputs for every seed (outcome ``seed`` of a multi-output problem)."""
    g = torch.Generator().manual_seed(0)
    U = torch.rand(8, 2, generator=g, dtype=DT)
    X = U.repeat_interleave(torch.tensor([1, 1, 2, 3, 4, 6, 8, 10]), 0)
    f = torch.sin(4 * X[:, :1]) + torch.cos(3 * X[:, 1:]) * (1 + seed)
    g.manual_seed(100 + seed)
    return X, f + 0.2 * torch.randn(X.shape[0], 1, generator=g, dtype=DT)


def _hypers(model: Any, noise: bool = True) -> Any:
    with torch.no_grad():
        model.covar_module.lengthscale = torch.tensor([[0.35, 0.5]], dtype=DT)
        model.mean_module.constant.fill_(0.05)
        if noise:
            model.likelihood.noise = torch.tensor([0.15], dtype=DT)
    return model.eval()


def _models(seed: int = 0, fixed_noise_ref: bool = False):
    X, Y = _data(seed)
    model = _hypers(UniquePointGP(X, Y))
    if fixed_noise_ref:
        # same sigma2 on every row; unlike a GaussianLikelihood it honours `noise=` in
        # condition_on_observations (SingleTaskGP with a GaussianLikelihood drops it)
        sd = model.outcome_scale[1]
        ref = _hypers(SingleTaskGP(X, Y, train_Yvar=torch.full_like(Y, 0.15 * sd**2)), False)
    else:
        ref = _hypers(SingleTaskGP(X, Y))
    return model, ref


@pytest.fixture(scope="module")
def models():
    return _models()


def _sobol(n: int = 32, seed: int = 0) -> SobolQMCNormalSampler:
    return SobolQMCNormalSampler(torch.Size([n]), seed=seed)


def _x(q: int, b: int = 4, seed: int = 3) -> Tensor:
    return torch.rand(b, q, 2, generator=torch.Generator().manual_seed(seed), dtype=DT)


def _agree_and_optimize(
    make: Callable[[Any], Any], models: tuple[Any, Any], q: int, X: Tensor | None = None
) -> None:
    model, ref = models
    torch.manual_seed(0)
    acq = make(model)
    torch.manual_seed(0)
    acq_ref = make(ref)
    X = _x(q) if X is None else X
    got, want = acq(X), acq_ref(X)
    torch.testing.assert_close(got, want, rtol=RTOL, atol=1e-9)
    torch.manual_seed(1)
    x, value = optimize_acqf(acq, BOUNDS, q=q, num_restarts=2, raw_samples=16)
    assert bool(torch.isfinite(value).all())
    assert bool((x >= 0).all() and (x <= 1).all())


def _best(model: UniquePointGP) -> Tensor:
    return model.means.max()


ANALYTIC: dict[str, Callable[[Any, Tensor], Any]] = {
    "ExpectedImprovement": lambda m, b: ExpectedImprovement(m, best_f=b),
    "LogExpectedImprovement": lambda m, b: LogExpectedImprovement(m, best_f=b),
    "ProbabilityOfImprovement": lambda m, b: ProbabilityOfImprovement(m, best_f=b),
    "LogProbabilityOfImprovement": lambda m, b: LogProbabilityOfImprovement(m, best_f=b),
    "UpperConfidenceBound": lambda m, b: UpperConfidenceBound(m, beta=2.0),
    "PosteriorMean": lambda m, b: PosteriorMean(m),
    "PosteriorStandardDeviation": lambda m, b: PosteriorStandardDeviation(m),
}


@pytest.mark.parametrize("name", sorted(ANALYTIC))
def test_analytic(models, name):
    best = _best(models[0])
    _agree_and_optimize(lambda m: ANALYTIC[name](m, best), models, q=1)


MC: dict[str, Callable[[Any, UniquePointGP], Any]] = {
    "qExpectedImprovement": lambda m, u: qExpectedImprovement(m, _best(u), sampler=_sobol()),
    "qLogExpectedImprovement": lambda m, u: qLogExpectedImprovement(m, _best(u), sampler=_sobol()),
    "qProbabilityOfImprovement": lambda m, u: qProbabilityOfImprovement(
        m, _best(u), sampler=_sobol()
    ),
    "qAnalyticProbabilityOfImprovement": lambda m, u: qAnalyticProbabilityOfImprovement(
        m, _best(u)
    ),
    "qNoisyExpectedImprovement": lambda m, u: qNoisyExpectedImprovement(
        m, u.unique_X, sampler=_sobol(), prune_baseline=False
    ),
    "qLogNoisyExpectedImprovement": lambda m, u: qLogNoisyExpectedImprovement(
        m, u.unique_X, sampler=_sobol(), prune_baseline=False
    ),
    "qSimpleRegret": lambda m, u: qSimpleRegret(m, sampler=_sobol()),
    "qUpperConfidenceBound": lambda m, u: qUpperConfidenceBound(m, 2.0, sampler=_sobol()),
    "qLowerConfidenceBound": lambda m, u: qLowerConfidenceBound(m, 2.0, sampler=_sobol()),
    "qPosteriorStandardDeviation": lambda m, u: qPosteriorStandardDeviation(m, sampler=_sobol()),
    "qNegIntegratedPosteriorVariance": lambda m, u: qNegIntegratedPosteriorVariance(
        m, mc_points=_x(1, b=16, seed=7).squeeze(-2)
    ),
}


@pytest.mark.parametrize("name", sorted(MC))
def test_monte_carlo(models, name):
    _agree_and_optimize(lambda m: MC[name](m, models[0]), models, q=2)


def test_knowledge_gradient(models):
    def make(m: Any) -> qKnowledgeGradient:
        return qKnowledgeGradient(m, num_fantasies=8, sampler=_sobol(8, seed=4))

    # one-shot KG scores q + num_fantasies points per batch element
    _agree_and_optimize(make, models, q=1, X=_x(1 + 8, b=3))


@pytest.mark.parametrize("gibbon", [False, True])
def test_max_value_entropy_with_pending_points(models, gibbon):
    cls = qLowerBoundMaxValueEntropy if gibbon else qMaxValueEntropy
    cands = _x(1, b=64, seed=11).squeeze(-2)
    pending = _x(1, b=2, seed=12).squeeze(-2)
    unique = models[0].unique_X

    def make(m: Any) -> Any:
        # train_inputs given explicitly: by default BoTorch appends the model's training
        # inputs to the candidate set, i.e. t rows with repeats for SingleTaskGP and the
        # q unique rows here (the Gumbel max-value approximation counts repeats again)
        acq = cls(m, candidate_set=cands, num_mv_samples=8, train_inputs=unique)
        acq.set_X_pending(pending)
        return acq

    _agree_and_optimize(make, models, q=1)


def test_joint_entropy_search(models):
    torch.manual_seed(5)
    opt_X, opt_f = get_optimal_samples(models[0], BOUNDS, num_optima=6, raw_samples=64)

    def make(m: Any) -> qJointEntropySearch:
        return qJointEntropySearch(m, opt_X, opt_f, condition_noiseless=False)

    _agree_and_optimize(make, models, q=1)


def test_joint_entropy_search_conditions_on_noiseless_optima():
    """JES's default ``condition_noiseless=True`` passes a tiny ``noise=`` for the optima.

    A SingleTaskGP with a GaussianLikelihood drops that argument (it conditions with
    sigma2); UniquePointGP honours it, as SingleTaskGP does with fixed noise. So the
    conditional model is compared with a fixed-noise SingleTaskGP; the acquisition values
    differ from the GaussianLikelihood SingleTaskGP's by design.
    """
    model, ref = _models(fixed_noise_ref=True)
    torch.manual_seed(5)
    opt_X, opt_f = get_optimal_samples(model, BOUNDS, num_optima=6, raw_samples=64)
    acq = qJointEntropySearch(model, opt_X, opt_f)
    acq_ref = qJointEntropySearch(ref, opt_X, opt_f)
    Xt = _x(3, b=6)
    got, want = acq.conditional_model.posterior(Xt), acq_ref.conditional_model.posterior(Xt)
    torch.testing.assert_close(got.mean, want.mean, rtol=RTOL, atol=1e-9)
    torch.testing.assert_close(got.covariance_matrix, want.covariance_matrix, rtol=RTOL, atol=1e-9)
    torch.manual_seed(1)
    x, value = optimize_acqf(acq, BOUNDS, q=1, num_restarts=2, raw_samples=16)
    assert bool(torch.isfinite(value).all()) and x.shape == (1, 2)


def test_predictive_entropy_search(models):
    torch.manual_seed(6)
    opt_X, _ = get_optimal_samples(models[0], BOUNDS, num_optima=4, raw_samples=64)

    def make(m: Any) -> qPredictiveEntropySearch:
        return qPredictiveEntropySearch(m, opt_X, max_ep_iterations=20)

    _agree_and_optimize(make, models, q=1)


def test_log_nehvi_on_a_model_list():
    (m1, r1), (m2, r2) = _models(0), _models(1)
    X = m1.unique_X  # both outcomes observed at the same rows
    assert torch.equal(X, m2.unique_X)
    ref_point = torch.tensor([-1.0, -3.0], dtype=DT)

    def make(m: Any) -> qLogNoisyExpectedHypervolumeImprovement:
        return qLogNoisyExpectedHypervolumeImprovement(
            m, ref_point, X_baseline=X, sampler=_sobol(16), prune_baseline=False
        )

    _agree_and_optimize(make, (ModelListGP(m1, m2), ModelListGP(r1, r2)), q=2)


def test_analytic_noisy_ei_is_refused_by_botorch(models):
    """BoTorch restricts analytic (Log)NEI to SingleTaskGP with known noise."""
    for cls in (NoisyExpectedImprovement, LogNoisyExpectedImprovement):
        with pytest.raises(UnsupportedError):
            cls(models[0], models[0].unique_X, num_fantasies=4)


def test_proximal_acquisition_function(models):
    """Proximal weighting centres on ``train_inputs[0][-1]``: the newest *unique* input.

    Here the last row is also a new unique input, so the two models agree; when the last
    row repeats an earlier input they centre on different points (see the next test).
    """
    X, _ = _data(0)
    assert torch.equal(models[0].unique_X[-1], X[-1])
    weights = torch.tensor([0.5, 0.8], dtype=DT)

    def make(m: Any) -> ProximalAcquisitionFunction:
        return ProximalAcquisitionFunction(UpperConfidenceBound(m, beta=2.0), weights, beta=1.0)

    _agree_and_optimize(make, models, q=1)


def test_proximal_centre_is_the_newest_unique_input_not_the_last_row():
    X, Y = _data(0)
    X, Y = torch.cat([X, X[:1]]), torch.cat([Y, Y[:1] + 0.1])  # last row repeats row 0
    model, ref = _hypers(UniquePointGP(X, Y)), _hypers(SingleTaskGP(X, Y))
    assert torch.equal(model.train_inputs[0][-1], X[-2])  # newest unique input
    assert torch.equal(ref.train_inputs[0][-1], X[0])  # last row
    weights = torch.tensor([0.5, 0.8], dtype=DT)
    acq = ProximalAcquisitionFunction(PosteriorMean(model), weights, beta=1.0)
    newest = X[-2].reshape(1, 1, 2)  # proximal weight 1 at the centre
    want = torch.nn.functional.softplus(PosteriorMean(model)(newest), beta=1.0)
    torch.testing.assert_close(acq(newest), want, rtol=1e-12, atol=1e-12)
    # SingleTaskGP's centre is the repeated row 0: its weight at the newest input is < 1
    acq_ref = ProximalAcquisitionFunction(PosteriorMean(ref), weights, beta=1.0)
    want_ref = torch.nn.functional.softplus(PosteriorMean(ref)(newest), beta=1.0)
    assert float(acq_ref(newest)) < 0.99 * float(want_ref)


def test_multi_step_lookahead(models):
    """Two-stage lookahead (1 point, then 1 point per each of 2 fantasies) on fantasy models."""

    def make(m: Any) -> qMultiStepLookahead:
        return qMultiStepLookahead(m, batch_sizes=[1], samplers=[_sobol(2, seed=8)])

    acq = make(models[0])
    q_aug = acq.get_augmented_q_batch_size(1)
    _agree_and_optimize(make, models, q=q_aug, X=_x(q_aug, b=3))  # optimised as one tree
    # BoTorch's warm start reads the fantasy tree of a previous solution
    x_full = _x(q_aug, b=1)  # (1, q_aug, d): a previous solution tree
    assert warmstart_multistep(acq, BOUNDS, 2, 4, x_full).shape == (2, q_aug, 2)


def _fidelity_models() -> tuple[Any, Any]:
    """Data with a fidelity column (last input, in {0.5, 1}); d = 3."""
    X, Y = _data(0)
    s = (torch.arange(X.shape[0]) % 2).to(DT)[:, None] * 0.5 + 0.5
    Xf = torch.cat([X, s], -1)
    Yf = Y - 0.3 * (1.0 - s)

    def hypers(m: Any) -> Any:
        with torch.no_grad():
            m.covar_module.lengthscale = torch.tensor([[0.35, 0.5, 1.5]], dtype=DT)
            m.mean_module.constant.fill_(0.05)
            m.likelihood.noise = torch.tensor([0.15], dtype=DT)
        return m.eval()

    return hypers(UniquePointGP(Xf, Yf)), hypers(SingleTaskGP(Xf, Yf))


def test_multi_fidelity_knowledge_gradient():
    models = _fidelity_models()
    bounds = torch.tensor([[0.0, 0.0, 0.5], [1.0, 1.0, 1.0]], dtype=DT)
    cost = InverseCostWeightedUtility(AffineFidelityCostModel({2: 1.0}, fixed_cost=0.5))

    def project(X: Tensor) -> Tensor:
        return project_to_target_fidelity(X, target_fidelities={2: 1.0}, d=3)

    def make(m: Any) -> qMultiFidelityKnowledgeGradient:
        return qMultiFidelityKnowledgeGradient(
            m,
            num_fantasies=4,
            sampler=_sobol(4, seed=9),
            current_value=torch.tensor(0.5, dtype=DT),
            cost_aware_utility=cost,
            project=project,
        )

    model, ref = models
    X = torch.rand(3, 1 + 4, 3, generator=torch.Generator().manual_seed(3), dtype=DT)
    X[..., 2] = 0.5 + 0.5 * X[..., 2]
    got, want = make(model)(X), make(ref)(X)
    torch.testing.assert_close(got, want, rtol=RTOL, atol=1e-9)
    torch.manual_seed(1)
    x, value = optimize_acqf(make(model), bounds, q=1, num_restarts=2, raw_samples=16)
    assert bool(torch.isfinite(value).all()) and x.shape == (1, 3)
