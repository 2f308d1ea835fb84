r"""Fantasy models: a [`UniquePointGP`][lowswitch.gp.model.UniquePointGP] conditioned on batched
rows.

Shapes: ``q`` unique training inputs, ``k`` new rows per batch element, ``m`` test points,
``b`` the batch shape of the new rows (fantasies first), ``...`` test batch dimensions.

A fantasy is a new replicate row, possibly at an existing unique point. Conditioning the
exact posterior (mean ``mu0``, covariance ``k0``, given all t training rows) on ``k`` new
rows ``y_n`` at ``X_n`` with noise variances ``v_n`` is again exact Bayesian updating:

.. math::
    C = k_0(X_n, X_n) + \mathrm{diag}(v_n),\qquad
    \mu_1(x) = \mu_0(x) + k_0(x, X_n) C^{-1} (y_n - \mu_0(X_n)),

    k_1(x, x') = k_0(x, x') - k_0(x, X_n) C^{-1} k_0(X_n, x'),

with ``k_0(x, x') = k(x, x') - V_x^T V_{x'}``, ``V_x = L^{-1} S k_U(x)`` from the base
model's ``q x q`` factor. This equals the posterior given the t + k rows, i.e. the one
whose counts and means at the repeated points are merged (tested against a
``UniquePointGP`` built on all rows and against ``SingleTaskGP``). Building it costs
``O(k q^2 + k^2 q + k^3)`` per batch element and a posterior at ``m`` points
``O(m q^2 + m k q + m^2 (q + k))``: nothing depends on t.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.model import FantasizeMixin
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import DenseLinearOperator
from torch import Tensor

from lowswitch.errors import InputError, StateError
from lowswitch.gp.linalg import cholesky_psd

if TYPE_CHECKING:  # pragma: no cover
    from lowswitch.gp.cache import _Cache
    from lowswitch.gp.model import UniquePointGP

__all__ = ["ConditionedUniquePointGP", "check_condition_args"]


def check_condition_args(
    X: Any, Y: Any, noise: Any, d: int
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Validate ``condition_on_observations`` arguments.

    Returns ``X`` ``(b, k, d)``, ``Y`` ``(b', k)`` (output dimension dropped) and the noise
    ``(b'', k)`` or ``None``; gradients are kept (acquisitions differentiate through them).
    """
    for name, value in (("X", X), ("Y", Y)):
        if not isinstance(value, Tensor):
            raise InputError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if X.ndim < 2 or X.shape[-1] != d:
        raise InputError(f"X: expected shape (batch) x k x {d}, got {tuple(X.shape)}")
    if Y.ndim == X.ndim - 1 and X.ndim == 2:
        Y = Y.unsqueeze(-1)  # (k,) rows of a single-output model
    if Y.ndim < 2 or Y.shape[-1] != 1 or Y.shape[-2] != X.shape[-2]:
        raise InputError(
            f"Y: expected shape (batch') x {X.shape[-2]} x 1 to match X {tuple(X.shape)}, "
            f"got {tuple(Y.shape)}"
        )
    Y = Y.squeeze(-1)
    try:
        torch.broadcast_shapes(X.shape[:-2], Y.shape[:-1])
    except RuntimeError:
        raise InputError(
            f"Y: batch shape {tuple(Y.shape[:-1])} does not broadcast with X's "
            f"{tuple(X.shape[:-2])}"
        ) from None
    V: Tensor | None = None
    if noise is not None:
        if not isinstance(noise, Tensor):
            raise InputError(f"noise: expected a torch.Tensor, got {type(noise).__name__}")
        V = noise.squeeze(-1) if noise.shape[-1:] == (1,) and noise.ndim == Y.ndim + 1 else noise
        try:
            torch.broadcast_shapes(V.shape, Y.shape)
        except RuntimeError:
            raise InputError(
                f"noise: expected a shape like Y's {tuple(Y.shape)} (+ 1), got {tuple(noise.shape)}"
            ) from None
        if bool((V < 0).any()) or not bool(torch.isfinite(V).all()):
            raise InputError("noise: expected finite, non-negative variances")
    for name, value in (("X", X), ("Y", Y)):
        if not bool(torch.isfinite(value).all()):
            raise InputError(f"{name}: expected finite values, got a NaN/inf")
    return X, Y, V


