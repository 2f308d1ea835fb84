r"""``BatchedUniquePointGP``: ``b`` independent unique-point GPs fitted and queried at once.

Built by ``UniquePointGP(train_X, train_Y)`` with ``train_X`` ``(b, t, d)`` and
``train_Y`` ``(b, t, 1)``, like a batched ``SingleTaskGP``: batch shape ``(b,)``, one set
of hyperparameters per training set (kernel, mean and likelihood with
``batch_shape=(b,)``), outcome standardisation per set (``Standardize(m=1,
batch_shape=(b,))``), and posteriors ``(..., b, m, 1)``.

Each set is grouped separately and may have its own number ``q_j`` of unique points;
the model stores them padded to ``q = max_j q_j`` with zero-count slots that contribute
nothing (see ``lowswitch.gp.batched_maths``). Costs are those of the unbatched model
per set: O(t) grouping, O(q^3) factorisation and likelihood, nothing of size t after
grouping.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.utils.types import DEFAULT, _DefaultType
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import Likelihood
from gpytorch.means import Mean
from gpytorch.mlls import MarginalLogLikelihood
from gpytorch.models import ExactGP
from torch import Tensor

from lowswitch.errors import InputError, StateError
from lowswitch.gp.batched_maths import (
    PaddedStats,
    padded_means_log_density,
    padded_within_point_log_density,
    padded_within_point_log_density_known_noise,
)
from lowswitch.gp.inputs import (
    _check_mll,
    checked_batched_likelihood,
    checked_batched_outcome_transform,
    validate_batched_observations,
)
from lowswitch.gp.linalg import solve_lower
from lowswitch.gp.model import UniquePointGP

__all__ = ["BatchedUniquePointGP", "pooled_noise_start"]


class BatchedUniquePointGP(UniquePointGP):
    r"""A batch of ``b`` exact unique-point GPs (``UniquePointGP`` on ``(b, t, d)`` data).

    Construct it as ``UniquePointGP(train_X, train_Y, ...)`` with batched ``train_X``;
    the arguments are those of [`UniquePointGP`][lowswitch.gp.model.UniquePointGP] with these
    differences: the default kernel, mean and likelihood are ``SingleTaskGP``'s batched
    modules (``batch_shape=(b,)``: hyperparameters per set; a kernel or mean passed
    without batch shape shares its hyperparameters across the sets), a ``likelihood``
    must be a ``GaussianLikelihood(batch_shape=(b,))``, the
    outcome transform is ``DEFAULT``, ``None`` or ``Standardize(m=1, batch_shape=(b,))``
    (fitted per set on its t rows), and ``train_Yvar`` ``(b, t, 1)`` gives each set known
    noise (precision-weighted means, a fixed likelihood holding each set's harmonic-mean
    noise, as in the unbatched model).

    Ragged sets (``q_j`` unique points in set ``j``) are padded to ``q = max_j q_j`` with
    zero-count points: ``unique_X`` ``(b, q, d)`` repeats a set's first input in its
    padding slots, ``counts`` ``(b, q)`` is 0 there and ``means`` 0. Padding has
    precision 0 and drops out of the factor, the posterior and the likelihood exactly.
    The input transform is fitted on the padded unique inputs (for ``Normalize`` these
    have the bounds of the t rows).

    ``exact_marginal_log_likelihood``
    returns ``(b,)``; ``fit_gp`` and ``fit_gpytorch_mll(ExactMarginalLogLikelihood(...))`` maximise
    the sum over sets (one joint L-BFGS-B run; the sets share no parameter, so each set's optimum is
    its own). ``fantasize`` and ``condition_on_observations`` are exact (batch shape
    ``fantasies x b``); [`add_observations`][lowswitch.gp.model.UniquePointGP.add_observations]
    merges ``(b, k, d)`` rows (the factor is then rebuilt, not updated). Refused with an
    [`InputError`][lowswitch.errors.InputError]: ``hallucinate``, ``from_chunks`` and BoTorch's
    pathwise sampling (``draw_matheron_paths``): build one model per set for those.

    Example:
        >>> import torch
        >>> from lowswitch import UniquePointGP
        >>> X = torch.tensor([[[0.1], [0.1], [0.5]], [[0.2], [0.7], [0.9]]], dtype=torch.float64)
        >>> Y = torch.sin(6 * X)
        >>> model = UniquePointGP(X, Y)
        >>> type(model).__name__, model.batch_shape, model.n_unique_per_batch
        ('BatchedUniquePointGP', torch.Size([2]), [2, 3])
        >>> model.posterior(torch.rand(4, 1, dtype=torch.float64)).mean.shape
        torch.Size([2, 4, 1])
    """

    _fast_single_point = False

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        train_Yvar: Tensor | None = None,
        covar_module: Kernel | None = None,
        mean_module: Mean | None = None,
        input_transform: InputTransform | None = None,
        outcome_transform: Standardize | _DefaultType | None = DEFAULT,
        likelihood: Likelihood | None = None,
    ) -> None:
        if not isinstance(train_X, Tensor) or train_X.ndim != 3:
            shape = tuple(train_X.shape) if isinstance(train_X, Tensor) else type(train_X)
            raise InputError(f"train_X: expected shape (b, t, d), got {shape}")
        X, Y, V = validate_batched_observations(train_X, train_Y, train_Yvar)
        batch = torch.Size([X.shape[0]])
        outcome_transform = checked_batched_outcome_transform(outcome_transform, batch)
        likelihood = checked_batched_likelihood(likelihood, batch, known_noise=V is not None)
        stats = PaddedStats.build(X, Y, V)
        ExactGP.__init__(
            self, train_inputs=stats.X, train_targets=stats.mean, likelihood=likelihood
        )
        self.batch_stats = stats
        self._install_modules(
            stats.X, batch, mean_module, covar_module, input_transform, outcome_transform
        )

    # ------------------------------------------------------------- properties
    @property
    def n_unique_per_batch(self) -> list[int]:
        """Number of unique inputs ``q_j`` of each training set."""
        return self.batch_stats.q

    @property
    def n_unique(self) -> int:
        """Total number of unique inputs over the sets (``sum_j q_j``)."""
        return sum(self.batch_stats.q)

    @property
    def n_observations(self) -> int:
        """Total number of observations over the sets (``b t``)."""
        return sum(self.batch_stats.t)

    @property
    def unique_X(self) -> Tensor:
        """``(b, q, d)`` padded unique inputs (raw units)."""
        return self.batch_stats.X

    @property
    def counts(self) -> Tensor:
        """``(b, q)`` counts, 0 on padding slots."""
        return self.batch_stats.n

    @property
    def means(self) -> Tensor:
        """``(b, q)`` mean observation per unique input, 0 on padding slots."""
        return self.batch_stats.mean

    @property
    def heteroscedastic(self) -> bool:
        """Whether known per-observation noise variances were given."""
        return self.batch_stats.W is not None

    @property
    def outcome_scale(self) -> tuple[float, float]:
        """Not defined for a batch (one pair per set): see ``outcome_scales``."""
        raise StateError(
            "outcome_scale: a batched model has one standardisation per training set; "
            "use model.outcome_scales ((b,) means and stds)"
        )

    @property
    def outcome_scales(self) -> tuple[Tensor, Tensor]:
        """``(mean, std)`` of each set's standardisation, each ``(b,)`` (0 and 1 without)."""
        tf = getattr(self, "outcome_transform", None)
        b = self.batch_shape[0]
        if tf is None:
            zero = torch.zeros(b, dtype=self._dtype, device=self._device)
            return zero, zero + 1.0
        return tf.means.reshape(b), tf.stdvs.reshape(b)

    @property
    def noise_variance(self) -> Tensor:
        """``(b,)`` per-observation noise variance of each set, original units.

        With known noise: each set's harmonic mean ``t / sum_s 1 / v_s``.
        """
        s = self.batch_stats
        if s.W is not None:
            return s.n.sum(-1) / s.W.sum(-1)
        _, sd = self.outcome_scales
        return self.likelihood.noise.detach().reshape(-1) * sd**2

    # ----------------------------------------------------------- transforms
    def refit_outcome_transform(self) -> None:
        """Refit each set's standardisation on its t rows (exact, O(b q)); clears the cache."""
        tf = getattr(self, "outcome_transform", None)
        if tf is not None:
            t, mean, ss = self.batch_stats.total_moments()
            std = torch.where(t > 1, (ss / (t - 1.0).clamp_min(1.0)).sqrt(), torch.ones_like(t))
            std = torch.where(std >= tf._min_stdv, std, torch.ones_like(std))
            dt, dev = self._dtype, self._device
            tf.means = mean.reshape(-1, 1, 1).to(device=dev, dtype=dt)
            tf.stdvs = std.reshape(-1, 1, 1).to(device=dev, dtype=dt)
            tf._stdvs_sq = tf.stdvs * tf.stdvs
            tf._is_trained = torch.tensor(True)
            tf.eval()
            s = self.batch_stats
            if s.W is not None:
                harmonic = (s.n.sum(-1) / s.W.sum(-1)).to(device=dev, dtype=dt)
                self.likelihood.noise = (harmonic / std.to(device=dev, dtype=dt) ** 2)[:, None]
        self._sync_train_data()

    def _standardized(self) -> tuple[Tensor, Tensor]:
        """``(ybar_tf, precision)``, each ``(b, q)``, standardised; precision 0 on padding."""
        s = self.batch_stats
        dt, dev = self._dtype, self._device
        tf = getattr(self, "outcome_transform", None)
        ybar = (s.mean if s.wmean is None else s.wmean).to(device=dev, dtype=dt)
        if tf is not None:
            ybar = (ybar - tf.means[..., 0]) / tf.stdvs[..., 0]
        if s.W is not None:
            _, sd = self.outcome_scales
            return ybar, s.W.to(device=dev, dtype=dt) * sd[:, None] ** 2
        return ybar, s.n.to(device=dev, dtype=dt) / self.likelihood.noise

    def _apply(self, fn: Any, recurse: bool = True) -> BatchedUniquePointGP:
        super(UniquePointGP, self)._apply(fn)
        if getattr(self, "batch_stats", None) is not None:
            self._sync_train_data()
        return self

    # ------------------------------------------------------------ likelihood
    def exact_marginal_log_likelihood(self, original_units: bool = False) -> Tensor:
        """``(b,)`` log-density of each set's t observations, differentiable.

        ``original_units`` adds each set's ``-t log(std)`` (see the unbatched method).
        """
        s = self.batch_stats
        U = self._transform_X(s.X.to(dtype=self._dtype, device=self._device))
        K = self.covar_module(U).to_dense()
        ybar, precision = self._standardized()
        value = padded_means_log_density(K, ybar - self.mean_module(U), precision)
        _, sd = self.outcome_scales
        n = s.n.to(dtype=self._dtype, device=self._device)
        if s.W is not None:
            assert s.wm2 is not None and s.logvar is not None
            value = value + padded_within_point_log_density_known_noise(
                n,
                s.W.to(n) * sd[:, None] ** 2,
                s.wm2.to(n),
                s.logvar.to(n) - n * (sd[:, None] ** 2).log(),
            )
        else:
            sigma2 = self.likelihood.noise.reshape(-1)
            m2 = s.m2.to(n) / sd[:, None] ** 2
            value = value + padded_within_point_log_density(n, m2, sigma2)
        if original_units:
            value = value - n.sum(-1) * sd.log()
        return value

    def scaled_objective(self, priors: Any) -> Tensor:
        """``(sum_j exact log-likelihood_j + log priors) / sum_j q_j`` (a scalar).

        The sum over sets is what a joint fit maximises; ``priors`` is a module's
        ``named_priors()``.
        """
        value = self.exact_marginal_log_likelihood().sum()
        for _, module, prior, closure, _ in priors:
            value = value + prior.log_prob(closure(module)).sum()
        return value / self.n_unique

    def compute_custom_loss(self, mll: MarginalLogLikelihood, **kwargs: Any) -> Tensor:
        """BoTorch's loss hook: ``-scaled_objective`` (summed over the sets)."""
        _check_mll(mll)
        return -self.scaled_objective(mll.named_priors())

    # ------------------------------------------------------------- posterior
    def latent_parts(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean ``(..., b, m)`` and ``V = L^{-1} S K_U(X)`` ``(..., b, q, m)``.

        ``X`` is input-transformed ``(..., m, d)`` with ``...`` broadcasting with ``(b,)``.
        """
        c = self._get_cache()
        Kxu = self.covar_module(X, c.U).to_dense()  # (..., b, m, q)
        mean = self.mean_module(X) + (Kxu @ c.alpha.unsqueeze(-1)).squeeze(-1)
        V = solve_lower(c.L, c.s.unsqueeze(-1) * Kxu.transpose(-1, -2))
        return mean, V

    def posterior_mean(self, X: Tensor) -> Tensor:
        """Posterior mean ``(..., b, m)`` at raw ``X`` ``(..., m, d)``, original units."""
        c = self._get_cache()
        with torch.no_grad():
            mean, _ = self.latent_parts(self._transform_X(X.to(c.U.dtype)))
        mu, sd = self.outcome_scales
        return mean * sd[:, None] + mu[:, None]

    def information_gain(self) -> Tensor:
        """``(b,)`` data-dependent ``gamma_t`` of each set (padding adds ``log 1 = 0``)."""
        return self._get_cache().L.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    # ----------------------------------------------------------- conditioning
    def condition_on_observations(
        self, X: Tensor, Y: Tensor, noise: Tensor | None = None, **kwargs: Any
    ) -> Any:
        """Exact conditioning on ``(batch) x k x d`` rows, batch broadcasting with ``(b,)``.

        Returns a [`ConditionedUniquePointGP`][lowswitch.gp.conditioned.ConditionedUniquePointGP]
        with batch shape ``broadcast(batch of X, batch of Y, (b,))`` (see the unbatched method).
        """
        from lowswitch.gp.conditioned import ConditionedUniquePointGP, check_condition_args

        Xr, Yr, Vr = check_condition_args(X, Y, noise, self.batch_stats.X.shape[-1])
        if Yr.ndim == 1:
            raise InputError(
                f"Y: expected shape (batch') x {Yr.shape[-1]} x 1 for a batched model, "
                f"got {tuple(Y.shape)}"
            )
        return ConditionedUniquePointGP(self, Xr, Yr, Vr)

    def add_observations(self, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> None:
        """Merge ``k`` new rows per set into the statistics, without refitting anything.

        As in the unbatched model, new rows are standardised with the current constants
        until [`refit_outcome_transform`][lowswitch.gp.model.UniquePointGP.refit_outcome_transform]
        (or ``fit_gp``). Unlike it, the factor is not updated incrementally: it is rebuilt at the
        next prediction (O(b q^3)). Nothing is changed if validation fails.

        Args:
            X: ``(b, k, d)`` inputs; Y: ``(b, k, 1)`` observations; Yvar: ``(b, k, 1)``
                known noise variances (required iff built with ``train_Yvar``).
        """
        s = self.batch_stats
        b, d = s.X.shape[0], s.X.shape[-1]
        if not isinstance(X, Tensor) or X.ndim != 3 or X.shape[0] != b or X.shape[-1] != d:
            shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
            raise InputError(f"X: expected shape ({b}, k, {d}), got {shape}")
        if (Yvar is None) == self.heteroscedastic:
            raise InputError(
                "Yvar: expected known noise variances (this model was built with train_Yvar)"
                if self.heteroscedastic
                else "Yvar: expected None (this model was built without train_Yvar)"
            )
        Xv, Yv, Vv = validate_batched_observations(X, Y, Yvar, names=("X", "Y", "Yvar"))
        for j, stats in enumerate(s.sets):
            stats.add(Xv[j], Yv[j], None if Vv is None else Vv[j])
        self.batch_stats = PaddedStats.from_sets(s.sets)
        self._sync_train_data()

    def hallucinate(self, X: Tensor, counts: Tensor | list[int]) -> UniquePointGP:
        """Refused: build one ``UniquePointGP`` per set for GP-BUCB hallucination."""
        raise InputError(_PER_SET.format(what="hallucinate"))


_PER_SET = (
    "{what}: not supported on a batched UniquePointGP (train_X of shape (b, t, d)); "
    "build one UniquePointGP per training set"
)


def pooled_noise_start(model: BatchedUniquePointGP) -> Tensor | None:
    """``(b, 1)`` pooled within-point variance of each set (standardised), or None.

    Used by [`lowswitch.fit_gp`][lowswitch.fit_gp] as the starting noise when every set has
    replicates (``t - q_j >= 2``).
    """
    s = model.batch_stats
    if s.W is not None:
        return None  # known noise: nothing to start
    q = torch.tensor(s.q, dtype=torch.float64)
    t = torch.tensor(s.t, dtype=torch.float64)
    if bool((t - q < 2).any()):
        return None
    _, sd = model.outcome_scales
    pooled = s.m2.sum(-1) / (t - q) / sd.detach().to(torch.float64).cpu() ** 2
    lower = float(model.likelihood.noise_covar.raw_noise_constraint.lower_bound)
    floor = max(2.0 * lower, 1e-6)
    return pooled.clamp_min(floor).reshape(-1, 1).to(model._dtype)
