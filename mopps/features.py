"""Difficulty prediction for prompts never rolled out: a feature prior for MoPPS.

Plain MoPPS starts every new prompt at the shared prior ``Beta(a0, b0)``: it knows nothing
about a prompt until it has rolled it out. Prompts that look alike tend to be alike in
difficulty, so [`FeaturePrior`][mopps.features.FeaturePrior] learns the map *features -> success
rate* from the prompts already rolled out and turns its prediction for a new prompt into Beta
pseudo-counts.

Features ([`hashed_ngrams`][mopps.features.hashed_ngrams]): character n-grams of the UTF-8 bytes
(with a start and an end marker, so ``"^1"`` and ``"9$"`` are features), hashed into ``n_features``
buckets, value ``log(1 + count)``; optional user metadata columns are appended as they are. The
matrix is a ``scipy.sparse`` CSR ``(n, d)`` float64 matrix, so 1e5 prompts cost a few MB.

Model: binomial logistic regression on the rollout counts. Prompt ``i`` with features
``x_i`` has ``s_i`` successes in ``k_i`` rollouts; with ``z_i = c + x_i . w``::

    minimise  sum_i [ s_i softplus(-z_i) + (k_i - s_i) softplus(z_i) ] + (l2 / 2) ||w||^2

(the intercept ``c`` is not penalised; convex), by L-BFGS-B (scipy) in float64 with the exact
gradient ``X^T (k p - s) + l2 w``, warm-started from the previous fit. The predicted rate
is ``p = sigmoid(z)``; a new prompt's prior becomes
``Beta(a0 + m p, b0 + m (1 - p))`` with strength ``m`` pseudo-rollouts
([`FeaturePrior.apply`][mopps.features.FeaturePrior.apply], through
[`mopps.PromptSelector.set_offline_prior`][mopps.selector.PromptSelector.set_offline_prior]).

Only numpy, scipy and torch are used: importing this module imports neither botorch nor
gpytorch.

Shapes: ``n`` prompts, ``d`` hashed buckets, ``m`` metadata columns; features ``(n, d + m)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy import optimize, sparse

from lowswitch.bandit import check_index
from lowswitch.errors import InputError, StateError

__all__ = ["FeaturePrior", "hashed_ngrams", "rollout_counts"]

_START, _END = 2, 3  # STX / ETX bytes mark the ends of a prompt
_MIX = np.uint64(0x9E3779B97F4A7C15)
_FMIX1, _FMIX2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)


def _byte_matrix(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(n, L)`` uint64 byte codes with end markers (0 padded) and ``(n,)`` lengths."""
    encoded = [bytes([_START]) + t.encode("utf-8") + bytes([_END]) for t in texts]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    width = int(lengths.max()) if lengths.size else 0
    flat = np.frombuffer(b"".join(b.ljust(width, b"\0") for b in encoded), dtype=np.uint8)
    return flat.reshape(len(encoded), width).astype(np.uint64), lengths


def _finalise(h: np.ndarray) -> np.ndarray:
    """64-bit avalanche (MurmurHash3's fmix64), elementwise on uint64."""
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX1
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX2
    return h ^ (h >> np.uint64(33))


