"""Input checks of the policies' public boundary: the box, candidates, points, values.

Pure validation: each function returns canonical float64 tensors or raises an
[`InputError`][lowswitch.errors.InputError] that says what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from lowswitch.errors import InputError
from lowswitch.validation import MAX_ABS_MEASUREMENT

_DTYPE = torch.float64

RowIndex = dict[tuple[float, ...], int]


def as_float64(name: str, value: Any) -> Tensor:
    """``value`` as a detached float64 CPU copy (``InputError`` if it is not real)."""
    try:
        out = torch.as_tensor(value, dtype=_DTYPE)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputError(
            f"{name}: expected a real tensor, got {type(value).__name__} ({err})"
        ) from None
    return out.detach().cpu().clone()


def canonical(x: Tensor) -> Tensor:
    """float64, ``-0.0 -> 0.0`` (same canonicalisation as the GP's dedupe)."""
    return x + 0.0


def row_key(x: Tensor) -> tuple[float, ...]:
    """A ``(d,)`` row as a hashable key (exact float values; canonicalise first).

    Example:
        >>> row_key(canonical(torch.tensor([-0.0, 1.5], dtype=torch.float64)))
        (0.0, 1.5)
    """
    return tuple(x.tolist())


def check_bounds(value: Any) -> Tensor:
    """A ``(2, d)`` finite box with lower < upper in every dimension."""
    bounds = as_float64("bounds", value)
    if bounds.dim() != 2 or bounds.shape[0] != 2 or bounds.shape[1] < 1:
        raise InputError(f"bounds: expected shape (2, d) with d >= 1, got {tuple(bounds.shape)}")
    if not bool(torch.isfinite(bounds).all()) or not bool((bounds[0] < bounds[1]).all()):
        raise InputError("bounds: expected finite values with lower < upper in every dimension")
    return bounds


def check_candidates(value: Any, bounds: Tensor) -> tuple[Tensor | None, RowIndex | None]:
    """``(m, d)`` distinct finite rows inside ``bounds`` and their row index (or ``None``)."""
    if value is None:
        return None, None
    d = bounds.shape[1]
    candidates = canonical(as_float64("candidates", value))
    if candidates.dim() != 2 or candidates.shape[1] != d or candidates.shape[0] < 1:
        raise InputError(
            f"candidates: expected shape (m, {d}) with m >= 1, got {tuple(candidates.shape)}"
        )
    if not bool(torch.isfinite(candidates).all()):
        raise InputError("candidates: expected finite values, got NaN or inf")
    if not bool(((candidates >= bounds[0]) & (candidates <= bounds[1])).all()):
        raise InputError("candidates: expected every row inside bounds")
    index: RowIndex = {}
    for i, row in enumerate(candidates.tolist()):
        key = tuple(row)
        if key in index:
            raise InputError(f"candidates: rows {index[key]} and {i} are identical")
        index[key] = i
    return candidates, index


def check_point(
    name: str, x: Any, bounds: Tensor, index: RowIndex | None
) -> tuple[Tensor, int | None]:
    """One ``(d,)`` point inside ``bounds`` (a candidate row when ``index``); ``(x, row)``."""
    d = bounds.shape[1]
    xt = canonical(as_float64(name, x))
    if xt.dim() != 1 or xt.shape[0] != d:
        raise InputError(f"{name}: expected shape ({d},), got {tuple(xt.shape)}")
    if not bool(torch.isfinite(xt).all()):
        raise InputError(f"{name}: expected finite values, got {xt.tolist()}")
    if not bool(((xt >= bounds[0]) & (xt <= bounds[1])).all()):
        raise InputError(f"{name}: point {xt.tolist()} lies outside bounds")
    idx = None
    if index is not None:
        idx = index.get(row_key(xt))
        if idx is None:
            raise InputError(f"{name}: point {xt.tolist()} is not a row of candidates")
    return xt, idx


def check_pending(pending: Any, bounds: Tensor, index: RowIndex | None) -> tuple[Tensor, Tensor]:
    """``[(x, n), ...]`` -> ``(X (p, d), n (p,))`` (``None``: nothing pending)."""
    d = bounds.shape[1]
    empty = torch.empty(0, d, dtype=_DTYPE), torch.empty(0, dtype=torch.long)
    if pending is None:
        return empty
    try:
        items = list(pending)
    except TypeError:
        raise InputError(
            f"pending: expected a list of (x, n) pairs, got {type(pending).__name__}"
        ) from None
    xs, ns = [], []
    for j, item in enumerate(items):
        try:
            x, n = item
        except (TypeError, ValueError):
            raise InputError(f"pending[{j}]: expected an (x, n) pair, got {item!r}") from None
        xs.append(check_point(f"pending[{j}].x", x, bounds, index)[0])
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise InputError(f"pending[{j}].n: expected an int >= 1, got {n!r}")
        ns.append(int(n))
    if not xs:
        return empty
    return torch.stack(xs), torch.tensor(ns, dtype=torch.long)


def check_values(y: Any) -> Tensor:
    """``(k,)`` finite observations with ``|y| <= MAX_ABS_MEASUREMENT`` (0-d: ``k = 1``)."""
    yt = as_float64("y", y)
    if yt.dim() == 0:
        yt = yt.reshape(1)
    if yt.dim() != 1 or yt.shape[0] < 1:
        raise InputError(f"y: expected shape (k,) with k >= 1, got {tuple(yt.shape)}")
    bad = ~torch.isfinite(yt) | (yt.abs() > MAX_ABS_MEASUREMENT)
    if bool(bad.any()):
        raise InputError(
            f"y: expected finite values with |value| <= {MAX_ABS_MEASUREMENT:g}, "
            f"got {float(yt[bad][0])!r}"
        )
    return yt


def check_rows(x: Any, y: Any, bounds: Tensor, index: RowIndex | None) -> tuple[Tensor, Tensor]:
    """``(t, d)`` points and their ``(t,)`` values (each row checked as by ``check_point``)."""
    X = as_float64("x", x)
    if X.dim() != 2 or X.shape[0] < 1:
        raise InputError(f"x: expected shape (t, {bounds.shape[1]}) with t >= 1, got "
                         f"{tuple(X.shape)}")
    rows = torch.stack([check_point(f"x[{i}]", X[i], bounds, index)[0]
                        for i in range(X.shape[0])])
    Y = check_values(y)
    if Y.shape[0] != rows.shape[0]:
        raise InputError(f"y: expected {rows.shape[0]} values (one per row of x), got "
                         f"{Y.shape[0]}")
    return rows, Y


def check_block_count(n_blocks: Any) -> int:
    """``None`` -> 1, else an int ``>= 1``."""
    k = 1 if n_blocks is None else n_blocks
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"n_blocks: expected None or an int >= 1, got {n_blocks!r}")
    return int(k)


__all__ = [
    "RowIndex",
    "as_float64",
    "canonical",
    "check_block_count",
    "check_bounds",
    "check_candidates",
    "check_pending",
    "check_point",
    "check_rows",
    "check_values",
    "row_key",
]