class ConditionedUniquePointGP(GPyTorchModel, FantasizeMixin):  # type: ignore[misc]
    r"""Exact posterior of a ``UniquePointGP`` given (batched) extra rows: a BoTorch model.

    Built by
    ``UniquePointGP.condition_on_observations``
    and ``fantasize``; not meant to be constructed directly. It is a snapshot: the base model's
    factor and a copy of its modules are held, so later changes to the base model do not leak into
    it. It supports ``posterior`` (with ``observation_noise``), ``condition_on_observations`` (rows
    are appended) and ``fantasize``; hyperparameters are not trained here.

    Args:
        base: the model to condition.
        X: ``b x k x d`` raw inputs of the new rows.
        Y: ``b' x k`` new observations in original outcome units.
        noise: ``b'' x k`` noise variances in standardised units, or None for the base
            model's ``sigma2``.

    Example:
        >>> import torch
        >>> from botorch.sampling import SobolQMCNormalSampler
        >>> from lowswitch import UniquePointGP
        >>> X = torch.tensor([[0.1], [0.1], [0.6]], dtype=torch.float64)
        >>> model = UniquePointGP(X, torch.tensor([[1.0], [1.2], [0.4]], dtype=torch.float64))
        >>> fant = model.fantasize(X[:2], SobolQMCNormalSampler(torch.Size([8]), seed=0))
        >>> fant.batch_shape, fant.posterior(torch.rand(5, 1).double()).mean.shape
        (torch.Size([8]), torch.Size([8, 5, 1]))
    """

    _num_outputs = 1
    _has_transformed_inputs = True  # inputs are transformed here, nothing to swap

    def __init__(
        self,
        base: UniquePointGP,
        X: Tensor,
        Y: Tensor,
        noise: Tensor | None,
        _rows: tuple[Tensor, Tensor, Tensor] | None = None,
    ) -> None:
        super().__init__()
        self._d = base.unique_X.shape[-1]
        self._base_cache: _Cache = base._get_cache()
        self.covar_module = copy.deepcopy(base.covar_module)
        self.mean_module = copy.deepcopy(base.mean_module)
        self.likelihood = copy.deepcopy(base.likelihood)
        for name in ("input_transform", "outcome_transform"):
            module = getattr(base, name, None)
            if module is not None:
                setattr(self, name, copy.deepcopy(module))
        Xt, Yt, V = self._prepare_rows(X, Y, noise)
        if _rows is not None:  # earlier rows of a nested conditioning come first
            Xt, Yt, V = _concat_rows(_rows, (Xt, Yt, V))
        self._rows = (Xt, Yt, V)
        self._setup()

    def _prepare_rows(
        self, X: Tensor, Y: Tensor, noise: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Transformed inputs, standardised outcomes and noise variances of new rows.

        For a base model with batch shape ``(b,)`` the standardisation constants and the
        default noise are per set, broadcast over the rows' batch dimensions.
        """
        dtype = self._base_cache.L.dtype
        Xt = self._transform_X(X.to(dtype))
        Yt = Y.to(dtype)
        tf = getattr(self, "outcome_transform", None)
        if tf is not None:
            Yt = (Yt - tf.means[..., 0]) / tf.stdvs[..., 0]  # means (b, 1, 1) or (1, 1)
        if noise is not None:
            return Xt, Yt, noise.to(dtype)
        sigma2 = self.likelihood.noise.detach()  # (b, 1) or (1,)
        if sigma2.ndim == 1:
            return Xt, Yt, sigma2.reshape(()).expand(Yt.shape[-1])
        return Xt, Yt, sigma2.expand(*sigma2.shape[:-1], Yt.shape[-1])

    def _transform_X(self, X: Tensor) -> Tensor:
        tf = getattr(self, "input_transform", None)
        if tf is None:
            return X
        tf.eval()
        return tf(X)  # type: ignore[no-any-return]

    def _base_parts(self, Xt: Tensor) -> tuple[Tensor, Tensor]:
        """Base posterior mean ``(..., m)`` and ``V`` ``(..., q, m)`` at transformed inputs."""
        c = self._base_cache
        Kxu = self.covar_module(Xt, c.U).to_dense()
        if c.alpha.ndim == 1:
            mean = self.mean_module(Xt) + Kxu @ c.alpha
        else:  # batched base model: alpha (b, q), Kxu (..., b, m, q)
            mean = self.mean_module(Xt) + (Kxu @ c.alpha.unsqueeze(-1)).squeeze(-1)
        V = torch.linalg.solve_triangular(
            c.L, c.s.unsqueeze(-1) * Kxu.transpose(-1, -2), upper=False
        )
        return mean, V

    def _setup(self) -> None:
        Xn, Yn, Vn = self._rows
        mean_n, self._Vn = self._base_parts(Xn)  # (b, k), (b, q, k)
        C = self.covar_module(Xn).to_dense() - self._Vn.transpose(-1, -2) @ self._Vn
        C = 0.5 * (C + C.transpose(-1, -2))
        C = C + torch.diag_embed(Vn.expand(*C.shape[:-2], C.shape[-1]) if Vn.ndim == 1 else Vn)
        self._Lc = cholesky_psd(C)  # (b'', k, k)
        resid = (Yn - mean_n).unsqueeze(-1)  # (b', k, 1)
        Lc = self._Lc
        shape = torch.broadcast_shapes(Lc.shape[:-2], resid.shape[:-2])
        self._w = torch.cholesky_solve(
            resid.expand(*shape, *resid.shape[-2:]), Lc.expand(*shape, *Lc.shape[-2:])
        ).squeeze(-1)  # (b, k)
        self._batch_shape = torch.broadcast_shapes(Xn.shape[:-2], shape)

    @property
    def batch_shape(self) -> torch.Size:
        """Batch shape of the conditioned model (fantasy dimensions first)."""
        return self._batch_shape

    @property
    def num_outputs(self) -> int:
        return 1

    def __call__(self, *args: Any, **kwargs: Any) -> MultivariateNormal:
        return self.posterior_mvn(args[0])

    def forward(self, x: Tensor) -> MultivariateNormal:  # pragma: no cover - not trained
        raise StateError(
            "a ConditionedUniquePointGP (fantasy / conditioned model) has no prior forward "
            "pass and is not trained; fit the UniquePointGP it came from instead"
        )

    def posterior_mvn(self, X: Tensor) -> MultivariateNormal:
        """Latent posterior at input-transformed ``X`` ``(..., m, d)``, standardised units.

        The output batch shape is ``broadcast(..., batch_shape)``.
        """
        Xn = self._rows[0]
        mean0, V = self._base_parts(X)
        shape = torch.broadcast_shapes(X.shape[:-2], Xn.shape[:-2])
        Kxn = (
            self.covar_module(
                X.expand(*shape, *X.shape[-2:]), Xn.expand(*shape, *Xn.shape[-2:])
            ).to_dense()
            - V.transpose(-1, -2) @ self._Vn
        )  # (.., m, k)
        Kxx = self.covar_module(X).to_dense() - V.transpose(-1, -2) @ V
        W = torch.linalg.solve_triangular(self._Lc, Kxn.transpose(-1, -2), upper=False)
        mean = mean0 + (Kxn @ self._w.unsqueeze(-1)).squeeze(-1)
        covar = Kxx - W.transpose(-1, -2) @ W
        covar = 0.5 * (covar + covar.transpose(-1, -2))
        shape = torch.broadcast_shapes(mean.shape, covar.shape[:-1])
        mean, covar = mean.expand(shape), covar.expand(*shape, shape[-1])
        return MultivariateNormal(mean, DenseLinearOperator(covar))

    def condition_on_observations(
        self, X: Tensor, Y: Tensor, noise: Tensor | None = None, **kwargs: Any
    ) -> ConditionedUniquePointGP:
        """Append more rows (same conventions as ``UniquePointGP.condition_on_observations``)."""
        Xr, Yr, Vr = check_condition_args(X, Y, noise, self._d)
        new = copy.copy(self)
        new._modules = dict(self._modules)  # share the (frozen) snapshot modules
        new._rows = _concat_rows(self._rows, self._prepare_rows(Xr, Yr, Vr))
        new._setup()
        return new


def _concat_rows(
    old: tuple[Tensor, Tensor, Tensor], new: tuple[Tensor, Tensor, Tensor]
) -> tuple[Tensor, Tensor, Tensor]:
    """Concatenate ``(X, Y, noise)`` row sets along the row dimension, broadcasting batches."""
    out = []
    for a, b, extra in zip(old, new, (1, 0, 0), strict=True):
        if a.ndim == 1 and b.ndim == 1 and extra == 0:
            out.append(torch.cat([a, b]))
            continue
        batch = torch.broadcast_shapes(a.shape[: a.ndim - 1 - extra], b.shape[: b.ndim - 1 - extra])
        tail_a, tail_b = a.shape[a.ndim - 1 - extra :], b.shape[b.ndim - 1 - extra :]
        out.append(
            torch.cat([a.expand(*batch, *tail_a), b.expand(*batch, *tail_b)], dim=-1 - extra)
        )
    return out[0], out[1], out[2]
