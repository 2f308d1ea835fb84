"""Input and outcome transforms of a ``UniquePointGP``, and the training data they feed.

The outcome standardisation is fitted on all t observations exactly from the statistics
(pooled mean and unbiased standard deviation of the raw rows, equal to BoTorch's
``Standardize`` fitted on the rows); only ``Standardize(m=1)`` is accepted, since a
nonlinear transform of the rows changes their replicate means and sums of squares. The
input transform is fitted on the unique inputs and applied in eval mode, as in
``SingleTaskGP``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import Standardize
from botorch.utils.types import DEFAULT, _DefaultType
from torch import Tensor

from lowswitch.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from gpytorch.likelihoods import GaussianLikelihood

    from lowswitch.gp.cache import _Cache
    from lowswitch.gp.stats import UniqueStats

__all__ = ["checked_outcome_transform"]


def checked_outcome_transform(
    outcome_transform: Standardize | _DefaultType | None,
) -> Standardize | None:
    """The outcome transform to use (``DEFAULT``: ``Standardize(m=1)``), or a refusal.

    Example:
        >>> type(checked_outcome_transform(DEFAULT)).__name__
        'Standardize'
    """
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
    return outcome_transform


class _TransformsMixin:
    """Transforms and training data of [`UniquePointGP`][lowswitch.gp.model.UniquePointGP]."""

    if TYPE_CHECKING:  # attributes of the model class this is mixed into
        stats: UniqueStats
        likelihood: GaussianLikelihood
        training: bool
        _cache: _Cache | None
        _has_transformed_inputs: bool
        _original_train_inputs: Any

        @property
        def outcome_scale(self) -> tuple[float, float]: ...

        @property
        def heteroscedastic(self) -> bool: ...

        @property
        def unique_X(self) -> Tensor: ...

        def set_train_data(self, *args: Any, **kwargs: Any) -> None: ...

        def _set_transformed_inputs(self) -> None: ...

    def refit_outcome_transform(self) -> None:
        """Refit the standardisation on all t observations (exact, O(q)); clears the cache.

        Called at construction and by [`lowswitch.fit_gp`][lowswitch.fit_gp]; between refits new
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
        ``_original_train_inputs``); ``train_targets`` are the standardised means. Also
        serves the batched model: inputs ``(b, q, d)``, targets ``(b, q)``.
        """
        ybar, _ = self._standardized()
        raw = self.unique_X.to(dtype=self._dtype, device=self._device)
        self._has_transformed_inputs = False
        self._original_train_inputs = None
        self.set_train_data(inputs=raw, targets=ybar.detach(), strict=False)  # type: ignore[operator]
        if not self.training:
            self._set_transformed_inputs()
        self._cache = None
