r"""``UniquePointGP``: an exact GP conditioned on unique inputs, as a BoTorch model.

Shapes: ``t`` observations, ``q`` unique inputs, ``d`` input dimension, ``m`` test
points, ``...`` batch dimensions of test inputs.

The posterior (docs/maths/gp.md, "The posterior") treats unique point ``u_i`` as one observation
of its mean ``ybar_i`` with noise ``sigma2 / n_i`` and is *identical* to the posterior of a
GP on all t rows; it is evaluated through the factor ``L`` of ``A = I + S K_U S``
(``S = diag(sqrt(n / sigma2))``, see ``lowswitch.gp.linalg``):

.. math::
    \mu(x) = m(x) + k_U(x)^T S A^{-1} S (\bar y - m(U)),\qquad
    \sigma^2(x) = k(x, x) - |L^{-1} S k_U(x)|^2 .

Outcome standardisation is fitted on all t observations, computed exactly from the
statistics (pooled mean and unbiased standard deviation of the raw rows), which equals
``botorch.models.transforms.Standardize`` fitted on the t rows.

Layout: this module holds construction, properties, the exact likelihood and the
gpytorch/BoTorch overrides; the class mixes in ``lowswitch.gp.cache`` (factor and
predictions), ``lowswitch.gp.transforms`` (transforms and training data),
``lowswitch.gp.updates`` (``add_observations``, ``hallucinate``) and
``lowswitch.gp.botorch_api`` (fit hooks, conditioning, ``subset_output``); input
validation is in ``lowswitch.gp.inputs`` and batched training data in
``lowswitch.gp.batched``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.model import FantasizeMixin
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from botorch.utils.types import DEFAULT, _DefaultType
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import Likelihood
from gpytorch.means import ConstantMean, Mean
from gpytorch.models import ExactGP
from torch import Tensor

from lowswitch.errors import InputError, StateError
from lowswitch.gp.botorch_api import _BoTorchMixin
from lowswitch.gp.cache import _MAX_DOWNDATE_GROWTH as _MAX_DOWNDATE_GROWTH
from lowswitch.gp.cache import _Cache, _PosteriorMixin
from lowswitch.gp.cache import _StateKey as _StateKey
from lowswitch.gp.inputs import _check_mll as _check_mll
from lowswitch.gp.inputs import _check_tensor as _check_tensor
from lowswitch.gp.inputs import _checked_likelihood, validate_observations
from lowswitch.gp.likelihood import (
    gaussian_means_log_density,
    within_point_log_density,
    within_point_log_density_known_noise,
)
from lowswitch.gp.stats import UniqueStats
from lowswitch.gp.transforms import _TransformsMixin, checked_outcome_transform
from lowswitch.gp.updates import _UpdatesMixin

__all__ = ["UniquePointGP"]


class UniquePointGP(  # type: ignore[misc]
    _PosteriorMixin,
    _TransformsMixin,
    _UpdatesMixin,
    _BoTorchMixin,
    GPyTorchModel,
    ExactGP,
    FantasizeMixin,
):
    r"""Exact single-output GP over unique inputs with replicate counts (a BoTorch model).

    Args:
        train_X: ``(t, d)`` inputs, exact repeats allowed (merged after
            canonicalisation: float64, ``-0.0 -> 0.0``, bitwise row equality).
        train_Y: ``(t, 1)`` (or ``(t,)``) observations.
        train_Yvar: optional ``(t, 1)`` known per-observation noise variances; then the
            noise is fixed (precision-weighted means) and not learned.
        covar_module: gpytorch kernel; default BoTorch's RBF with ARD and the
            dimension-scaled log-normal lengthscale prior (as ``SingleTaskGP``).
        mean_module: gpytorch mean; default ``ConstantMean``.
        input_transform: BoTorch input transform, fitted on the unique inputs.
        outcome_transform: ``DEFAULT`` (standardise on all t observations), ``None``, or
            a ``Standardize(m=1)`` instance (fitted here from the statistics). Other
            outcome transforms (``Log``, ``Power``, ``Bilog``, chains) are refused with an
            [`InputError`][lowswitch.errors.InputError]: a nonlinear transform of the rows changes
            their replicate means and sums of squares, so apply it to ``train_Y`` yourself.
        likelihood: optional homoscedastic ``gpytorch.likelihoods.GaussianLikelihood``
            (its noise prior and constraint are used); default BoTorch's ``SingleTaskGP``
            likelihood with a log-normal noise prior. Refused with ``train_Yvar`` (the
            noise is then known) and for other likelihoods (the replicate reduction holds
            for Gaussian noise with one variance per row only).

    Batched training data ``train_X`` ``(b, t, d)``, ``train_Y`` ``(b, t, 1)`` builds a
    [`BatchedUniquePointGP`][lowswitch.gp.batched.BatchedUniquePointGP] (a subclass: ``b``
    independent GPs with their own hyperparameters, as a batched ``SingleTaskGP``; each set grouped
    separately and padded with zero-count points to the largest number of unique points). Fantasy
    models from ``fantasize`` and
    [`condition_on_observations`][lowswitch.gp.model.UniquePointGP.condition_on_observations] are
    batched (see [`ConditionedUniquePointGP`][lowswitch.gp.conditioned.ConditionedUniquePointGP]).

    ``model.likelihood.noise`` is the *per-observation* noise variance ``sigma2``
    (standardised units), learned by [`lowswitch.fit_gp`][lowswitch.fit_gp] with BoTorch's
    log-normal noise prior. The cached factor remembers the parameter and buffer values it was
    computed with and is rebuilt when they change (by hand, ``load_state_dict`` or ``.to(dtype)``).
    GP maths runs in the model's dtype: float64 unless cast.

    Example:
        >>> import torch
        >>> from lowswitch import UniquePointGP, fit_gp
        >>> X = torch.tensor([[0.2], [0.2], [0.5], [0.9], [0.9], [0.9]], dtype=torch.float64)
        >>> Y = torch.sin(6 * X) + 0.05 * torch.tensor([[1.], [-1.], [0.], [2.], [0.], [-1.]])
        >>> model = fit_gp(UniquePointGP(X, Y))
        >>> model.n_unique, model.n_observations
        (3, 6)
        >>> model.posterior(torch.rand(4, 1, dtype=torch.float64)).mean.shape
        torch.Size([4, 1])
    """

    _num_outputs = 1

    def __new__(cls, *args: Any, **kwargs: Any) -> UniquePointGP:
        # batched training data (b, t, d) builds the batched subclass, as SingleTaskGP
        # takes batched data; copies and unpickling call this without arguments
        train_X = args[0] if args else kwargs.get("train_X")
        if cls is UniquePointGP and isinstance(train_X, Tensor) and train_X.ndim == 3:
            from lowswitch.gp.batched import BatchedUniquePointGP

            cls = BatchedUniquePointGP
        return super().__new__(cls)  # type: ignore[no-any-return]

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
        if isinstance(train_X, Tensor) and train_X.ndim > 2:
            raise InputError(
                f"train_X: expected (t, d) or (b, t, d) training data, got shape "
                f"{tuple(train_X.shape)}; for several batch dimensions build one model per "
                "batch (e.g. in a botorch ModelListGP)"
            )
        X, Y, V = validate_observations(
            train_X, train_Y, train_Yvar, names=("train_X", "train_Y", "train_Yvar")
        )
        outcome_transform = checked_outcome_transform(outcome_transform)
        stats = UniqueStats(X, Y, V)
        likelihood = _checked_likelihood(likelihood, known_noise=V is not None)
        ExactGP.__init__(
            self, train_inputs=stats.X, train_targets=stats.mean, likelihood=likelihood
        )
        self.stats = stats
        self._install_modules(
            stats.X, torch.Size(), mean_module, covar_module, input_transform, outcome_transform
        )

    def _install_modules(
        self,
        unique_X: Tensor,
        batch: torch.Size,
        mean_module: Mean | None,
        covar_module: Kernel | None,
        input_transform: InputTransform | None,
        outcome_transform: Standardize | None,
    ) -> None:
        """Set the mean, kernel and transforms, cast to float64 and fit the standardisation.

        The last step of ``__init__`` (unbatched and batched), once the likelihood, the
        training data and the statistics are set.

        Args:
            unique_X: ``(q, d)`` or ``(b, q, d)`` raw unique inputs; the input transform
                is fitted on them (e.g. ``Normalize`` bounds).
            batch: the model's batch shape, ``()`` or ``(b,)``: that of the default
                ``ConstantMean`` and of BoTorch's default kernel (ARD over the ``d``
                inputs, dimension-scaled lengthscale prior).
            mean_module, covar_module: given modules, or None for the defaults.
            input_transform: given transform, or None.
            outcome_transform: an already checked ``Standardize``, or None.
        """
        self.mean_module = ConstantMean(batch_shape=batch) if mean_module is None else mean_module
        self.covar_module = (
            get_covar_module_with_dim_scaled_prior(
                ard_num_dims=unique_X.shape[-1], batch_shape=batch
            )
            if covar_module is None
            else covar_module
        )
        if input_transform is not None:
            input_transform.train()
            input_transform(unique_X)  # learn e.g. Normalize bounds on the unique inputs
            input_transform.eval()
            self.input_transform = input_transform
        if outcome_transform is not None:
            self.outcome_transform = outcome_transform
        self._cache: _Cache | None = None
        self.to(torch.float64)
        self.refit_outcome_transform()

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor | None]],
        **kwargs: Any,
    ) -> UniquePointGP:
        """Build from ``(X, Y)`` or ``(X, Y, Yvar)`` chunks; memory O(q + largest chunk).

        Equal to ``UniquePointGP(cat(X), cat(Y), cat(Yvar), **kwargs)`` (statistics to
        rounding of the merges, same first-seen order): the first chunk builds the model,
        every later chunk is validated and merged in O(chunk + q), then the input transform
        and the outcome standardisation are refitted on all the data. Chunks can come from
        a generator reading a file, so t is not bounded by memory.

        Example:
            >>> X = torch.tensor([[0.2], [0.5], [0.2], [0.9]], dtype=torch.float64)
            >>> Y = torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
            >>> model = UniquePointGP.from_chunks([(X[:2], Y[:2]), (X[2:], Y[2:])])
            >>> model.n_unique, model.n_observations, model.counts.tolist()
            (3, 4, [2.0, 1.0, 1.0])
        """
        model: UniquePointGP | None = None
        for i, chunk in enumerate(chunks):
            if not isinstance(chunk, tuple) or len(chunk) not in (2, 3):
                raise InputError(
                    f"chunks[{i}]: expected a tuple (X, Y) or (X, Y, Yvar), got "
                    + (
                        f"a tuple of length {len(chunk)}"
                        if isinstance(chunk, tuple)
                        else type(chunk).__name__
                    )
                )
            X, Y = chunk[0], chunk[1]
            V = chunk[2] if len(chunk) == 3 else None
            if model is None:
                if isinstance(X, Tensor) and X.ndim != 2:
                    raise InputError(
                        f"chunks[0] X: expected shape (rows, d), got {tuple(X.shape)} "
                        "(from_chunks builds unbatched models only)"
                    )
                model = cls(X, Y, V, **kwargs)
                continue
            names = (f"chunks[{i}] X", f"chunks[{i}] Y", f"chunks[{i}] Yvar")
            Xv, Yv, Vv = validate_observations(X, Y, V, d=model.stats.d, names=names)
            model.stats.add(Xv, Yv, Vv)
        if model is None:
            raise InputError("chunks: expected at least one (X, Y) chunk, got none")
        tf: InputTransform | None = getattr(model, "input_transform", None)
        if tf is not None:
            tf.train()
            tf(model.stats.X)  # type: ignore[operator]  # relearn e.g. Normalize bounds
            tf.eval()
        model.refit_outcome_transform()
        return model

    # ------------------------------------------------------------- properties
    @property
    def n_unique(self) -> int:
        """Number of unique inputs ``q``."""
        return self.stats.q

    @property
    def n_observations(self) -> int:
        """Number of observations ``t`` (repeats included)."""
        return self.stats.t

    @property
    def unique_X(self) -> Tensor:
        """``(q, d)`` unique inputs in raw (untransformed) units, first-seen order."""
        return self.stats.X

    @property
    def counts(self) -> Tensor:
        """``(q,)`` number of observations of each unique input."""
        return self.stats.n

    @property
    def means(self) -> Tensor:
        """``(q,)`` mean observation per unique input (precision-weighted with known noise)."""
        s = self.stats
        return s.mean if s.wmean is None else s.wmean

    @property
    def heteroscedastic(self) -> bool:
        """Whether known per-observation noise variances were given."""
        return self.stats.heteroscedastic

    @property
    def outcome_scale(self) -> tuple[float, float]:
        """``(mean, std)`` of the outcome standardisation (``(0, 1)`` without one)."""
        tf = getattr(self, "outcome_transform", None)
        if tf is None:
            return 0.0, 1.0
        return float(tf.means.item()), float(tf.stdvs.item())

    @property
    def noise_variance(self) -> Tensor:
        """Per-observation noise variance in *original* outcome units (scalar tensor).

        With known noise: the harmonic mean ``t / sum_s 1 / v_s`` of the given variances.
        """
        if self.heteroscedastic:
            assert self.stats.W is not None
            return self.stats.n.sum() / self.stats.W.sum()
        return self.likelihood.noise.detach().reshape(()) * self.outcome_scale[1] ** 2

    def _apply(self, fn: Any, recurse: bool = True) -> UniquePointGP:
        # .to(dtype) / .float() / .double() / device moves: every parameter, buffer and
        # training tensor follows; the factor is rebuilt in the new dtype on demand. A
        # no-op move (BoTorch's analytic acquisitions call ``self.to(X)`` at every
        # evaluation) keeps the training data and the factor.
        has_stats = getattr(self, "stats", None) is not None
        before = (self._dtype, self._device) if has_stats else None
        super()._apply(fn)
        if has_stats and (self._dtype, self._device) != before:
            self._sync_train_data()
        return self

    def load_state_dict(  # type: ignore[override]
        self,
        state_dict: Mapping[str, Any],
        strict: bool = True,
        keep_transforms: bool = True,
        assign: bool = False,
    ) -> None:
        """Load hyperparameters (and, with ``keep_transforms=False``, transforms).

        With ``keep_transforms=True`` (BoTorch's default) the input and outcome transforms
        fitted on this model's data are kept and the state's transform entries ignored.
        The cached factor and the standardised targets are refreshed either way.
        """
        if keep_transforms:
            state_dict = {
                k: v
                for k, v in state_dict.items()
                if not k.startswith(("input_transform.", "outcome_transform."))
            }
            strict = False
        torch.nn.Module.load_state_dict(self, state_dict, strict=strict, assign=assign)
        self._sync_train_data()

    # ------------------------------------------------------------ likelihood
    def exact_marginal_log_likelihood(self, original_units: bool = False) -> Tensor:
        r"""Log-density of all t observations (docs/maths/gp.md), differentiable.

        Args:
            original_units: if True, add the standardisation Jacobian ``-t log(std)`` so
                the value is the density of the raw observations; by default it is the
                density of the standardised observations (what BoTorch's MLL optimises).

        Returns:
            Scalar tensor.
        """
        s = self.stats
        _, sd = self.outcome_scale
        U = self._transform_X(s.X.to(dtype=self._dtype, device=self._device))
        K = self.covar_module(U).to_dense()
        ybar, precision = self._standardized()
        residual = ybar - self.mean_module(U)
        value = gaussian_means_log_density(K, residual, precision)
        if s.heteroscedastic:
            assert s.W is not None and s.wm2 is not None and s.logvar is not None
            value = value + within_point_log_density_known_noise(
                s.n, s.W * sd**2, s.wm2, s.logvar - s.n * math.log(sd**2)
            )
        else:
            sigma2 = self.likelihood.noise.reshape(())
            value = value + within_point_log_density(s.n, s.m2 / sd**2, sigma2)
        if original_units:
            value = value - s.n.sum() * math.log(sd)
        return value

    # ------------------------------------------------------------- posterior
    def train(self, mode: bool = True) -> UniquePointGP:
        """Switch mode; entering training mode drops the cached factor."""
        if mode:
            self._cache = None
        return super().train(mode)  # type: ignore[return-value]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.training:
            raise StateError(
                "UniquePointGP in training mode has no gpytorch training output: "
                "gpytorch's ExactMarginalLogLikelihood(model(*train_inputs), train_targets) "
                "would score the q unique means with noise sigma2 instead of all t rows. "
                "Use lowswitch.fit_gp(model), fit_gpytorch_mll(ExactMarginalLogLikelihood("
                "model.likelihood, model)) (exact, through compute_custom_loss) or "
                "model.exact_marginal_log_likelihood(); call model.eval() for posteriors"
            )
        return self.posterior_mvn(args[0])

    def forward(self, x: Tensor) -> MultivariateNormal:
        """Prior at inputs ``x`` ``(..., m, d)`` (raw in training mode, as ``SingleTaskGP``)."""
        if self.training:
            x = self._transform_X(x)
        return MultivariateNormal(self.mean_module(x), self.covar_module(x))
