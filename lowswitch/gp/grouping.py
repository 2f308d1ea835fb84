r"""Exact grouping of input rows in O(t): hashed 64-bit row keys, checked bit for bit.

Shapes: ``t`` rows, ``d`` columns, ``q`` groups (unique rows).

Every row's float64 bit patterns are mixed into one 64-bit key (``row_keys``), a hash
table (pandas' ``factorize``) numbers the keys in order of first appearance, and every
row is compared bit for bit with the first row of its group, so a key collision can
never merge two different rows: on a collision the rows are re-hashed with other
constants, and after a few failures grouped by an exact sort. ``-0.0`` and ``0.0`` are
the same input (canonicalisation of ``lowswitch.gp.stats``). Runs on the CPU.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

__all__ = ["group_rows", "row_keys"]

# Rows hashed / checked per block: the (block, d) temporaries stay in cache instead of
# allocating (t, d) arrays (fresh pages of a 48 MB temporary cost more than the maths).
_BLOCK = 1 << 14
# Hash constants tried before falling back to an exact sort (a collision is ~q^2 / 2^64).
_HASH_ATTEMPTS = 3


def _rows_numpy(X: Tensor) -> np.ndarray:
    """``(t, d)`` C-contiguous float64 numpy view (or copy) of ``X`` on the CPU."""
    return np.ascontiguousarray(X.detach().to(device="cpu", dtype=torch.float64).numpy())


def _multipliers(seed: int, d: int) -> tuple[np.ndarray, np.uint64]:
    rng = np.random.default_rng([0x5EED, seed])
    mult = rng.integers(0, 2**63, size=d, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    final = rng.integers(0, 2**63, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    return mult, np.uint64(final)


def row_keys(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """64-bit keys of the bit patterns of the rows of ``X`` (``(t, d)`` float64).

    Returns ``(t,)`` uint64: bitwise equal rows get equal keys; different rows get
    different keys except for rare collisions, which callers check exactly. Canonicalise
    first if ``-0.0`` must count as ``0.0``. ``seed`` picks other hash constants. Cost:
    four integer operations per entry, in blocks that stay in cache.

    Example:
        >>> k = row_keys(np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]))
        >>> bool(k[0] == k[1]), bool(k[0] == k[2])
        (True, False)
    """
    t, d = X.shape
    mult, final = _multipliers(seed, d)
    bits = X.view(np.uint64)
    keys = np.empty(t, dtype=np.uint64)
    buf = np.empty((min(t, _BLOCK), d), dtype=np.uint64)
    s29, s32 = np.uint64(29), np.uint64(32)
    for start in range(0, t, _BLOCK):
        block = bits[start : start + _BLOCK]
        mixed = buf[: block.shape[0]]
        np.right_shift(block, s29, out=mixed)  # spread exponent bits into the low bits
        np.bitwise_xor(mixed, block, out=mixed)
        np.multiply(mixed, mult, out=mixed)
        h = keys[start : start + _BLOCK]
        np.copyto(h, mixed[:, 0])
        for j in range(1, d):
            h += mixed[:, j]  # wraps modulo 2^64
    keys ^= keys >> s32
    keys *= final
    keys ^= keys >> s29
    return keys


def _first_rows_if_exact(X: np.ndarray, codes: np.ndarray, q: int) -> np.ndarray | None:
    """First row of every code, or None if some row differs from its group's first row."""
    t, d = X.shape
    U = np.empty((q, d), dtype=np.float64)
    U_bits, X_bits = U.view(np.uint64), X.view(np.uint64)
    gathered = np.empty((min(t, _BLOCK), d), dtype=np.uint64)
    same = np.empty((min(t, _BLOCK), d), dtype=bool)
    seen = -1
    for start in range(0, t, _BLOCK):
        c = codes[start : start + _BLOCK]
        block = X_bits[start : start + _BLOCK]
        k = c.shape[0]
        # codes count up in order of first appearance: a group opens exactly where the
        # running maximum of the codes grows (cheap unless the block opens many groups)
        if int(c.max()) > seen:
            running = np.maximum.accumulate(np.maximum(c, seen))
            opens = np.flatnonzero(np.diff(running, prepend=seen) > 0)
            U_bits[c[opens]] = block[opens]
            seen = int(running[-1])
        np.take(U_bits, c, axis=0, out=gathered[:k])
        np.equal(gathered[:k], block, out=same[:k])
        if not same[:k].all():
            return None
    return U


def _group_numpy(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(U, inverse)`` with unique canonical rows in order of first appearance."""
    U: np.ndarray | None = None
    for seed in range(_HASH_ATTEMPTS):
        codes, uniques = pd.factorize(row_keys(X, seed))
        U = _first_rows_if_exact(X, codes, len(uniques))
        if U is not None:  # else two different rows share a key: try other constants
            break
    if U is None:  # exact sort: slow, never expected
        rows, inv = torch.unique(torch.from_numpy(X), dim=0, return_inverse=True)
        order = _first_occurrence_order(inv, rows.shape[0])
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.shape[0])
        U, codes = rows[order].numpy(), rank[inv].numpy()
    codes = codes.astype(np.int64, copy=False)
    if bool((U.view(np.uint64) == np.uint64(1 << 63)).any()):
        # -0.0 -> 0.0 can make two groups equal: group the q canonical rows, relabel
        # (order is kept: a merged group appears where its first member did)
        U, relabel = _group_numpy(U + 0.0)
        codes = relabel[codes]
    return U, codes


def group_rows(X: Tensor) -> tuple[Tensor, Tensor]:
    """Group exactly equal canonical rows in O(t).

    Args:
        X: ``(t, d)`` inputs.

    Returns:
        ``(U, inverse)``: ``(q, d)`` float64 canonical unique rows in order of first
        appearance and ``(t,)`` long group index with ``U[inverse] == canonicalize(X)``.

    Example:
        >>> U, inv = group_rows(torch.tensor([[2.0], [1.0], [2.0], [-0.0], [0.0]]))
        >>> U.flatten().tolist(), inv.tolist()
        ([2.0, 1.0, 0.0], [0, 1, 0, 2, 2])
    """
    U, inverse = _group_numpy(_rows_numpy(X))
    return torch.from_numpy(U).to(X.device), torch.from_numpy(inverse).to(X.device)


def _first_occurrence_order(inverse: Tensor, q: int) -> Tensor:
    """Permutation of sorted unique rows into their order of first appearance."""
    t = inverse.shape[0]
    first = torch.full((q,), t, dtype=torch.long, device=inverse.device)
    idx = torch.arange(t, device=inverse.device)
    first = first.scatter_reduce(0, inverse, idx, reduce="amin")
    return torch.argsort(first)
