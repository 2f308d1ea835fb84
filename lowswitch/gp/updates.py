"""In-place and copy-making updates of a ``UniquePointGP`` without refitting.

``add_observations`` merges rows into the statistics and updates the cached factor
incrementally; ``hallucinate`` makes a GP-BUCB copy conditioned on zero-innovation
observations with multiplicities (memory O(k) whatever the counts).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor

from lowswitch.errors import InputError
from lowswitch.gp.inputs import _check_tensor, validate_observations

if TYPE_CHECKING:  # pragma: no cover
    from lowswitch.gp.cache import _Cache
    from lowswitch.gp.model import UniquePointGP
    from lowswitch.gp.stats import UniqueStats

__all__: list[str] = []


class _UpdatesMixin:
    """Conditioning on new rows for [`UniquePointGP`][lowswitch.gp.model.UniquePointGP]."""

    if TYPE_CHECKING:  # attributes of the model class this is mixed into
        stats: UniqueStats
        training: bool
        _cache: _Cache | None

        @property
        def heteroscedastic(self) -> bool: ...

        @property
        def noise_variance(self) -> Tensor: ...

        @property
        def _dtype(self) -> torch.dtype: ...

        def _standardized(self) -> tuple[Tensor, Tensor]: ...

        def _sync_train_data(self) -> None: ...

        def _get_cache(self) -> _Cache: ...

        def _updated_cache(
            self, old: _Cache, q_old: int, p_old: Tensor, p_new: Tensor, ybar: Tensor
        ) -> _Cache: ...

        def posterior(self, X: Tensor, *args: Any, **kwargs: Any) -> Any: ...

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
        new = cast("UniquePointGP", copy.deepcopy(self))
        Yvar = None
        if self.heteroscedastic:
            Yvar = self.noise_variance.expand(X.shape[0]).clone()
        # one row per point with its multiplicity: memory O(k), whatever the counts
        new._condition(X, mean, Yvar, n)
        return new
