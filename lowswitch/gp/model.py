r"""``UniquePointGP``: an exact GP conditioned on unique inputs, as a BoTorch model.

Shapes: ``t`` observations, ``q`` unique inputs, ``d`` input dimension, ``m`` test
points, ``...`` batch dimensions of test inputs.

The posterior (ALGORITHMS.md section 1) treats unique point ``u_i`` as one observation
of its mean ``ybar_i`` with noise ``sigma2 / n_i`` and is *identical* to the posterior of a
GP on all t rows; it is evaluated through the factor ``L`` of ``A = I + S K_U S``
(``S = diag(sqrt(n / sigma2))``, see :mod:`lowswitch.gp.linalg`):

.. math::
    \mu(x) = m(x) + k_U(x)^T S A^{-1} S (\bar y - m(U)),\qquad
    \sigma^2(x) = k(x, x) - |L^{-1} S k_U(x)|^2 .

Outcome standardisation is fitted on all t observations, computed exactly from the
statistics (pooled mean and unbiased standard deviation of the raw rows), which equals
``botorch.models.transforms.Standardize`` fitted on the t rows.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from botorch.exceptions.warnings import InputDataWarning
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.model import FantasizeMixin
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import (
    get_covar_module_with_dim_scaled_prior,
    get_gaussian_likelihood_with_lognormal_prior,
)
from botorch.utils.types import DEFAULT, _DefaultType
from gpytorch.constraints import Positive
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import Kernel
from gpytorch.likelihoods import GaussianLikelihood, Likelihood
from gpytorch.means import ConstantMean, Mean
from gpytorch.mlls import ExactMarginalLogLikelihood, MarginalLogLikelihood
from gpytorch.models import ExactGP
from linear_operator.operators import DenseLinearOperator
from torch import Tensor

from lowswitch.errors import InputError, StateError
from lowswitch.gp.likelihood import (
    gaussian_means_log_density,
    precision_factor,
    within_point_log_density,
    within_point_log_density_known_noise,
)
from lowswitch.gp.linalg import append_rows, scale_row_and_downdate, solve_lower
from lowswitch.gp.stats import UniqueStats
from lowswitch.validation import MAX_ABS_MEASUREMENT

__all__ = ["UniquePointGP"]

# A repeat that multiplies a point's precision by more than this is folded in by a new
# factorisation instead of a downdate (the downdate loses ~log10(c^2) digits).
_MAX_DOWNDATE_GROWTH = 100.0


@dataclass
class _StateKey:
    """Values of a model's parameters and buffers at one moment (cheap to re-check)."""

    modules: tuple[int, ...]  # ids of the direct submodules (a replaced kernel is new)
    tensors: list[Tensor]  # the live parameters and buffers
    values: list[Tensor]  # their values then

    @classmethod
    def of(cls, model: torch.nn.Module) -> _StateKey:
        tensors = [*model.parameters(), *model.buffers()]
        with torch.no_grad():
            values = [t.detach().clone() for t in tensors]
        return cls(tuple(id(m) for m in model.children()), tensors, values)

    def matches(self, model: torch.nn.Module) -> bool:
        if self.modules != tuple(id(m) for m in model.children()):
            return False
        return all(
            t.shape == v.shape and t.dtype == v.dtype and torch.equal(t, v)
            for t, v in zip(self.tensors, self.values, strict=True)
        )


@dataclass
class _Cache:
    U: Tensor  # (q, d) transformed unique inputs
    s: Tensor  # (q,) sqrt precision
    L: Tensor  # (q, q) factor of I + S K_U S
    alpha: Tensor  # (q,) S A^-1 S (ybar - m(U))
    key: _StateKey | None = None  # parameters and buffers the factor was computed with


