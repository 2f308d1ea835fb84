"""Shared Thompson-sampling core: posteriors over arms, selection rules, explicit RNG.

Torch + numpy only (no gpytorch / botorch), so RL stacks can import ``mopps`` without
pulling in the GP side. Used by [`mopps.PromptSelector`][mopps.PromptSelector] (Beta-Bernoulli arms
over prompts) and the GP-TS policy (Gaussian arms over candidates).

Example:
    >>> import torch
    >>> from lowswitch.bandit import BetaArms, closest_k, numpy_generator
    >>> arms = BetaArms.uniform(10)
    >>> arms.update([0, 1], [4, 0], [4, 4])
    >>> draws = arms.sample(numpy_generator(0))[0]           # (10,)
    >>> closest_k(draws, 0.5, 3).shape
    torch.Size([3])
"""

from __future__ import annotations

from lowswitch.bandit.arms import Arms
from lowswitch.bandit.beta import BetaArms, check_feedback, check_index, discounted_update
from lowswitch.bandit.gaussian import GaussianArms, jittered_cholesky, robust_cholesky
from lowswitch.bandit.rng import (
    Generator,
    beta_variates,
    generator_from_state,
    get_state,
    numpy_generator,
    set_state,
    standard_normal,
    torch_generator,
)
from lowswitch.bandit.select import argmax_k, band_k, choice, closest_k, uniform_k

__all__ = [
    "Arms",
    "BetaArms",
    "GaussianArms",
    "Generator",
    "argmax_k",
    "band_k",
    "beta_variates",
    "check_feedback",
    "check_index",
    "choice",
    "closest_k",
    "discounted_update",
    "generator_from_state",
    "get_state",
    "jittered_cholesky",
    "numpy_generator",
    "robust_cholesky",
    "set_state",
    "standard_normal",
    "torch_generator",
    "uniform_k",
]
