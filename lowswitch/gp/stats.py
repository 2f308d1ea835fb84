r"""Sufficient statistics of repeated evaluations, one row per *unique* input.

Glossary (shapes):
    t: number of observations (rows given by the user, repeats included)
    q: number of unique inputs among them
    d: input dimension

For every unique input ``u_i`` the statistics keep

    n_i      count of observations                          (q,)
    ybar_i   plain mean of its observations                 (q,)
    Q_i      within-point sum of squares sum (y - ybar)^2   (q,)

and, when a known per-observation noise variance ``v_s`` comes with each observation
(heteroscedastic mode), the precision-weighted versions with weights ``w_s = 1 / v_s``:

    W_i      total precision  sum w_s                       (q,)
    wbar_i   precision-weighted mean  sum w_s y_s / W_i      (q,)
    wQ_i     weighted within-point sum of squares            (q,)
    L_i      sum of log v_s (normalising constant)           (q,)

Merging a batch uses Chan et al.'s pairwise combination (weighted form), never
``sum y^2 - n ybar^2``, so it stays accurate for means far from zero and counts up to
1e6 and more. A repeat of a known input costs O(1) per observation after an O(1)
dictionary lookup of its canonical key.

Canonicalisation (documented contract): inputs are converted to float64 and ``-0.0``
is replaced by ``0.0``; two inputs are the same unique point if and only if the
resulting rows are bit-for-bit equal. Near-duplicates are never merged. Callers that
want snapping (to a grid or to a candidate set) do it before handing rows over.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lowswitch.errors import InputError

__all__ = ["UniqueStats", "canonicalize", "group_moments", "merge_moments"]


def canonicalize(X: Tensor) -> Tensor:
    """Return the canonical float64 form of input rows used for exact matching.

    Args:
        X: ``(t, d)`` inputs of any floating dtype.

    Returns:
        ``(t, d)`` float64 tensor with ``-0.0`` replaced by ``0.0``.

    Example:
        >>> canonicalize(torch.tensor([[-0.0, 1.5]])).tolist()
        [[0.0, 1.5]]
    """
    X = X.to(torch.float64)
    return torch.where(X == 0, torch.zeros_like(X), X)


def group_moments(
    inverse: Tensor, Y: Tensor, weights: Tensor, n_groups: int
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Two-pass weighted moments of ``Y`` grouped by ``inverse``.

    Args:
        inverse: ``(t,)`` long tensor, group index of every observation.
        Y: ``(t,)`` observations.
        weights: ``(t,)`` positive weights (ones for plain moments).
        n_groups: number of groups ``q``.

    Returns:
        ``(W, mean, m2)``, each ``(q,)``: total weight, weighted mean and weighted
        within-group sum of squares ``sum_s w_s (y_s - mean)^2``.

    Example:
        >>> inv = torch.tensor([0, 0, 1])
        >>> W, mean, m2 = group_moments(inv, torch.tensor([1., 3., 5.]).double(),
        ...                             torch.ones(3).double(), 2)
        >>> mean.tolist(), m2.tolist()
        ([2.0, 5.0], [2.0, 0.0])
    """
    W = torch.zeros(n_groups, dtype=Y.dtype, device=Y.device).index_add_(0, inverse, weights)
    mean = torch.zeros_like(W).index_add_(0, inverse, weights * Y) / W
    resid = Y - mean[inverse]
    m2 = torch.zeros_like(W).index_add_(0, inverse, weights * resid * resid)
    return W, mean, m2


