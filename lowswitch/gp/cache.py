r"""The posterior factor of a ``UniquePointGP``: building, updating, predicting.

The cache holds the transformed unique inputs ``U``, ``s = sqrt(p)``, the Cholesky factor
``L`` of ``A = I + S K_U S`` and ``alpha = S A^{-1} S (ybar - m(U))``, and the parameter
and buffer values it was built with (a change rebuilds it). Predictions at ``m`` points
cost ``O(m q^2)``; repeats update ``L`` by a row scaling and a rank-one downdate and new
points append rows (see ``lowswitch.gp.linalg``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DenseLinearOperator
from torch import Tensor

from lowswitch.gp.likelihood import precision_factor
from lowswitch.gp.linalg import append_rows, scale_row_and_downdate, solve_lower
from lowswitch.gp.rbf import is_plain_rbf, plain_rbf_lengthscale, rbf_cross

if TYPE_CHECKING:  # pragma: no cover
    from gpytorch.kernels import Kernel
    from gpytorch.means import Mean

    from lowswitch.gp.stats import UniqueStats

__all__: list[str] = []

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
    def of(cls, model: Any) -> _StateKey:
        tensors = [*model.parameters(), *model.buffers()]
        with torch.no_grad():
            values = [t.detach().clone() for t in tensors]
        return cls(tuple(id(m) for m in model.children()), tensors, values)

    def matches(self, model: Any) -> bool:
        if self.modules != tuple(id(m) for m in model.children()):
            return False
        return all(
            t.shape == v.shape and t.dtype == v.dtype and torch.equal(t, v)
            for t, v in zip(self.tensors, self.values, strict=True)
        )


@dataclass
class _Cache:
    """The posterior factor; a batched model's tensors have a leading ``(b,)``."""

    U: Tensor  # (q, d) transformed unique inputs
    s: Tensor  # (q,) sqrt precision
    L: Tensor  # (q, q) factor of I + S K_U S
    alpha: Tensor  # (q,) S A^-1 S (ybar - m(U))
    key: _StateKey | None = None  # parameters and buffers the factor was computed with


