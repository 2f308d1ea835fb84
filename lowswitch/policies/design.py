"""The initial design: scrambled-Sobol points of the box, or a permutation of the candidates.

Both are drawn from the policy's seed alone (stream ``DESIGN_STREAM``), so the ``k``-th
design point is a pure function of ``(seed, k)``.

* **Initial design.** Until ``n_initial`` design blocks are issued (or the told data
  already holds ``n_initial`` unique points) ``ask`` returns blocks of
  ``initial_repeats`` evaluations at scrambled-Sobol points of the box (finite sets: a
  random permutation of the candidates), drawn from the policy's seed. The default size
  is ``2 d`` (at least 2, at most 20 and at most the number of candidates). The GP is
  never fitted on fewer than 2 unique points: the design is extended while that is the
  case. ``initial_repeats`` defaults to 2 when ``C > 1`` and to 1 when ``C = 1``: with
  single evaluations only, the noise variance is not identified and the MAP fit tends to
  explain noise by short lengthscales and a tiny ``sigma2`` (measured on Hartmann-6 with
  noise variance 0.25: learned 0.002), which would also make the switch rule
  meaningless; a duplicate per design point puts the within-point sum of squares into
  the exact likelihood. ``C = 1`` keeps one evaluation per decision (the standard
  baseline).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from lowswitch.errors import StateError
from lowswitch.policies.checks import canonical, row_key
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
    seed: int, cursor: int, bounds: Tensor, candidates: Tensor | None, exclude: list[Tensor],
    avoid: list[Tensor] | tuple[()] = (),
) -> tuple[Tensor, int | None]:
    """The ``cursor``-th design point ``(x (d,), row or None)``, skipping ``exclude``.

    Finite sets: the candidates in a seeded random order; boxes: the points of a scrambled
    Sobol sequence scaled to ``bounds``, from the ``cursor``-th on. Points in ``exclude``
    (this batch's) are skipped; points in ``avoid`` (pending blocks, told points) are
    skipped while an untaken candidate is left, so that a policy rebuilt from its history
    for every decision (design cursor back at 0) moves on to the next design point instead
    of repeating the first.

    Example:
        >>> box = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
        >>> torch.equal(design_point(0, 3, box, None, [])[0], design_point(0, 3, box, None, [])[0])
        True
        >>> first = design_point(0, 0, box, None, [])[0]
        >>> after = design_point(0, 0, box, None, [], [first])[0]
        >>> torch.equal(after, design_point(0, 1, box, None, [])[0])
        True
    """
    banned = {row_key(e) for e in exclude}
    taken = banned | {row_key(e) for e in avoid}
    if candidates is not None:
        m = candidates.shape[0]
        perm = torch.randperm(m, generator=seeded_generator(seed, DESIGN_STREAM))
        for skip in (taken, banned):
            for j in range(m):
                i = int(perm[(cursor + j) % m])
                x = candidates[i].clone()
                if row_key(x) not in skip:
                    return x, i
        raise StateError("ask: every candidate is already in this batch")  # pragma: no cover
    sobol_seed = int(seeded_generator(seed, DESIGN_STREAM).initial_seed() % (2**31))
    engine = SobolEngine(bounds.shape[1], scramble=True, seed=sobol_seed)
    if cursor:
        engine.fast_forward(cursor)
    # Sobol points are distinct, so at most len(taken) of these are skipped
    for u in engine.draw(len(taken) + 1, dtype=torch.float64):
        x = canonical(bounds[0] + (bounds[1] - bounds[0]) * u).clamp(bounds[0], bounds[1])
        if row_key(x) not in taken:
            return x, None
    raise StateError("design: no untaken Sobol point")  # pragma: no cover


__all__ = ["default_n_initial", "design_point"]
