"""The initial design: scrambled-Sobol points of the box, or a permutation of the candidates.

Both are drawn from the policy's seed alone (stream ``DESIGN_STREAM``), so the ``k``-th
design point is a pure function of ``(seed, k)``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from lowswitch.errors import StateError
from lowswitch.policies.seeds import DESIGN_STREAM, seeded_generator


def default_n_initial(n_initial: int | None, d: int, m: int | None) -> int:
    """Design size: ``n_initial`` or ``clip(2 d, 2, 20)``, at most ``m`` candidates.

    Example:
        >>> default_n_initial(None, 3, None), default_n_initial(None, 30, 5)
        (6, 5)
        >>> default_n_initial(4, 1, None)
        4
    """
    n = min(20, max(2, 2 * d)) if n_initial is None else n_initial
    return n if m is None else min(n, m)


def design_point(
    seed: int, cursor: int, bounds: Tensor, candidates: Tensor | None, exclude: list[Tensor]
) -> tuple[Tensor, int | None]:
    """The ``cursor``-th design point ``(x (d,), row or None)``, skipping ``exclude``.

    Finite sets: the candidates in a seeded random order (rows in ``exclude`` skipped);
    boxes: the ``cursor``-th point of a scrambled Sobol sequence scaled to ``bounds``.

    Example:
        >>> box = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
        >>> torch.equal(design_point(0, 3, box, None, [])[0], design_point(0, 3, box, None, [])[0])
        True
    """
    if candidates is not None:
        m = candidates.shape[0]
        perm = torch.randperm(m, generator=seeded_generator(seed, DESIGN_STREAM))
        taken = {tuple(e.tolist()) for e in exclude}
        for j in range(m):
            i = int(perm[(cursor + j) % m])
            x = candidates[i].clone()
            if tuple(x.tolist()) not in taken:
                return x, i
        raise StateError("ask: every candidate is already in this batch")  # pragma: no cover
    sobol_seed = int(seeded_generator(seed, DESIGN_STREAM).initial_seed() % (2**31))
    engine = SobolEngine(bounds.shape[1], scramble=True, seed=sobol_seed)
    if cursor:
        engine.fast_forward(cursor)
    u = engine.draw(1, dtype=torch.float64)[0]
    x = bounds[0] + (bounds[1] - bounds[0]) * u + 0.0
    return x.clamp(bounds[0], bounds[1]), None


__all__ = ["default_n_initial", "design_point"]