class _PosteriorMixin:
    """The cached factor and predictions of [`UniquePointGP`][lowswitch.gp.model.UniquePointGP]."""

    #: ``posterior`` computes single-point batches from the factor directly (unbatched
    #: models; the batched and conditioned models take BoTorch's general path)
    _fast_single_point: bool = True

    if TYPE_CHECKING:  # attributes of the model class this is mixed into
        stats: UniqueStats
        covar_module: Kernel
        mean_module: Mean
        training: bool
        _cache: _Cache | None

        @property
        def outcome_scale(self) -> tuple[float, float]: ...

        @property
        def unique_X(self) -> Tensor: ...

        @property
        def _dtype(self) -> torch.dtype: ...

        @property
        def _device(self) -> torch.device: ...

        def _transform_X(self, X: Tensor) -> Tensor: ...

        def _standardized(self) -> tuple[Tensor, Tensor]: ...

        def _sync_train_data(self) -> None: ...

    def clear_cache(self) -> None:
        """Drop the cached factor (call after changing hyperparameters by hand)."""
        self._cache = None

    def factorize(self) -> None:
        """Compute the cached factor now (in eval mode; a no-op if it exists).

        From then on [`add_observations`][lowswitch.gp.model.UniquePointGP.add_observations] updates
        it incrementally. Two models built from the same data and hyperparameters, factorised at the
        same point and then told the same observations, hold bit-identical factors (a factor built
        lazily after the tells can differ in the last bits).
        """
        if not self.training:
            self._get_cache()

    def _get_cache(self) -> _Cache:
        """The cached factor, rebuilt when missing or stale.

        Also serves the batched model: ``unique_X`` ``(q, d)`` or ``(b, q, d)`` gives
        ``U`` of that shape, ``s`` and ``alpha`` ``(q,)`` or ``(b, q)``, ``L`` ``(q, q)``
        or ``(b, q, q)``.
        """
        if self._cache is not None:
            old = self._cache.key
            if old is None or not old.matches(self):
                # hyperparameters changed since the factor was built (set by hand,
                # load_state_dict, an optimiser step): targets and factor are stale
                self._sync_train_data()
        if self._cache is None:
            with torch.no_grad():
                U = self._transform_X(self.unique_X.to(dtype=self._dtype, device=self._device))
                ybar, precision = self._standardized()
                L = precision_factor(self.covar_module(U).to_dense(), precision)
                self._cache = self._finish_cache(U, precision.sqrt(), L, ybar)
        return self._cache

    def _finish_cache(self, U: Tensor, s: Tensor, L: Tensor, ybar: Tensor) -> _Cache:
        r = s * (ybar - self.mean_module(U))
        z = solve_lower(L, r.unsqueeze(-1))
        alpha = s * torch.linalg.solve_triangular(L.mT, z, upper=True).squeeze(-1)
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
        lengthscale = plain_rbf_lengthscale(self.covar_module)
        if lengthscale is not None:  # BoTorch's default kernel, without gpytorch's overhead
            flat = rbf_cross(X.reshape(-1, X.shape[-1]), c.U, lengthscale)
            Kxu = flat.reshape(*X.shape[:-1], flat.shape[-1])  # (..., m, q)
        elif X.dim() > 2 and not self.covar_module.batch_shape:
            # one (N, q) kernel call for all batch elements: gpytorch would otherwise copy U
            # into every batch element (acquisitions score (b, 1, d) inputs)
            flat = self.covar_module(X.reshape(-1, X.shape[-1]), c.U).to_dense()
            Kxu = flat.reshape(*X.shape[:-1], flat.shape[-1])  # (..., m, q)
        else:
            Kxu = self.covar_module(X, c.U).to_dense()  # (..., m, q)
        mean = self.mean_module(X) + Kxu @ c.alpha
        V = solve_lower(c.L, c.s.unsqueeze(-1) * Kxu.transpose(-1, -2))  # (..., q, m)
        return mean, V

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Any:
        """BoTorch posterior at raw inputs ``X`` ``(..., m, d)`` (``GPyTorchPosterior``).

        The same distribution as ``GPyTorchModel.posterior``. For one point per batch
        (``m = 1``, what analytic acquisitions such as ``LogExpectedImprovement`` score)
        without observation noise, output indices or a posterior transform, it is computed
        directly from the cached factor (mean, and variance ``k(x, x) - |V|^2``, rescaled by
        the outcome standardisation) instead of through gpytorch's prediction strategy and
        BoTorch's posterior untransform: the same numbers to rounding, at about half the cost
        per evaluation inside an acquisition optimiser.
        """
        fast = (
            self._fast_single_point
            and output_indices is None
            and observation_noise is False
            and posterior_transform is None
            and not kwargs
            and isinstance(X, Tensor)
            and X.dim() >= 2
            and X.shape[-2] == 1
        )
        if not fast:
            return super().posterior(  # type: ignore[misc]
                X,
                output_indices=output_indices,
                observation_noise=observation_noise,
                posterior_transform=posterior_transform,
                **kwargs,
            )
        from botorch.posteriors.gpytorch import GPyTorchPosterior

        if self.training:
            self.eval()  # type: ignore[attr-defined]
        Xt = self.transform_inputs(X)  # type: ignore[attr-defined]
        mean, V = self.latent_parts(Xt)  # (..., 1), (..., q, 1)
        if is_plain_rbf(self.covar_module):
            prior_var = torch.ones_like(mean)  # k(x, x) = exp(0) for the RBF kernel
        else:
            prior_var = self.covar_module(Xt, diag=True)
        var = prior_var - (V * V).sum(-2)  # (..., 1)
        mu, sd = self.outcome_scale
        covar = DenseLinearOperator((var * sd**2).unsqueeze(-1))  # (..., 1, 1)
        return GPyTorchPosterior(MultivariateNormal(mean * sd + mu, covar))

    def posterior_mvn(self, X: Tensor) -> MultivariateNormal:
        """Latent posterior at input-transformed ``X`` ``(..., m, d)``, standardised units."""
        mean, V = self.latent_parts(X)
        covar = self.covar_module(X).to_dense() - V.transpose(-1, -2) @ V
        covar = 0.5 * (covar + covar.transpose(-1, -2))
        # a LinearOperator keeps gpytorch on its jittered (psd-safe) Cholesky path when
        # sampling near-singular joint posteriors (e.g. at heavily replicated points)
        return MultivariateNormal(mean, DenseLinearOperator(covar))

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

    def information_gain(self) -> Tensor:
        r"""``1/2 log det(I + N^{1/2} K_U N^{1/2} / sigma2)`` from the cached factor.

        The data-dependent ``gamma_t`` of IGP-UCB (docs/maths/switching.md, "Confidence width").
        """
        return self._get_cache().L.diagonal().log().sum()
