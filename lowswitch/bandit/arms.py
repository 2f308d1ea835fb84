"""The posterior-over-arms protocol shared by MoPPS prompts and GP-TS candidates.

An *arms* object is a posterior over the unknown values of ``m`` arms. It answers three
questions: the posterior mean, the posterior variance, and a Thompson draw made with an
explicit generator. Selection rules (``lowswitch.bandit.select``) act on the draws.

Shapes: ``mean`` and ``variance`` are ``(m,)``; ``sample(generator, n_samples)`` is
``(n_samples, m)``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from lowswitch.bandit.rng import Generator

__all__ = ["Arms"]


@runtime_checkable
class Arms(Protocol):
    """A posterior over ``m`` arms: mean, variance and Thompson samples.

    Implemented by [`lowswitch.bandit.BetaArms`][lowswitch.bandit.BetaArms] (prompt success rates)
    and [`lowswitch.bandit.GaussianArms`][lowswitch.bandit.GaussianArms] (GP posterior over
    candidates).

    Example:
        >>> import torch
        >>> from lowswitch.bandit import Arms, BetaArms, numpy_generator
        >>> arms = BetaArms.uniform(4)
        >>> isinstance(arms, Arms)
        True
        >>> arms.sample(numpy_generator(0), 2).shape
        torch.Size([2, 4])
    """

    @property
    def n_arms(self) -> int:
        """Number of arms ``m``."""
        ...

    @property
    def mean(self) -> torch.Tensor:
        """``(m,)`` posterior mean of each arm."""
        ...

    @property
    def variance(self) -> torch.Tensor:
        """``(m,)`` posterior variance of each arm."""
        ...

    def sample(self, generator: Generator, n_samples: int = 1) -> torch.Tensor:
        """``(n_samples, m)`` joint posterior draws made with ``generator``."""
        ...
