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

Grouping is O(t) (``group_rows``): every canonical row is hashed to a 64-bit key,
keys are numbered in order of first appearance by a hash table, and every row is then
compared bit for bit with the first row of its group, so a hash collision can never
merge two different inputs (on a collision the rows are re-hashed with other constants,
and after a few failures grouped by an exact sort). Within a batch the moments are
two-pass segment sums (``bincount``); a batch is merged into existing statistics with
Chan et al.'s pairwise combination (weighted form), never ``sum y^2 - n ybar^2``, so it
stays accurate for means far from zero and counts of 1e8 and more. Statistics can be
built from chunks ([`UniqueStats.from_chunks`][lowswitch.gp.stats.UniqueStats.from_chunks],
[`UniqueStats.merge`][lowswitch.gp.stats.UniqueStats.merge]), so t is bounded by the time one is
willing to wait, not by memory.

Canonicalisation (documented contract): inputs are converted to float64 and ``-0.0``
is replaced by ``0.0``; two inputs are the same unique point if and only if the
resulting rows are bit-for-bit equal. Near-duplicates are never merged. Callers that
want snapping (to a grid or to a candidate set) do it before handing rows over.
Grouping runs on the CPU (tensors on another device are copied there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from lowswitch.errors import InputError
from lowswitch.gp.grouping import _HASH_ATTEMPTS, _group_numpy, _rows_numpy, group_rows, row_keys

__all__ = [
    "UniqueStats",
    "canonicalize",
    "group_moments",
    "group_rows",
    "merge_moments",
    "row_keys",
]

# Rows aggregated at a time when building from many rows: the (rows,) temporaries then
# reuse memory instead of faulting in fresh pages (10x the rows cost ~25x in one piece).
_CHUNK_ROWS = 1 << 20


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
    """A batch aggregated by its own unique rows (internal); numpy arrays."""

    X: np.ndarray  # (k, d) canonical unique rows of the batch, first-seen order
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    W: np.ndarray | None
    wmean: np.ndarray | None
    wm2: np.ndarray | None
    logvar: np.ndarray | None


def _segment_moments(
    codes: np.ndarray, y: np.ndarray, w: np.ndarray | None, q: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-pass ``(total weight, weighted mean, weighted M2)`` per group (``w=None``: 1)."""
    W = np.bincount(codes, weights=w, minlength=q).astype(np.float64, copy=False)
    mean = np.bincount(codes, weights=y if w is None else w * y, minlength=q) / W
    r = y - mean[codes]
    r *= r
    if w is not None:
        r *= w
    return W, mean, np.bincount(codes, weights=r, minlength=q)


def _aggregate(
    X: Tensor, Y: Tensor, Yvar: Tensor | None, counts: Tensor | None = None
) -> tuple[_Batch, np.ndarray]:
    """Group rows by exact equality; return the batch moments and the ``(t,)`` inverse.

    ``counts`` (``(t,)``, optional) makes row ``s`` stand for ``counts[s]`` identical
    observations (used to fantasise many repeats without materialising them).
    """
    U, codes = _group_numpy(_rows_numpy(X))
    q = U.shape[0]
    y = Y.detach().to(device="cpu", dtype=torch.float64).numpy()
    mult = None if counts is None else counts.detach().cpu().numpy().astype(np.float64)
    n, mean, m2 = _segment_moments(codes, y, mult, q)
    if Yvar is None:
        return _Batch(U, n, mean, m2, None, None, None, None), codes
    v = Yvar.detach().to(device="cpu", dtype=torch.float64).numpy()
    w = 1.0 / v if mult is None else mult / v
    W, wmean, wm2 = _segment_moments(codes, y, w, q)
    logv = np.log(v) if mult is None else mult * np.log(v)
    logvar = np.bincount(codes, weights=logv, minlength=q)
    return _Batch(U, n, mean, m2, W, wmean, wm2, logvar), codes


_MOMENTS = ("n", "mean", "m2", "W", "wmean", "wm2", "logvar")


class UniqueStats:
    """Per-unique-input sufficient statistics, built in O(t) and merged exactly.

    Built from raw observations; every later [`add`][lowswitch.gp.stats.UniqueStats.add] merges new
    rows exactly. All tensors are float64. Rows keep their first-seen order (new unique inputs are
    appended in the order they first appear), which lets a cached Cholesky factor grow by rows.

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

    X: Tensor
    n: Tensor
    mean: Tensor
    m2: Tensor
    W: Tensor | None
    wmean: Tensor | None
    wm2: Tensor | None
    logvar: Tensor | None

    def __init__(self, X: Tensor, Y: Tensor, Yvar: Tensor | None = None) -> None:
        first = slice(0, _CHUNK_ROWS)
        batch, _ = _aggregate(X[first], Y[first], None if Yvar is None else Yvar[first])
        self.heteroscedastic = Yvar is not None
        self.X = torch.from_numpy(batch.X)
        for name in _MOMENTS:
            value = getattr(batch, name)
            setattr(self, name, None if value is None else torch.from_numpy(value))
        self._seed = 0
        self._keys: np.ndarray | None = None  # row_keys(self.X, self._seed), lazily
        self._lookup: pd.Index | None = None
        for start in range(_CHUNK_ROWS, X.shape[0], _CHUNK_ROWS):
            rows = slice(start, start + _CHUNK_ROWS)
            self.add(X[rows], Y[rows], None if Yvar is None else Yvar[rows])

    @classmethod
    def from_chunks(
        cls, chunks: Iterable[tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor | None]]
    ) -> UniqueStats:
        """Statistics of the concatenation of ``(X, Y)`` or ``(X, Y, Yvar)`` chunks.

        Memory is O(q + largest chunk): chunks can come from a generator reading a file.
        Equal (to rounding of the merges) to building from all rows at once, in the same
        first-seen order.

        Example:
            >>> X, Y = torch.tensor([[0.0], [1.0], [0.0]]), torch.tensor([1.0, 5.0, 3.0])
            >>> s = UniqueStats.from_chunks([(X[:2], Y[:2]), (X[2:], Y[2:])])
            >>> s.n.tolist(), s.mean.tolist()
            ([2.0, 1.0], [2.0, 5.0])
        """
        stats: UniqueStats | None = None
        for chunk in chunks:
            if not isinstance(chunk, tuple) or len(chunk) not in (2, 3):
                raise InputError(
                    f"chunks: expected tuples (X, Y) or (X, Y, Yvar), got {type(chunk).__name__}"
                    + (f" of length {len(chunk)}" if isinstance(chunk, tuple) else "")
                )
            X, Y = chunk[0], chunk[1]
            V = chunk[2] if len(chunk) == 3 else None
            if stats is None:
                stats = cls(X, Y, V)
            else:
                stats.add(X, Y, V)
        if stats is None:
            raise InputError("chunks: expected at least one chunk, got none")
        return stats

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
        i = int(self._locate(_rows_numpy(x.reshape(1, -1)) + 0.0)[0])
        return None if i < 0 else i

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
        """Merge new observations in O(k + q); return the ``(k,)`` row index of each row.

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
        batch, codes = _aggregate(X, Y, Yvar, counts)
        rows = self._absorb(batch)
        return torch.from_numpy(rows[codes])

    def merge(self, other: UniqueStats) -> Tensor:
        """Merge statistics built elsewhere (e.g. from another chunk) into these.

        Returns the ``(other.q,)`` row index here of each of ``other``'s unique inputs.
        """
        if other.heteroscedastic != self.heteroscedastic or other.d != self.d:
            raise InputError(
                f"other: expected statistics with d={self.d} and heteroscedastic="
                f"{self.heteroscedastic}, got d={other.d} and "
                f"heteroscedastic={other.heteroscedastic}"
            )
        arrays = {m: getattr(other, m) for m in _MOMENTS}
        batch = _Batch(
            X=other.X.numpy(),
            **{m: None if v is None else v.numpy() for m, v in arrays.items()},  # type: ignore[arg-type]
        )
        return torch.from_numpy(self._absorb(batch))

    def _absorb(self, b: _Batch) -> np.ndarray:
        """Merge a batch of unique rows; return their ``(k,)`` row index here."""
        pos = self._locate(b.X)
        old = np.flatnonzero(pos >= 0)
        if old.size:
            i = torch.from_numpy(pos[old])
            pairs = [("n", "mean", "m2")]
            if self.heteroscedastic:
                pairs.append(("W", "wmean", "wm2"))
            for a, m, m2 in pairs:
                merged = merge_moments(
                    getattr(self, a)[i],
                    getattr(self, m)[i],
                    getattr(self, m2)[i],
                    *(torch.from_numpy(getattr(b, name)[old]) for name in (a, m, m2)),
                )
                for name, value in zip((a, m, m2), merged, strict=True):
                    getattr(self, name)[i] = value
            if self.logvar is not None:
                assert b.logvar is not None
                self.logvar[i] += torch.from_numpy(b.logvar[old])
        new = np.flatnonzero(pos < 0)
        if new.size:
            pos[new] = self.q + np.arange(new.size)
            self.X = torch.cat([self.X, torch.from_numpy(b.X[new])])
            for name in _MOMENTS:
                value = getattr(self, name)
                if value is not None:
                    setattr(self, name, torch.cat([value, torch.from_numpy(getattr(b, name)[new])]))
            if self._keys is not None:
                self._keys = np.concatenate([self._keys, row_keys(b.X[new], self._seed)])
            self._lookup = None
        return pos

    def _locate(self, V: np.ndarray) -> np.ndarray:
        """``(k,)`` row index of each canonical row of ``V`` here, ``-1`` where absent."""
        X = self.X.numpy()
        for _ in range(_HASH_ATTEMPTS):
            if self._keys is None:
                self._keys = row_keys(X, self._seed)
            if self._lookup is None:
                lookup = pd.Index(self._keys)
                if not lookup.is_unique:  # two stored rows share a key: other constants
                    self._seed, self._keys = self._seed + 1, None
                    continue
                self._lookup = lookup
            pos = np.asarray(self._lookup.get_indexer(row_keys(V, self._seed)), dtype=np.int64)
            hit = np.flatnonzero(pos >= 0)
            if np.array_equal(X[pos[hit]].view(np.uint64), V[hit].view(np.uint64)):
                return pos
            self._seed, self._keys, self._lookup = self._seed + 1, None, None
        index = {row.tobytes(): i for i, row in enumerate(X)}  # exact, slow, never expected
        return np.array([index.get(row.tobytes(), -1) for row in V], dtype=np.int64)

    def copy(self) -> UniqueStats:
        """An independent deep copy."""
        new = object.__new__(UniqueStats)
        new.heteroscedastic = self.heteroscedastic
        for name in ("X", *_MOMENTS):
            value = getattr(self, name)
            setattr(new, name, None if value is None else value.clone())
        new._seed = self._seed
        new._keys = None if self._keys is None else self._keys.copy()
        new._lookup = self._lookup  # immutable
        return new
