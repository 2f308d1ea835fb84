"""Selection rules over per-arm scores or Thompson draws (pure functions).

All rules take ``values (m,)`` and return ``(k,)`` int64 positions into ``values``
(distinct, in order of preference where one exists). Partial selection
(:func:`torch.topk`) keeps them ``O(m)`` rather than a full ``O(m log m)`` sort.

* :func:`argmax_k` - the ``k`` largest (GP-TS, UCB scores).
* :func:`closest_k` - the ``k`` closest to a target (MoPPS ``topk``).
* :func:`band_k` - ``k`` at random inside ``[lo, hi]``; if fewer than ``k`` fall inside,
  all of those plus the nearest to the band (MoPPS ``threshold``).
* :func:`uniform_k` - ``k`` uniformly at random without replacement (ablation).
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
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k: expected an int, got {type(k).__name__}")
    if not 0 <= k <= values.shape[0]:
        raise InputError(f"k: expected 0 <= k <= {values.shape[0]} (number of arms), got {k}")


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
    return torch.topk(values, int(k), largest=True, sorted=True).indices


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
    return torch.topk((values - target).abs(), int(k), largest=False, sorted=True).indices


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
    _check(torch.empty(m), k)
    return choice(generator, m, int(k))


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
    inside = (values >= lo) & (values <= hi)
    in_pos = torch.nonzero(inside).squeeze(1).cpu()
    n_in = int(in_pos.numel())
    if n_in >= k:
        return in_pos[choice(generator, n_in, int(k))]
    dist = torch.maximum(lo - values, values - hi)
    dist = dist.masked_fill(inside, math.inf)
    rest = torch.topk(dist, int(k) - n_in, largest=False, sorted=True).indices.cpu()
    return torch.cat([in_pos, rest])
