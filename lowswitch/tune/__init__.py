"""Hyperparameter tuning with repeats and switch costs.

- [`Tuner`][lowswitch.tune.Tuner]: ask/tell over a [`Space`][lowswitch.space.Space] (trials carry a
  repeat index for the seed / fold), failures, pending trials, posterior-mean recommendation.
- ``minimize``: the loop, with ``setup(config)`` once per switch, worker processes,
  progress bar, a pandas DataFrame of trials, time accounting and plots.

Search-space types are re-exported from [`lowswitch.space`][lowswitch.space].

Example:
    >>> from lowswitch.tune import Float, Space, minimize
    >>> res = minimize(lambda c, r: (c["x"] - 1.0) ** 2, Space({"x": Float(0.0, 2.0)}),
    ...                budget=8, progress=False)
    >>> res.n_evaluations
    8
"""

from __future__ import annotations

from lowswitch.policies.config import PolicyConfig
from lowswitch.space import Categorical, Float, Int, Space
from lowswitch.tune.minimize import TuneResult, minimize
from lowswitch.tune.tuner import Best, Trial, Tuner

__all__ = ["Best", "Categorical", "Float", "Int", "PolicyConfig", "Space", "Trial", "TuneResult",
           "Tuner", "minimize"]