def _check_tensor(name: str, value: Any, ndim: tuple[int, ...]) -> Tensor:
    if not isinstance(value, Tensor):
        raise InputError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if value.ndim not in ndim:
        want = " or ".join(f"{n}-D" for n in ndim)
        raise InputError(f"{name}: expected a {want} tensor, got shape {tuple(value.shape)}")
    if value.numel() == 0:
        raise InputError(f"{name}: expected at least one row, got shape {tuple(value.shape)}")
    if value.is_complex():
        raise InputError(f"{name}: expected real values, got dtype {value.dtype}")
    if (
        value.dtype == torch.float32
        or value.dtype == torch.float16
        or value.dtype == torch.bfloat16
    ):
        warnings.warn(
            f"{name} has dtype {value.dtype}; lowswitch upcasts to float64 "
            "(GP maths in lower precision is unreliable).",
            InputDataWarning,
            stacklevel=3,
        )
    value = value.to(torch.float64)
    if not bool(torch.isfinite(value).all()):
        bad = (~torch.isfinite(value)).nonzero()[0].tolist()
        raise InputError(f"{name}: expected finite values, got a NaN/inf at index {bad}")
    return value


def validate_observations(
    X: Any,
    Y: Any,
    Yvar: Any,
    d: int | None = None,
    names: tuple[str, str, str] = ("X", "Y", "Yvar"),
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Check and convert observations to float64 ``(t, d)``, ``(t,)``, ``(t,)``.

    Example:
        >>> zeros, ones = torch.zeros(2, 1).double(), torch.ones(2, 1).double()
        >>> X, Y, V = validate_observations(zeros, ones, None)
        >>> X.shape, Y.shape, V
        (torch.Size([2, 1]), torch.Size([2]), None)
    """
    nx, ny, nv = names
    X = _check_tensor(nx, X, (2,))
    Y = _check_tensor(ny, Y, (1, 2))
    if Y.ndim == 2:
        if Y.shape[1] != 1:
            raise InputError(f"{ny}: expected shape (t, 1) (one outcome), got {tuple(Y.shape)}")
        Y = Y[:, 0]
    if Y.shape[0] != X.shape[0]:
        raise InputError(
            f"{ny}: expected {X.shape[0]} rows to match {nx} {tuple(X.shape)}, got {Y.shape[0]}"
        )
    if d is not None and X.shape[1] != d:
        raise InputError(
            f"{nx}: expected {d} columns (the model's input dimension), got {X.shape[1]}"
        )
    # |y| <= MAX_ABS_MEASUREMENT keeps the standardisation's sums of squares finite: a
    # larger (or non-finite) value would only fail later, in the noise prior or the factor.
    bad = ~torch.isfinite(Y) | (Y.abs() > MAX_ABS_MEASUREMENT)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise InputError(
            f"{ny}: expected finite values with |value| <= {MAX_ABS_MEASUREMENT:g}, "
            f"got {float(Y[i])!r} in row {i}"
        )
    V: Tensor | None = None
    if Yvar is not None:
        V = _check_tensor(nv, Yvar, (1, 2)).reshape(-1)
        if V.shape[0] != Y.shape[0]:
            raise InputError(f"{nv}: expected {Y.shape[0]} values to match {ny}, got {V.shape[0]}")
        if bool((V <= 0).any()):
            raise InputError(f"{nv}: expected strictly positive noise variances")
    return X, Y, V


def _check_mll(mll: MarginalLogLikelihood) -> None:
    from lowswitch.gp.likelihood import ExactReplicateMLL

    if type(mll) not in (ExactMarginalLogLikelihood, ExactReplicateMLL):
        raise InputError(
            "mll: expected gpytorch ExactMarginalLogLikelihood (or ExactReplicateMLL) for "
            f"a UniquePointGP, got {type(mll).__name__} (its value on the q unique means "
            "is not defined by the replicate maths); use lowswitch.fit_gp(model)"
        )


def _checked_likelihood(likelihood: Likelihood | None, known_noise: bool) -> GaussianLikelihood:
    """The likelihood to use, or a clear refusal of one the replicate maths cannot honour."""
    if likelihood is None:
        if not known_noise:
            return get_gaussian_likelihood_with_lognormal_prior()
        fixed = GaussianLikelihood(noise_constraint=Positive())
        fixed.raw_noise.requires_grad_(False)
        return fixed
    if known_noise:
        raise InputError(
            "likelihood: expected None with train_Yvar (the noise variances are known), "
            f"got {type(likelihood).__name__}"
        )
    if type(likelihood) is not GaussianLikelihood or likelihood.noise_covar.raw_noise.numel() != 1:
        raise InputError(
            "likelihood: expected a gpytorch GaussianLikelihood without batch_shape "
            "(one noise variance shared by all rows: the replicate reduction is exact for "
            f"that model only), got {type(likelihood).__name__}; for known per-row noise "
            "pass train_Yvar"
        )
    return likelihood


class UniquePointGP(GPyTorchModel, ExactGP, FantasizeMixin):  # type: ignore[misc]
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
            :class:`~lowswitch.errors.InputError`: a nonlinear transform of the rows changes
            their replicate means and sums of squares, so apply it to ``train_Y`` yourself.
        likelihood: optional homoscedastic ``gpytorch.likelihoods.GaussianLikelihood``
            (its noise prior and constraint are used); default BoTorch's ``SingleTaskGP``
            likelihood with a log-normal noise prior. Refused with ``train_Yvar`` (the
            noise is then known) and for other likelihoods (the replicate reduction holds
            for Gaussian noise with one variance per row only).

    Batched training data ``train_X`` ``(b, t, d)``, ``train_Y`` ``(b, t, 1)`` builds a
    :class:`~lowswitch.gp.batched.BatchedUniquePointGP` (a subclass: ``b`` independent
    GPs with their own hyperparameters, as a batched ``SingleTaskGP``; each set grouped
    separately and padded with zero-count points to the largest number of unique points).
    Fantasy models from :meth:`fantasize` and
    :meth:`condition_on_observations` are batched (see
    :class:`~lowswitch.gp.conditioned.ConditionedUniquePointGP`).

    ``model.likelihood.noise`` is the *per-observation* noise variance ``sigma2``
    (standardised units), learned by :func:`lowswitch.fit_gp` with BoTorch's log-normal
    noise prior. The cached factor remembers the parameter and buffer values it was
    computed with and is rebuilt when they change (by hand, ``load_state_dict`` or
    ``.to(dtype)``). GP maths runs in the model's dtype: float64 unless cast.

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
        if outcome_transform is DEFAULT:
            outcome_transform = Standardize(m=1)
        if outcome_transform is not None and type(outcome_transform) is not Standardize:
            raise InputError(
                "outcome_transform: expected DEFAULT, None or botorch Standardize(m=1), got "
                f"{type(outcome_transform).__name__} (a nonlinear transform of the rows "
                "changes their replicate means and sums of squares, so it cannot be applied "
                "to the statistics); transform train_Y yourself before building the model"
            )
        if outcome_transform is not None and (
            outcome_transform._m != 1
            or outcome_transform._outputs not in (None, [0])
            or outcome_transform._batch_shape != torch.Size()
        ):
            raise InputError(
                "outcome_transform: expected Standardize(m=1) without batch_shape, got "
                f"Standardize(m={outcome_transform._m}, "
                f"batch_shape={tuple(outcome_transform._batch_shape)})"
            )
        stats = UniqueStats(X, Y, V)
        d = stats.d
        likelihood = _checked_likelihood(likelihood, known_noise=V is not None)
        ExactGP.__init__(
            self, train_inputs=stats.X, train_targets=stats.mean, likelihood=likelihood
        )
        self.stats = stats
        self.mean_module = ConstantMean() if mean_module is None else mean_module
        self.covar_module = (
            get_covar_module_with_dim_scaled_prior(ard_num_dims=d)
            if covar_module is None
            else covar_module
        )
        if input_transform is not None:
            input_transform.train()
            input_transform(stats.X)  # learn e.g. Normalize bounds on the unique inputs
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

    # ----------------------------------------------------------- transforms
    def refit_outcome_transform(self) -> None:
        """Refit the standardisation on all t observations (exact, O(q)); clears the cache.

        Called at construction and by :func:`lowswitch.fit_gp`; between refits new
        observations are standardised with the current constants.
        """
        tf = getattr(self, "outcome_transform", None)
        if tf is not None:
            t, mean, ss = self.stats.total_moments()
            std = math.sqrt(ss / (t - 1.0)) if t > 1 else 1.0
            if not std >= tf._min_stdv:
                std = 1.0
            like = torch.ones(1, 1, dtype=self._dtype, device=self._device)
            tf.means = like * mean
            tf.stdvs = like * std
            tf._stdvs_sq = like * std * std
            tf._is_trained = torch.tensor(True)
            tf.eval()
            if self.heteroscedastic:
                assert self.stats.W is not None
                self.likelihood.noise = (self.stats.n.sum() / self.stats.W.sum()) / std**2
        self._sync_train_data()

    @property
    def _dtype(self) -> torch.dtype:
        return self.likelihood.noise_covar.raw_noise.dtype

    @property
    def _device(self) -> torch.device:
        return self.likelihood.noise_covar.raw_noise.device

    def _transform_X(self, X: Tensor) -> Tensor:
        tf: InputTransform | None = getattr(self, "input_transform", None)
        if tf is None:
            return X
        was_training = tf.training
        tf.eval()
        try:
            return tf(X)  # type: ignore[operator]
        finally:
            tf.train(was_training)

    def _standardized(self) -> tuple[Tensor, Tensor]:
        """``(ybar_tf, precision)``, each ``(q,)``, in standardised outcome units."""
        mu, sd = self.outcome_scale
        s = self.stats
        dt, dev = self._dtype, self._device
        if s.heteroscedastic:
            assert s.W is not None and s.wmean is not None
            return ((s.wmean - mu) / sd).to(device=dev, dtype=dt), (s.W * sd**2).to(
                device=dev, dtype=dt
            )
        return ((s.mean - mu) / sd).to(device=dev, dtype=dt), s.n.to(
            device=dev, dtype=dt
        ) / self.likelihood.noise.reshape(())

    def _sync_train_data(self) -> None:
        """Point ``train_inputs``/``train_targets`` at the unique points; drop the cache.

        As in ``SingleTaskGP``: ``train_inputs`` hold the *raw* unique inputs in training
        mode and the input-transformed ones in eval mode (the raw ones then in
        ``_original_train_inputs``); ``train_targets`` are the standardised means.
        """
        ybar, _ = self._standardized()
        raw = self.stats.X.to(dtype=self._dtype, device=self._device)
        self._has_transformed_inputs = False
        self._original_train_inputs = None
        self.set_train_data(inputs=raw, targets=ybar.detach(), strict=False)  # type: ignore[operator]
        if not self.training:
            self._set_transformed_inputs()
        self._cache = None

    def _apply(self, fn: Any, recurse: bool = True) -> UniquePointGP:
        # .to(dtype) / .float() / .double() / device moves: every parameter, buffer and
        # training tensor follows; the factor is rebuilt in the new dtype on demand
        super()._apply(fn)
        if getattr(self, "stats", None) is not None:
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

    def subset_output(self, idcs: list[int]) -> UniquePointGP:
        """A copy of this single-output model for ``idcs == [0]`` (or ``[-1]``)."""
        if list(idcs) not in ([0], [-1]):
            raise InputError(f"idcs: UniquePointGP has one output, expected [0], got {idcs}")
        return copy.deepcopy(self)

    # ------------------------------------------------------------ likelihood
    def exact_marginal_log_likelihood(self, original_units: bool = False) -> Tensor:
        r"""Log-density of all t observations (ALGORITHMS.md section 2), differentiable.

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

    def clear_cache(self) -> None:
        """Drop the cached factor (call after changing hyperparameters by hand)."""
        self._cache = None

    def factorize(self) -> None:
        """Compute the cached factor now (in eval mode; a no-op if it exists).

        From then on :meth:`add_observations` updates it incrementally. Two models built
        from the same data and hyperparameters, factorised at the same point and then told
        the same observations, hold bit-identical factors (a factor built lazily after the
        tells can differ in the last bits).
        """
        if not self.training:
            self._get_cache()

    def _get_cache(self) -> _Cache:
        if self._cache is not None:
            old = self._cache.key
            if old is None or not old.matches(self):
                # hyperparameters changed since the factor was built (set by hand,
                # load_state_dict, an optimiser step): targets and factor are stale
                self._sync_train_data()
        if self._cache is None:
            with torch.no_grad():
                U = self._transform_X(self.stats.X.to(dtype=self._dtype, device=self._device))
                ybar, precision = self._standardized()
                L = precision_factor(self.covar_module(U).to_dense(), precision)
                self._cache = self._finish_cache(U, precision.sqrt(), L, ybar)
        return self._cache

    def _finish_cache(self, U: Tensor, s: Tensor, L: Tensor, ybar: Tensor) -> _Cache:
        r = s * (ybar - self.mean_module(U))
        z = solve_lower(L, r.unsqueeze(-1))
        alpha = s * torch.linalg.solve_triangular(L.T, z, upper=True).squeeze(-1)
        return _Cache(U=U, s=s, L=L, alpha=alpha, key=_StateKey.of(self))

    def posterior_mean(self, X: Tensor) -> Tensor:
        """Posterior mean of ``f`` at raw inputs ``X`` ``(..., m, d)``, original units.

        Returns ``(..., m)``.

        Equal to ``posterior(X).mean`` without the ``(m, m)`` covariance: ``O(m q)``
        instead of ``O(m q^2 + m^2 q)`` (what ``recommend`` needs at every step).
        """
        c = self._get_cache()
        Xt = self._transform_X(X.to(c.U.dtype))
        with torch.no_grad():
            mean = self.mean_module(Xt) + self.covar_module(Xt, c.U).to_dense() @ c.alpha
        mu, sd = self.outcome_scale
        return mean * sd + mu

    def latent_parts(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean ``(..., m)`` and ``V = L^{-1} S K_U(X)`` ``(..., q, m)``.

        ``X`` is input-transformed ``(..., m, d)``; standardised units. The posterior
        covariance between two input sets is ``k(X1, X2) - V1^T V2``.
        """
        c = self._get_cache()
        if X.dim() > 2 and not self.covar_module.batch_shape:
            # one (N, q) kernel call for all batch elements: gpytorch would otherwise copy U
            # into every batch element (acquisitions score (b, 1, d) inputs)
            flat = self.covar_module(X.reshape(-1, X.shape[-1]), c.U).to_dense()
            Kxu = flat.reshape(*X.shape[:-1], flat.shape[-1])  # (..., m, q)
        else:
            Kxu = self.covar_module(X, c.U).to_dense()  # (..., m, q)
        mean = self.mean_module(X) + Kxu @ c.alpha
        V = solve_lower(c.L, c.s.unsqueeze(-1) * Kxu.transpose(-1, -2))  # (..., q, m)
        return mean, V

    def posterior_mvn(self, X: Tensor) -> MultivariateNormal:
        """Latent posterior at input-transformed ``X`` ``(..., m, d)``, standardised units."""
        mean, V = self.latent_parts(X)
        covar = self.covar_module(X).to_dense() - V.transpose(-1, -2) @ V
        covar = 0.5 * (covar + covar.transpose(-1, -2))
        # a LinearOperator keeps gpytorch on its jittered (psd-safe) Cholesky path when
        # sampling near-singular joint posteriors (e.g. at heavily replicated points)
        return MultivariateNormal(mean, DenseLinearOperator(covar))

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

    def compute_custom_loss(self, mll: MarginalLogLikelihood, **kwargs: Any) -> Tensor:
        """BoTorch's loss hook: ``fit_gpytorch_mll`` minimises this for this model.

        ``-(exact_marginal_log_likelihood() + log priors) / q``: the exact likelihood of
        all t rows, scaled by the q training targets as gpytorch's
        ``ExactMarginalLogLikelihood`` scales its value (see
        :class:`~lowswitch.gp.likelihood.ExactReplicateMLL` for why q and not t).
        Other MLL types are refused.
        """
        _check_mll(mll)
        value = self.exact_marginal_log_likelihood()
        for _, module, prior, closure, _ in mll.named_priors():
            value = value + prior.log_prob(closure(module)).sum()
        return -value / self.n_unique

    def custom_fit(
        self,
        mll: MarginalLogLikelihood,
        closure: Any = None,
        closure_kwargs: dict[str, Any] | None = None,
        optimizer_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> MarginalLogLikelihood:
        """BoTorch's fit hook: ``fit_gpytorch_mll(ExactMarginalLogLikelihood(lik, model))``.

        Without a closure or optimizer this is :func:`lowswitch.fit_gp` (the exact t-row
        objective, started at the pooled replicate variance and with a stopping rule
        that sees changes of the kernel hyperparameters, see :mod:`lowswitch.gp.fit`).
        With a user closure or optimizer, BoTorch's generic fit loop runs on the exact
        objective (:meth:`compute_custom_loss`). Other MLL types are refused.
        """
        _check_mll(mll)
        if closure is None and optimizer_kwargs is None and "optimizer" not in kwargs:
            from lowswitch.gp.fit import fit_gp

            fit_gp(self, max_attempts=int(kwargs.get("max_attempts", 5)))
            return mll.eval()
        from botorch.fit import _fit_fallback  # BoTorch's loop; its closure calls ours

        return _fit_fallback(
            mll,
            closure=closure,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **kwargs,
        )

    def forward(self, x: Tensor) -> MultivariateNormal:
        """Prior at inputs ``x`` ``(..., m, d)`` (raw in training mode, as ``SingleTaskGP``)."""
        if self.training:
            x = self._transform_X(x)
        return MultivariateNormal(self.mean_module(x), self.covar_module(x))

    # --------------------------------------------------------------- updates
    def add_observations(self, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> None:
        """Condition on new observations without refitting hyperparameters.

        A repeat of known point ``i`` updates its statistics in O(1) and the cached
        factor by a row scaling and rank-one downdate (O((q - i) q)); new unique points
        append rows to the factor (O(q^2) each). Nothing is changed if validation fails.

        Args:
            X: ``(k, d)`` inputs.
            Y: ``(k, 1)`` or ``(k,)`` observations.
            Yvar: ``(k, 1)`` known noise variances (required iff built with train_Yvar).
        """
        X, Y, V = validate_observations(X, Y, Yvar, d=self.stats.d)
        if (V is None) == self.heteroscedastic:
            raise InputError(
                "Yvar: expected known noise variances "
                + (
                    "(this model was built with train_Yvar)"
                    if self.heteroscedastic
                    else "to be None"
                )
            )
        self._condition(X, Y, V, None)

    def _condition(self, X: Tensor, Y: Tensor, V: Tensor | None, counts: Tensor | None) -> None:
        """Merge validated rows (with optional multiplicities) and update the factor."""
        old = self._cache
        q_old = self.stats.q
        _, p_old = self._standardized()
        self.stats.add(X, Y, V, counts)
        ybar, p_new = self._standardized()
        self._sync_train_data()
        if old is None or self.training:
            return
        with torch.no_grad():
            self._cache = self._updated_cache(old, q_old, p_old, p_new, ybar)

    def _updated_cache(
        self, old: _Cache, q_old: int, p_old: Tensor, p_new: Tensor, ybar: Tensor
    ) -> _Cache:
        L = old.L
        growth = p_new[:q_old] / p_old
        changed = (growth != 1.0).nonzero().flatten().tolist()
        if any(float(growth[i]) > _MAX_DOWNDATE_GROWTH for i in changed):
            return self._rebuilt_cache()
        for i in changed:
            L = scale_row_and_downdate(L, i, math.sqrt(float(growth[i])))
        U = old.U
        s = p_new.sqrt()
        if self.stats.q > q_old:
            U_new = self._transform_X(
                self.stats.X[q_old:].to(dtype=self._dtype, device=self._device)
            )
            s_new = s[q_old:]
            A21 = s_new[:, None] * self.covar_module(U_new, U).to_dense() * s[None, :q_old]
            A22 = s_new[:, None] * self.covar_module(U_new).to_dense() * s_new[None, :]
            A22 = A22 + torch.eye(A22.shape[0], dtype=A22.dtype, device=A22.device)
            L = append_rows(L, A21, A22)
            U = torch.cat([U, U_new])
        return self._finish_cache(U, s, L, ybar)

    def _rebuilt_cache(self) -> _Cache:
        self._cache = None
        return self._get_cache()

    def hallucinate(self, X: Tensor, counts: Tensor | list[int]) -> UniquePointGP:
        """A copy conditioned on ``counts`` zero-innovation observations at ``X`` (GP-BUCB).

        The fantasised values equal the current posterior mean, so the copy's posterior
        mean is unchanged everywhere while its variance shrinks as if the observations had
        been made; variances do not depend on observed values.

        Args:
            X: ``(k, d)`` inputs; counts: ``k`` positive integers.

        Returns:
            A new model (this one is not changed).
        """
        X = _check_tensor("X", X, (2,))
        n = torch.as_tensor(counts, dtype=torch.long).reshape(-1)
        if n.shape[0] != X.shape[0] or bool((n < 1).any()):
            raise InputError(f"counts: expected {X.shape[0]} positive integers, got {n.tolist()}")
        if X.shape[1] != self.stats.d:
            raise InputError(f"X: expected {self.stats.d} columns, got {X.shape[1]}")
        self._get_cache()
        with torch.no_grad():
            mean = self.posterior(X.to(self._dtype)).mean.reshape(-1).double()
        new = copy.deepcopy(self)
        Yvar = None
        if self.heteroscedastic:
            Yvar = self.noise_variance.expand(X.shape[0]).clone()
        # one row per point with its multiplicity: memory O(k), whatever the counts
        new._condition(X, mean, Yvar, n)
        return new

    def condition_on_observations(
        self, X: Tensor, Y: Tensor, noise: Tensor | None = None, **kwargs: Any
    ) -> Any:
        """The model conditioned on new rows ``(X, Y)``, BoTorch's semantics.

        Args:
            X: ``(batch) x k x d`` raw inputs (repeats of training inputs allowed).
            Y: ``(batch') x k x 1`` observations in original units; ``batch'`` may have
                more leading dimensions than ``X``'s (fantasies) and broadcasts with it.
            noise: optional noise variances shaped like ``Y``, in the *standardised*
                units (BoTorch's convention); default the model's ``sigma2`` (with known
                noise: the harmonic mean of the given variances).

        Returns:
            For unbatched ``(k, d)``, ``(k, 1)`` rows without ``noise`` (or with ``noise``
            on a known-noise model): a :class:`UniquePointGP` with the rows merged into
            its statistics (counts and means updated exactly, O(q^2) per new point).
            Otherwise a :class:`~lowswitch.gp.conditioned.ConditionedUniquePointGP`
            with batch shape ``broadcast(batch, batch')``: the exact GP posterior given
            all t rows and the new ones, at cost O(k q^2 + k^2 q) per batch element and
            independent of t. Both equal ``SingleTaskGP`` on all rows.
        """
        from lowswitch.gp.conditioned import ConditionedUniquePointGP, check_condition_args

        Xr, Yr, Vr = check_condition_args(X, Y, noise, self.stats.d)
        if Xr.ndim == 2 and Yr.ndim == 1 and (Vr is None) != self.heteroscedastic:
            new = copy.deepcopy(self)
            V = None if Vr is None else Vr.to(torch.float64) * self.outcome_scale[1] ** 2
            new._condition(Xr.detach().to(torch.float64), Yr.detach().to(torch.float64), V, None)
            return new
        return ConditionedUniquePointGP(self, Xr, Yr, Vr)

    # ------------------------------------------------------------ information
    def information_gain(self) -> Tensor:
        r"""``1/2 log det(I + N^{1/2} K_U N^{1/2} / sigma2)`` from the cached factor.

        The data-dependent ``gamma_t`` of IGP-UCB (ALGORITHMS.md section 3).
        """
        return self._get_cache().L.diagonal().log().sum()
