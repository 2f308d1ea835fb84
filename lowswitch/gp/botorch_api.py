"""BoTorch ``Model`` hooks of a ``UniquePointGP``: fitting, conditioning, output subsets.

``compute_custom_loss`` and ``custom_fit`` are the hooks BoTorch's ``fit_gpytorch_mll``
looks for: they make it optimise the exact t-row likelihood. ``condition_on_observations``
(and so ``fantasize``) returns exact conditioned models.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, cast

import torch
from gpytorch.mlls import MarginalLogLikelihood
from torch import Tensor

from lowswitch.errors import InputError
from lowswitch.gp.inputs import _check_mll

if TYPE_CHECKING:  # pragma: no cover
    from lowswitch.gp.model import UniquePointGP
    from lowswitch.gp.stats import UniqueStats

__all__: list[str] = []


class _BoTorchMixin:
    """BoTorch hooks of [`UniquePointGP`][lowswitch.gp.model.UniquePointGP]."""

    if TYPE_CHECKING:  # attributes of the model class this is mixed into
        stats: UniqueStats

        @property
        def n_unique(self) -> int: ...

        @property
        def heteroscedastic(self) -> bool: ...

        @property
        def outcome_scale(self) -> tuple[float, float]: ...

        def exact_marginal_log_likelihood(self, original_units: bool = False) -> Tensor: ...

        def _condition(
            self, X: Tensor, Y: Tensor, V: Tensor | None, counts: Tensor | None
        ) -> None: ...

    def compute_custom_loss(self, mll: MarginalLogLikelihood, **kwargs: Any) -> Tensor:
        """BoTorch's loss hook: ``fit_gpytorch_mll`` minimises this for this model.

        ``-(exact_marginal_log_likelihood() + log priors) / q``: the exact likelihood of
        all t rows, scaled by the q training targets as gpytorch's
        ``ExactMarginalLogLikelihood`` scales its value (see
        [`ExactReplicateMLL`][lowswitch.gp.likelihood.ExactReplicateMLL] for why q and not t).
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

        Without a closure or optimizer this is [`lowswitch.fit_gp`][lowswitch.fit_gp] (the exact
        t-row objective, started at the pooled replicate variance and with a stopping rule that sees
        changes of the kernel hyperparameters, see ``lowswitch.gp.fit``). With a user closure or
        optimizer, BoTorch's generic fit loop runs on the exact objective
        ([`compute_custom_loss`][lowswitch.gp.model.UniquePointGP.compute_custom_loss]). Other MLL
        types are refused.
        """
        _check_mll(mll)
        if closure is None and optimizer_kwargs is None and "optimizer" not in kwargs:
            from lowswitch.gp.fit import fit_gp

            fit_gp(cast("UniquePointGP", self), max_attempts=int(kwargs.get("max_attempts", 5)))
            return mll.eval()
        from botorch.fit import _fit_fallback  # BoTorch's loop; its closure calls ours

        return _fit_fallback(
            mll,
            closure=closure,
            closure_kwargs=closure_kwargs,
            optimizer_kwargs=optimizer_kwargs,
            **kwargs,
        )

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
            on a known-noise model): a [`UniquePointGP`][lowswitch.gp.botorch_api.UniquePointGP]
            with the rows merged into its statistics (counts and means updated exactly, O(q^2) per
            new point). Otherwise a
            [`ConditionedUniquePointGP`][lowswitch.gp.conditioned.ConditionedUniquePointGP] with
            batch shape ``broadcast(batch, batch')``: the exact GP posterior given all t rows and
            the new ones, at cost O(k q^2 + k^2 q) per batch element and independent of t. Both
            equal ``SingleTaskGP`` on all rows.
        """
        from lowswitch.gp.conditioned import ConditionedUniquePointGP, check_condition_args

        Xr, Yr, Vr = check_condition_args(X, Y, noise, self.stats.d)
        if Xr.ndim == 2 and Yr.ndim == 1 and (Vr is None) != self.heteroscedastic:
            new = cast("UniquePointGP", copy.deepcopy(self))
            V = None if Vr is None else Vr.to(torch.float64) * self.outcome_scale[1] ** 2
            new._condition(Xr.detach().to(torch.float64), Yr.detach().to(torch.float64), V, None)
            return new
        return ConditionedUniquePointGP(cast("UniquePointGP", self), Xr, Yr, Vr)

    def subset_output(self, idcs: list[int]) -> UniquePointGP:
        """A copy of this single-output model for ``idcs == [0]`` (or ``[-1]``)."""
        if list(idcs) not in ([0], [-1]):
            raise InputError(f"idcs: UniquePointGP has one output, expected [0], got {idcs}")
        return cast("UniquePointGP", copy.deepcopy(self))
