"""Validation of a ``UniquePointGP``'s inputs at the public boundary.

Observations (shapes, dtype, finiteness, the measurement range), the likelihood and the
MLL types the replicate maths can honour; each refusal is an
[`InputError`][lowswitch.errors.InputError] saying what was expected.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from botorch.exceptions.warnings import InputDataWarning
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_gaussian_likelihood_with_lognormal_prior
from botorch.utils.types import DEFAULT, _DefaultType
from gpytorch.constraints import Positive
from gpytorch.likelihoods import GaussianLikelihood, Likelihood
from gpytorch.mlls import ExactMarginalLogLikelihood, MarginalLogLikelihood
from torch import Tensor

from lowswitch.errors import InputError
from lowswitch.validation import MAX_ABS_MEASUREMENT

__all__ = [
    "checked_batched_likelihood",
    "checked_batched_outcome_transform",
    "validate_batched_observations",
    "validate_observations",
]


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


def _default_likelihood(
    likelihood: Likelihood | None, known_noise: bool, batch: torch.Size
) -> GaussianLikelihood:
    """The likelihood when none is given or the noise is known; a given one is then refused.

    For ``likelihood=None`` or ``known_noise`` only (the callers check any other given
    likelihood). ``batch`` is the model's batch shape, ``()`` or ``(b,)``; the returned
    noise is ``(*batch, 1)``: BoTorch's ``SingleTaskGP`` likelihood (log-normal noise
    prior) without known noise, with it a fixed (not trained) ``GaussianLikelihood`` whose
    noise the model sets.
    """
    if likelihood is not None:
        raise InputError(
            "likelihood: expected None with train_Yvar (the noise variances are known), "
            f"got {type(likelihood).__name__}"
        )
    if not known_noise:
        return get_gaussian_likelihood_with_lognormal_prior(batch_shape=batch)
    fixed = GaussianLikelihood(batch_shape=batch, noise_constraint=Positive())
    fixed.raw_noise.requires_grad_(False)
    return fixed


def _checked_likelihood(likelihood: Likelihood | None, known_noise: bool) -> GaussianLikelihood:
    """The likelihood to use, or a clear refusal of one the replicate maths cannot honour."""
    if likelihood is None or known_noise:
        return _default_likelihood(likelihood, known_noise, torch.Size())
    if type(likelihood) is not GaussianLikelihood or likelihood.noise_covar.raw_noise.numel() != 1:
        raise InputError(
            "likelihood: expected a gpytorch GaussianLikelihood without batch_shape "
            "(one noise variance shared by all rows: the replicate reduction is exact for "
            f"that model only), got {type(likelihood).__name__}; for known per-row noise "
            "pass train_Yvar"
        )
    return likelihood


def validate_batched_observations(
    X: Any,
    Y: Any,
    Yvar: Any = None,
    names: tuple[str, str, str] = ("train_X", "train_Y", "train_Yvar"),
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Check and convert batched data to float64 ``(b, t, d)``, ``(b, t)``, ``(b, t)``.

    Each set is validated as unbatched training data (finite values, measurement range,
    positive noise variances).

    Example:
        >>> X, Y, V = validate_batched_observations(torch.zeros(2, 3, 1), torch.ones(2, 3, 1))
        >>> X.shape, Y.shape, V
        (torch.Size([2, 3, 1]), torch.Size([2, 3]), None)
    """
    nx, ny, nv = names
    if not isinstance(Y, Tensor) or Y.ndim != 3 or Y.shape[-1] != 1:
        shape = tuple(Y.shape) if isinstance(Y, Tensor) else type(Y).__name__
        raise InputError(f"{ny}: expected shape (b, t, 1) for batched {nx}, got {shape}")
    if X.shape[0] != Y.shape[0] or X.shape[0] < 1:
        raise InputError(
            f"{ny}: expected batch size {X.shape[0]} to match {nx} {tuple(X.shape)}, "
            f"got {tuple(Y.shape)}"
        )
    if Yvar is not None and (not isinstance(Yvar, Tensor) or Yvar.shape != Y.shape):
        shape = tuple(Yvar.shape) if isinstance(Yvar, Tensor) else type(Yvar).__name__
        raise InputError(f"{nv}: expected shape {tuple(Y.shape)} like {ny}, got {shape}")
    parts = [
        validate_observations(
            X[j],
            Y[j],
            None if Yvar is None else Yvar[j],
            names=(f"{nx}[{j}]", f"{ny}[{j}]", f"{nv}[{j}]"),
        )
        for j in range(X.shape[0])
    ]
    V = None if Yvar is None else torch.stack([p[2] for p in parts if p[2] is not None])
    return torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts]), V


def checked_batched_outcome_transform(
    outcome_transform: Standardize | _DefaultType | None, batch: torch.Size
) -> Standardize | None:
    """``Standardize(m=1, batch_shape=batch)`` (for ``DEFAULT``), ``None``, or a refusal."""
    if outcome_transform is DEFAULT:
        return Standardize(m=1, batch_shape=batch)
    if outcome_transform is None:
        return None
    if (
        type(outcome_transform) is not Standardize
        or outcome_transform._m != 1
        or outcome_transform._outputs not in (None, [0])
        or outcome_transform._batch_shape != batch
    ):
        got = type(outcome_transform).__name__
        if isinstance(outcome_transform, Standardize):
            got += (
                f"(m={outcome_transform._m}, batch_shape={tuple(outcome_transform._batch_shape)})"
            )
        raise InputError(
            f"outcome_transform: expected DEFAULT, None or botorch Standardize(m=1, "
            f"batch_shape={tuple(batch)}) for batched training data, got {got}"
        )
    return outcome_transform


def checked_batched_likelihood(
    likelihood: Likelihood | None, batch: torch.Size, known_noise: bool = False
) -> Likelihood:
    """BoTorch's batched default likelihood, or a ``GaussianLikelihood`` of that batch shape.

    With known noise: a fixed (not trained) ``GaussianLikelihood`` holding each set's
    harmonic-mean noise variance; a given likelihood is then refused.
    """
    if likelihood is None or known_noise:
        return _default_likelihood(likelihood, known_noise, batch)
    if type(likelihood) is not GaussianLikelihood or likelihood.noise_covar.raw_noise.shape != (
        *batch,
        1,
    ):
        raise InputError(
            "likelihood: expected a gpytorch GaussianLikelihood with "
            f"batch_shape={tuple(batch)} (one noise variance per training set), got "
            f"{type(likelihood).__name__}"
        )
    return likelihood