def merge_moments(
    W_a: Tensor, mean_a: Tensor, m2_a: Tensor, W_b: Tensor, mean_b: Tensor, m2_b: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Chan's combination of two sets of weighted moments (elementwise).

    .. math::
        W = W_a + W_b,\quad \bar y = \bar y_a + \delta W_b / W,\quad
        M_2 = M_{2,a} + M_{2,b} + \delta^2 W_a W_b / W,\quad \delta = \bar y_b - \bar y_a

    Example:
        >>> one = torch.ones(1, dtype=torch.float64)
        >>> W, m, m2 = merge_moments(one, 1 * one, 0 * one, one, 3 * one, 0 * one)
        >>> (W.item(), m.item(), m2.item())
        (2.0, 2.0, 2.0)
    """
    W = W_a + W_b
    delta = mean_b - mean_a
    frac_b = W_b / W
    mean = mean_a + delta * frac_b
    m2 = m2_a + m2_b + delta * delta * W_a * frac_b
    return W, mean, m2


@dataclass
class _Batch:
    """A batch aggregated by its own unique rows (internal)."""

    X: Tensor  # (k, d) canonical unique rows of the batch
    n: Tensor
    mean: Tensor
    m2: Tensor
    W: Tensor | None
    wmean: Tensor | None
    wm2: Tensor | None
    logvar: Tensor | None


def _aggregate(
    X: Tensor, Y: Tensor, Yvar: Tensor | None, counts: Tensor | None = None
) -> tuple[_Batch, Tensor]:
    """Group rows by exact equality; return the batch moments and the ``(t,)`` inverse.

    ``counts`` (``(t,)``, optional) makes row ``s`` stand for ``counts[s]`` identical
    observations (used to fantasise many repeats without materialising them).
    """
    U, inverse = torch.unique(X, dim=0, return_inverse=True)
    q = U.shape[0]
    mult = torch.ones_like(Y) if counts is None else counts.to(Y.dtype)
    n, mean, m2 = group_moments(inverse, Y, mult, q)
    if Yvar is None:
        return _Batch(U, n, mean, m2, None, None, None, None), inverse
    W, wmean, wm2 = group_moments(inverse, Y, mult / Yvar, q)
    logvar = torch.zeros_like(W).index_add_(0, inverse, mult * Yvar.log())
    return _Batch(U, n, mean, m2, W, wmean, wm2, logvar), inverse


class UniqueStats:
    """Per-unique-input sufficient statistics with O(1) merging of repeats.

    Built from raw observations; every later :meth:`add` merges new rows exactly.
    All tensors are float64. Rows keep their first-seen order (new unique inputs are
    appended), which lets a cached Cholesky factor grow by rows.

    Args:
        X: ``(t, d)`` inputs (repeats allowed).
        Y: ``(t,)`` observations.
        Yvar: optional ``(t,)`` known per-observation noise variances (> 0).

    Example:
        >>> X = torch.tensor([[0.0], [1.0], [0.0]])
        >>> s = UniqueStats(X, torch.tensor([1.0, 5.0, 3.0]))
        >>> s.n.tolist(), s.mean.tolist(), s.m2.tolist()
        ([2.0, 1.0], [2.0, 5.0], [2.0, 0.0])
        >>> s.add(torch.tensor([[1.0]]), torch.tensor([7.0])).tolist()
        [1]
        >>> s.mean.tolist()
        [2.0, 6.0]
    """

    def __init__(self, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> None:
        X = canonicalize(X)
        batch, inverse = _aggregate(X, Y.to(torch.float64), None if Yvar is None else Yvar.double())
        # torch.unique sorts rows; keep the order of first appearance instead so that
        # the statistics do not depend on sorting and grow by appending.
        first = _first_occurrence_order(inverse, batch.X.shape[0])
        self.heteroscedastic = Yvar is not None
        self.X = batch.X[first]
        self.n = batch.n[first]
        self.mean = batch.mean[first]
        self.m2 = batch.m2[first]
        self.W = None if batch.W is None else batch.W[first]
        self.wmean = None if batch.wmean is None else batch.wmean[first]
        self.wm2 = None if batch.wm2 is None else batch.wm2[first]
        self.logvar = None if batch.logvar is None else batch.logvar[first]
        self._index = {_key(row): i for i, row in enumerate(self.X)}

    # ------------------------------------------------------------------ queries
    @property
    def q(self) -> int:
        """Number of unique inputs."""
        return int(self.X.shape[0])

    @property
    def t(self) -> int:
        """Number of observations."""
        return int(self.n.sum().item())

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.X.shape[1])

    def index_of(self, x: Tensor) -> int | None:
        """Row of the unique input equal to ``x`` (``(d,)``) after canonicalisation."""
        return self._index.get(_key(canonicalize(x.reshape(-1))))

    def total_moments(self) -> tuple[float, float, float]:
        """``(t, mean, sum of squares)`` over all t observations, from the statistics.

        Exact: equals the moments of the raw rows (pooled within and between points).
        """
        t = self.n.sum()
        mean = (self.n * self.mean).sum() / t
        ss = self.m2.sum() + (self.n * (self.mean - mean) ** 2).sum()
        return float(t.item()), float(mean.item()), float(ss.item())

    # ------------------------------------------------------------------ updates
    def add(
        self, X: Tensor, Y: Tensor, Yvar: Tensor | None = None, counts: Tensor | None = None
    ) -> Tensor:
        """Merge new observations; return the ``(k,)`` row index of each new row.

        Args:
            X: ``(k, d)`` inputs.
            Y: ``(k,)`` observations.
            Yvar: ``(k,)`` known noise variances; required iff built heteroscedastic.
            counts: optional ``(k,)`` positive multiplicities: row ``s`` counts as
                ``counts[s]`` identical observations.
        """
        if (Yvar is None) == self.heteroscedastic:
            raise InputError(
                "Yvar: known noise variances must be given for every observation or for "
                "none (this model was built "
                f"{'with' if self.heteroscedastic else 'without'} train_Yvar)"
            )
        X = canonicalize(X)
        V = None if Yvar is None else Yvar.double()
        batch, inverse = _aggregate(X, Y.to(torch.float64), V, counts)
        rows = []
        for j, row in enumerate(batch.X):
            i = self._index.get(_key(row))
            if i is None:
                self._append(batch, j)
            else:
                self._merge(i, batch, j)
            rows.append(self._index[_key(row)])
        return torch.tensor(rows, dtype=torch.long)[inverse]

    def _merge(self, i: int, b: _Batch, j: int) -> None:
        sl = slice(i, i + 1)
        bj = slice(j, j + 1)
        self.n[sl], self.mean[sl], self.m2[sl] = merge_moments(
            self.n[sl], self.mean[sl], self.m2[sl], b.n[bj], b.mean[bj], b.m2[bj]
        )
        if self.heteroscedastic:
            assert self.W is not None and self.wmean is not None and self.wm2 is not None
            assert b.W is not None and b.wmean is not None and b.wm2 is not None
            assert self.logvar is not None and b.logvar is not None
            self.W[sl], self.wmean[sl], self.wm2[sl] = merge_moments(
                self.W[sl], self.wmean[sl], self.wm2[sl], b.W[bj], b.wmean[bj], b.wm2[bj]
            )
            self.logvar[sl] += b.logvar[bj]

    def _append(self, b: _Batch, j: int) -> None:
        bj = slice(j, j + 1)
        self._index[_key(b.X[j])] = self.q
        self.X = torch.cat([self.X, b.X[bj]])
        self.n = torch.cat([self.n, b.n[bj]])
        self.mean = torch.cat([self.mean, b.mean[bj]])
        self.m2 = torch.cat([self.m2, b.m2[bj]])
        if self.heteroscedastic:
            assert self.W is not None and self.wmean is not None and self.wm2 is not None
            assert b.W is not None and b.wmean is not None and b.wm2 is not None
            assert self.logvar is not None and b.logvar is not None
            self.W = torch.cat([self.W, b.W[bj]])
            self.wmean = torch.cat([self.wmean, b.wmean[bj]])
            self.wm2 = torch.cat([self.wm2, b.wm2[bj]])
            self.logvar = torch.cat([self.logvar, b.logvar[bj]])

    def copy(self) -> UniqueStats:
        """An independent deep copy."""
        new = object.__new__(UniqueStats)
        new.heteroscedastic = self.heteroscedastic
        for name in ("X", "n", "mean", "m2", "W", "wmean", "wm2", "logvar"):
            value = getattr(self, name)
            setattr(new, name, None if value is None else value.clone())
        new._index = dict(self._index)
        return new


def _key(row: Tensor) -> bytes:
    return row.detach().cpu().numpy().tobytes()


def _first_occurrence_order(inverse: Tensor, q: int) -> Tensor:
    """Permutation of sorted unique rows into their order of first appearance."""
    t = inverse.shape[0]
    first = torch.full((q,), t, dtype=torch.long, device=inverse.device)
    idx = torch.arange(t, device=inverse.device)
    first = first.scatter_reduce(0, inverse, idx, reduce="amin")
    return torch.argsort(first)