def hashed_ngrams(
    texts: Sequence[str],
    n_features: int = 1024,
    ngrams: Sequence[int] = (1, 2, 3),
    metadata: Any = None,
) -> sparse.csr_matrix:
    """Sparse hashed character n-gram features (and metadata) of ``texts``.

    Deterministic across processes and Python versions (no salted ``hash``).

    Args:
        texts: ``n`` prompt strings.
        n_features: ``d`` hash buckets.
        ngrams: n-gram lengths to count (bytes, after adding the end markers).
        metadata: optional ``(n, m)`` numbers appended as columns ``d .. d + m - 1``.

    Returns:
        ``(n, d + m)`` ``scipy.sparse.csr_matrix`` float64; hashed entries are
        ``log(1 + count)``.

    Raises:
        InputError: a text is not a str, bad ``n_features``/``ngrams``, or metadata of the
            wrong shape or not finite.

    Example:
        >>> x = hashed_ngrams(["12+3=", "12+4="], n_features=64)
        >>> x.shape, int(x[0].nnz) > 5
        ((2, 64), True)
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise InputError("texts: expected a sequence of str")
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise InputError(f"n_features: expected an int >= 1, got {n_features!r}")
    grams = tuple(ngrams)
    if not grams or not all(isinstance(g, int) and not isinstance(g, bool) and g >= 1
                            for g in grams):
        raise InputError(f"ngrams: expected positive ints, got {ngrams!r}")
    n = len(texts)
    meta = None
    if metadata is not None:
        meta = np.asarray(metadata, dtype=np.float64)
        if meta.ndim != 2 or meta.shape[0] != n or not np.isfinite(meta).all():
            raise InputError(
                f"metadata: expected a finite ({n}, m) array, got shape {meta.shape}"
            )
    codes, lengths = _byte_matrix(texts)
    width = codes.shape[1]
    keys = []
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        for g in grams:
            if g > width:
                continue
            h = np.full((n, width - g + 1), np.uint64(g) * _MIX, dtype=np.uint64)
            for j in range(g):
                h = (h * np.uint64(1099511628211)) ^ codes[:, j : width - g + 1 + j]
            bucket = (_finalise(h) % np.uint64(n_features)).astype(np.int64)
            valid = np.arange(width - g + 1)[None, :] + g <= lengths[:, None]
            keys.append(np.nonzero(valid)[0] * n_features + bucket[valid])
    d = n_features + (0 if meta is None else meta.shape[1])
    flat, counts = np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64),
                             return_counts=True)
    r, c, v = flat // n_features, flat % n_features, np.log1p(counts.astype(np.float64))
    if meta is not None:
        mr, mc = np.nonzero(meta)
        r = np.concatenate([r, mr])
        c = np.concatenate([c, mc + n_features])
        v = np.concatenate([v, meta[mr, mc]])
    return sparse.csr_matrix((v, (r, c)), shape=(n, d), dtype=np.float64)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _as_np(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().astype(np.float64)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"expected numbers, got {type(value).__name__}") from err


def rollout_counts(selector: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Successes and rollouts each prompt's posterior holds beyond its prior.

    ``s = alpha - a0`` and ``k = (alpha + beta) - (a0 + b0)`` for a
    [`PromptSelector`][mopps.PromptSelector] (with ``decay < 1`` these are the discounted counts).

    Returns:
        ``(s, k)``, each ``(n_prompts,)`` float64; ``k == 0`` for prompts never rolled out.

    Example:
        >>> from mopps import PromptSelector
        >>> sel = PromptSelector(3)
        >>> sel.update([1], [2], [3])
        >>> [t.tolist() for t in rollout_counts(sel)]
        [[0.0, 2.0, 0.0], [0.0, 3.0, 0.0]]
    """
    arms = selector.arms
    s = (arms.alpha - arms.prior_alpha).clamp_min(0.0)
    f = (arms.beta - arms.prior_beta).clamp_min(0.0)
    return s, s + f


