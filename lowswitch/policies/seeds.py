"""The one recipe that derives seeds from ``(seed, stream...)`` (policies, planner, Optuna).

Every derived seed goes through numpy's ``SeedSequence`` of ``[seed, *stream]``: stable
across processes and platforms, and streams that differ in any word are independent.
"""

from __future__ import annotations

import numpy as np
import torch

DESIGN_STREAM = 0
"""Stream of a policy's initial design (Sobol scramble / candidate permutation)."""
ASK_STREAM = 1
"""Stream of a policy's ``k``-th ask: ``(ASK_STREAM, k)``."""
FIT_STREAM = 2
"""Stream of the random restarts of a hyperparameter refit: ``(FIT_STREAM, k)``."""


def derive_seed(seed: int, *stream: int, bits: int = 32) -> int:
    """A non-negative seed of ``bits`` bits (at most 63) derived from ``(seed, *stream)``.

    Up to 32 bits: the first 32-bit word of the ``SeedSequence``, masked; above 32 bits: two
    words combined (``w0 << 31 ^ w1``, 63 bits).

    Example:
        >>> derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2)
        True
        >>> derive_seed(7, 3, bits=31) < 2**31
        True
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 63:
        from lowswitch.errors import InputError

        raise InputError(f"bits: expected an int in [1, 63], got {bits!r}")
    words = np.random.SeedSequence([int(seed), *[int(s) for s in stream]]).generate_state(2)
    if bits <= 32:
        return int(words[0]) & ((1 << bits) - 1)
    return (int(words[0]) << 31 ^ int(words[1])) & ((1 << bits) - 1)


def seeded_generator(seed: int, *stream: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``derive_seed(seed, *stream, bits=63)``.

    Counter-based: the ``k``-th ask uses ``seeded_generator(seed, ASK_STREAM, k)``, so no
    generator state has to be stored.

    Example:
        >>> a = torch.rand(2, generator=seeded_generator(0, 1, 5))
        >>> torch.equal(a, torch.rand(2, generator=seeded_generator(0, 1, 5)))
        True
    """
    gen = torch.Generator()
    gen.manual_seed(derive_seed(seed, *stream, bits=63))
    return gen


__all__ = ["ASK_STREAM", "DESIGN_STREAM", "FIT_STREAM", "derive_seed", "seeded_generator"]
