"""Selection rules over per-arm scores or Thompson draws (pure functions).

All rules take ``values (m,)`` and return ``(k,)`` int64 positions into ``values``
(distinct, in order of preference where one exists). Partial selection keeps them
``O(m + k log k)`` rather than a full ``O(m log m)`` sort: ``numpy.argpartition``
for CPU tensors, ``torch.topk`` on other devices. Why numpy on the CPU: torch's
element-wise kernels and ``topk`` split arrays above ~32k elements across OpenMP threads,
and on an oversubscribed machine (more busy processes than cores) a single ``|x - t|``
over 1e5 floats was measured at ~40 ms with 2 threads vs ~0.04 ms with one; numpy's
kernels are single-threaded and do not have this failure mode.

* [`argmax_k`][lowswitch.bandit.select.argmax_k] - the ``k`` largest (GP-TS, UCB scores).
* [`closest_k`][lowswitch.bandit.select.closest_k] - the ``k`` closest to a target (MoPPS ``topk``).
* [`band_k`][lowswitch.bandit.select.band_k] - ``k`` at random inside ``[lo, hi]``; if fewer than
  ``k`` fall inside, all of those plus the nearest to the band (MoPPS ``threshold``).
* [`uniform_k`][lowswitch.bandit.select.uniform_k] - ``k`` uniformly at random without replacement
  (ablation).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lowswitch.bandit.rng import Generator
from lowswitch.errors import InputError

__all__ = ["argmax_k", "band_k", "choice", "closest_k", "uniform_k"]


def _check(values: torch.Tensor, k: int) -> None:
    if values.dim() != 1:
        raise InputError(f"values: expected shape (m,), got {tuple(values.shape)}")
    _check_k(int(values.shape[0]), k)


def _check_k(m: int, k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k: expected an int, got {type(k).__name__}")
    if not 0 <= k <= m:
        raise InputError(f"k: expected 0 <= k <= {m} (number of arms), got {k}")


def argmax_k(values: torch.Tensor, k: int) -> torch.Tensor:
    """Positions of the ``k`` largest values, largest first.

    Args:
        values: ``(m,)`` scores.
        k: how many to pick, ``0 <= k <= m``.

    Returns:
        ``(k,)`` int64 positions.

    Example:
        >>> argmax_k(torch.tensor([0.1, 0.9, 0.5]), 2).tolist()
        [1, 2]
    """
    _check(values, k)
    if values.device.type != "cpu":
        return torch.topk(values, int(k), largest=True, sorted=True).indices
    return _smallest_k(-values.detach().numpy(), int(k))


def closest_k(values: torch.Tensor, target: float, k: int) -> torch.Tensor:
    """Positions of the ``k`` values closest to ``target``, closest first.

    Args:
        values: ``(m,)`` Thompson draws.
        target: target value (MoPPS: target success rate, 0.5).
        k: how many to pick.

    Returns:
        ``(k,)`` int64 positions.

    Example:
        >>> closest_k(torch.tensor([0.1, 0.45, 0.9, 0.6]), 0.5, 2).tolist()
        [1, 3]
    """
    _check(values, k)
    if values.device.type != "cpu":
        return torch.topk((values - target).abs(), int(k), largest=False, sorted=True).indices
    dist = values.detach().numpy() - target
    np.abs(dist, out=dist)
    return _smallest_k(dist, int(k))


def _smallest_k(score: np.ndarray, k: int) -> torch.Tensor:
    """Positions of the ``k`` smallest entries of ``score (m,)``, smallest first.

    Ties are broken by position (as a stable full sort would).
    """
    m = score.shape[0]
    if k == 0:
        return torch.empty(0, dtype=torch.int64)
    if m >= _PREFILTER_MIN and k * _PREFILTER_FRACTION <= m:
        cut = _prefilter_cut(score, k)
        keep = np.flatnonzero(score <= cut)
        # every entry <= the k-th smallest (ties included) has score <= cut whenever at
        # least k entries do, so the answer on the survivors is the answer on all m
        if keep.size >= k:
            return torch.from_numpy(keep[_smallest_k(score[keep], k).numpy()])
    if k < m:
        part = np.argpartition(score, k - 1)[:k]
        # entries tied with the k-th smallest: keep the lowest positions, like a stable sort
        kth = score[part].max()
        if np.count_nonzero(score == kth) > 1:
            part = np.sort(part)
            below = part[score[part] < kth]
            tied = np.flatnonzero(score == kth)[: k - below.size]
            part = np.concatenate([below, tied])
    else:
        part = np.arange(m)
    part = np.sort(part)  # position order first, so the stable sort breaks ties by position
    order = part[np.argsort(score[part], kind="stable")]
    return torch.from_numpy(order.astype(np.int64))


# Above this many entries, k-smallest first keeps the entries under a cut estimated from
# a strided subsample (one compare pass) and partitions only those: argpartition over
# 1e6-1e7 entries costs ~10x a compare pass.
_PREFILTER_MIN = 1 << 16
_PREFILTER_FRACTION = 64
_SUBSAMPLE = 1 << 12


def _prefilter_cut(score: np.ndarray, k: int) -> float:
    """A value expected to have ~4k + 64 entries of ``score`` at or below it (no RNG).

    The subsample is the strided view ``score[::stride]``; any cut is correct (the
    caller falls back to a full partition when fewer than k entries survive), a good one
    keeps the survivors few.
    """
    m = score.shape[0]
    stride = max(1, m // _SUBSAMPLE)
    sub = score[::stride]
    rank = min(sub.size - 1, int(sub.size * (4 * k + 64) / m))
    return float(np.partition(sub, rank)[rank])


def choice(generator: Generator, n: int, k: int) -> torch.Tensor:
    """``k`` distinct positions drawn uniformly from ``range(n)``.

    Example:
        >>> from lowswitch.bandit import numpy_generator
        >>> len(set(choice(numpy_generator(0), 10, 4).tolist()))
        4
    """
    if isinstance(generator, np.random.Generator):
        return torch.from_numpy(generator.choice(n, size=k, replace=False).astype(np.int64))
    if isinstance(generator, torch.Generator):
        return torch.randperm(n, generator=generator, device=generator.device)[:k].cpu()
    raise InputError(
        "generator: expected a torch.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def uniform_k(m: int, k: int, generator: Generator) -> torch.Tensor:
    """``k`` distinct positions out of ``m``, uniformly at random.

    Example:
        >>> from lowswitch.bandit import numpy_generator
        >>> uniform_k(5, 5, numpy_generator(0)).sort().values.tolist()
        [0, 1, 2, 3, 4]
    """
    _check_k(int(m), k)
    return choice(generator, int(m), int(k))


def band_k(
    values: torch.Tensor, lo: float, hi: float, k: int, generator: Generator
) -> torch.Tensor:
    """``k`` random positions with ``lo <= value <= hi``, nearest-to-band fallback.

    If at least ``k`` values lie in the band, ``k`` of them are drawn uniformly without
    replacement. Otherwise every in-band position is taken, followed by the
    ``k - n_in`` out-of-band positions with the smallest distance
    ``max(lo - v, v - hi)`` to the band.

    Args:
        values: ``(m,)`` Thompson draws.
        lo: lower edge of the band.
        hi: upper edge, ``lo <= hi``.
        k: how many to pick.
        generator: random source for the in-band draw.

    Returns:
        ``(k,)`` int64 positions.

    Example:
        >>> from lowswitch.bandit import numpy_generator
        >>> v = torch.tensor([0.05, 0.5, 0.95, 0.8])
        >>> band_k(v, 0.3, 0.7, 2, numpy_generator(0)).tolist()
        [1, 3]
    """
    _check(values, k)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise InputError(f"band: expected finite lo <= hi, got ({lo}, {hi})")
    if values.device.type != "cpu":
        return band_k(values.cpu(), lo, hi, k, generator)
    v = values.detach().numpy()
    inside = (v >= lo) & (v <= hi)
    in_pos = np.flatnonzero(inside)
    n_in = int(in_pos.size)
    if n_in >= k:
        return torch.from_numpy(in_pos[choice(generator, n_in, int(k)).numpy()])
    dist = np.maximum(lo - v, v - hi)
    dist[inside] = np.inf
    rest = _smallest_k(dist, int(k) - n_in)
    return torch.cat([torch.from_numpy(in_pos.astype(np.int64)), rest])