class FeaturePrior:
    """Logistic model features -> success rate, fitted on rolled-out prompts' counts.

    Args:
        strength: ``m``, pseudo-rollouts the prediction is worth in a new prompt's prior.
        l2: ridge penalty on the feature weights (not on the intercept).
        max_iter: L-BFGS-B iterations per [`fit`][mopps.features.FeaturePrior.fit].

    Attributes:
        coef_: ``(d,)`` float64 feature weights (after [`fit`][mopps.features.FeaturePrior.fit]).
        intercept_: float intercept.
        n_fit_: prompts in the latest fit.

    Example:
        >>> import torch
        >>> texts = ["1+1=", "2+2=", "123+456+789=", "987+654+321="]
        >>> x = hashed_ngrams(texts, n_features=64)
        >>> fp = FeaturePrior(strength=4.0).fit(x, [7, 6, 1, 0], [8, 8, 8, 8])
        >>> p = fp.predict(x)                               # (4,) float64
        >>> bool(p[0] > p[2])
        True
    """

    def __init__(self, strength: float = 4.0, l2: float = 1.0, max_iter: int = 200) -> None:
        for name, value in (("strength", strength), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"{name}: expected a number > 0, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{name}: expected a finite number > 0, got {value!r}")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise InputError(f"max_iter: expected an int >= 1, got {max_iter!r}")
        self.strength, self.l2, self.max_iter = float(strength), float(l2), max_iter
        self.coef_: torch.Tensor | None = None
        self.intercept_: float = 0.0
        self.n_fit_: int = 0

    @staticmethod
    def _check_x(x: Any) -> sparse.csr_matrix:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().to_dense().numpy() if x.is_sparse else x.detach().cpu().numpy()
        if sparse.issparse(x):
            out = sparse.csr_matrix(x, dtype=np.float64)
        else:
            arr = np.asarray(x, dtype=np.float64)
            if arr.ndim != 2:
                raise InputError(f"features: expected an (n, d) matrix, got shape {arr.shape}")
            out = sparse.csr_matrix(arr)
        if out.ndim != 2 or not np.isfinite(out.data).all():
            raise InputError("features: expected a finite (n, d) matrix")
        return out

    def fit(self, features: Any, successes: Any, trials: Any) -> FeaturePrior:
        """Fit on prompts with rollouts (rows with ``trials == 0`` are ignored).

        Args:
            features: ``(n, d)`` sparse or dense, e.g. from
                [`hashed_ngrams`][mopps.features.hashed_ngrams].
            successes: ``(n,)`` successes (fractional allowed).
            trials: ``(n,)`` rollouts, ``>= 0``.

        Returns:
            ``self``. Refits start from the previous weights when ``d`` is unchanged.

        Raises:
            InputError: bad shapes, ``successes`` outside ``[0, trials]``, no rollouts.
        """
        x = self._check_x(features)
        n, d = x.shape
        s = _as_np(successes)
        k = _as_np(trials)
        if s.shape != (n,) or k.shape != (n,):
            raise InputError(
                f"successes, trials: expected ({n},) each, got {s.shape}, {k.shape}"
            )
        if not (np.isfinite(s).all() and np.isfinite(k).all()):
            raise InputError("successes, trials: expected finite numbers")
        if bool((k < 0).any() | (s < 0).any() | (s > k * (1 + 1e-12) + 1e-12).any()):
            raise InputError("successes, trials: expected 0 <= successes <= trials")
        keep = np.flatnonzero(k > 0)
        if keep.size == 0:
            raise InputError("trials: expected at least one prompt with rollouts")
        xk = x[keep]
        sk = np.minimum(s[keep], k[keep])
        fk = k[keep] - sk
        scale = 1.0 / float(k[keep].sum())  # mean loss per rollout
        l2 = self.l2

        def loss_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
            w, c = params[:d], params[d]
            z = xk @ w + c
            nll = sk * np.logaddexp(0.0, -z) + fk * np.logaddexp(0.0, z)
            g = (sk + fk) * _sigmoid(z) - sk  # d nll / dz
            grad = np.empty(d + 1)
            grad[:d] = scale * (xk.T @ g + l2 * w)
            grad[d] = scale * g.sum()
            return scale * (float(nll.sum()) + 0.5 * l2 * float(w @ w)), grad

        if self.coef_ is not None and self.coef_.numel() == d:
            start = np.append(self.coef_.numpy(), self.intercept_)
        else:
            rate = (sk.sum() + 0.5) / (k[keep].sum() + 1.0)
            start = np.append(np.zeros(d), math.log(rate / (1.0 - rate)))
        res = optimize.minimize(
            loss_grad, start, jac=True, method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": 1e-8},
        )
        self.coef_ = torch.from_numpy(np.array(res.x[:d]))
        self.intercept_, self.n_fit_ = float(res.x[d]), int(keep.size)
        return self

    def predict(self, features: Any) -> torch.Tensor:
        """``(n,)`` float64 predicted success rates ``sigmoid(c + x w)``.

        Raises:
            StateError: before [`fit`][mopps.features.FeaturePrior.fit].
            InputError: features of another width than the fit's.
        """
        if self.coef_ is None:
            raise StateError("FeaturePrior.predict: call fit first")
        x = self._check_x(features)
        if x.shape[1] != self.coef_.numel():
            raise InputError(
                f"features: expected {self.coef_.numel()} columns (as fitted), got {x.shape[1]}"
            )
        return torch.from_numpy(_sigmoid(x @ self.coef_.numpy() + self.intercept_))

    def fit_selector(self, selector: Any, features: Any) -> FeaturePrior:
        """Fit on every prompt ``selector`` has rollouts for (see
        [`rollout_counts`][mopps.features.rollout_counts]).

        Args:
            selector: a [`PromptSelector`][mopps.PromptSelector].
            features: ``(n_prompts, d)``, row ``i`` = prompt ``i``.
        """
        x = self._check_x(features)
        if x.shape[0] != selector.n_prompts:
            raise InputError(
                f"features: expected {selector.n_prompts} rows (n_prompts), got {x.shape[0]}"
            )
        s, k = rollout_counts(selector)
        return self.fit(x, s, k)

    def apply(self, selector: Any, index: Any, features: Any) -> torch.Tensor:
        """Set the prior of prompts ``index`` from their predicted success rates.

        The posterior of these prompts becomes ``Beta(a0 + m p, b0 + m (1 - p))`` (also
        their decay target), through
        [`set_offline_prior`][mopps.selector.PromptSelector.set_offline_prior]; use it on prompts
        not rolled out yet (their counts would be overwritten).

        Args:
            selector: a [`PromptSelector`][mopps.PromptSelector].
            index: ``(n,)`` prompt indices.
            features: ``(n, d)`` features of those prompts, in the same order.

        Returns:
            ``(n,)`` the predicted rates ``p``.
        """
        idx = check_index(index, selector.n_prompts, name="index")
        x = self._check_x(features)
        if x.shape[0] != idx.numel():
            raise InputError(f"features: expected {idx.numel()} rows, got {x.shape[0]}")
        p = self.predict(x)
        m = torch.full_like(p, self.strength)
        selector.set_offline_prior(m * p, m, index=idx, weight=1.0)
        return p
