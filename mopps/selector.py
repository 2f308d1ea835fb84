"""MoPPS prompt selection: Beta posteriors over prompt success rates + Thompson sampling.

Every prompt ``i`` has an unknown success rate ``gamma_i`` (chance that one rollout earns
reward 1) with posterior ``Beta(alpha_i, beta_i)``. Each training step:

1. ``select``: draw ``gamma_hat_i ~ Beta(alpha_i, beta_i)`` for every candidate, keep the
   ``B`` whose draw is closest to the target rate (``topk``), or ``B`` at random inside a
   band (``threshold``), or ``B`` uniformly (``uniform``, ablation).
2. Roll the selected prompts out ``k`` times each (outside this class).
3. ``update``: ``alpha_i <- lambda alpha_i + (1 - lambda) a0_i + s_i`` and
   ``beta_i <- lambda beta_i + (1 - lambda) b0_i + (k_i - s_i)``.

The maths lives in [`lowswitch.bandit`][lowswitch.bandit] (torch + numpy only); this class holds the
state and the random generator, validates input once, and records per-step metrics.
State is ``alpha, beta`` in float64 (16 bytes per prompt), plus per-prompt priors
``a0, b0`` (another 16) only once an offline prior has been given.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lowswitch.bandit import (
    BetaArms,
    band_k,
    check_feedback,
    check_index,
    closest_k,
    generator_from_state,
    get_state,
    numpy_generator,
    uniform_k,
)
from lowswitch.bandit.state import read_header, state_header
from lowswitch.errors import InputError
from mopps.metrics import StepMetrics

__all__ = ["STRATEGIES", "PromptSelector"]

STRATEGIES = ("topk", "threshold", "uniform")
_KIND = "mopps.PromptSelector"
_VERSIONS = (1, 2)  # 1: the pre-shared header "mopps.PromptSelector/1"; same payload


def _check_int(name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name}: expected an int >= {low}, got {value!r}")
    return int(value)


def _check_float(name: str, value: Any, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name}: expected a number in [{lo}, {hi}], got {value!r}") from err
    if math.isnan(v) or not lo <= v <= hi:
        raise InputError(f"{name}: expected a number in [{lo}, {hi}], got {value!r}")
    return v


class PromptSelector:
    """Online prompt selection for RL finetuning (MoPPS).

    Args:
        n_prompts: size of the prompt pool (indices ``0 .. n_prompts-1``).
        target: target success rate ``gamma*`` for ``topk`` (default 0.5).
        decay: forgetting factor ``lambda`` in ``(0, 1]``; 1 = plain counting.
        prior: shared prior ``(a0, b0)``.
        strategy: ``"topk"``, ``"threshold"`` or ``"uniform"``.
        seed: seed of the selector's own numpy generator (``None``: OS entropy).
        band: ``(lo, hi)`` success-rate band for ``threshold``.
        offline_successes: optional ``(n_prompts,)`` successes of the base model in an
            offline evaluation; with ``offline_trials`` gives the prior
            ``a0_i = prior[0] + w s_i``, ``b0_i = prior[1] + w (k_i - s_i)``, which is also
            the decay target.
        offline_trials: ``(n_prompts,)`` offline rollouts per prompt.
        offline_weight: ``w`` (default 3).
        max_history: per-step metrics kept in ``history`` (and in the state), the
            most recent ones; ``None`` keeps all (checkpoints then grow with the steps).

    Example:
        >>> import torch
        >>> sel = PromptSelector(1000, target=0.5, strategy="topk", seed=0)
        >>> idx = sel.select(8)                              # LongTensor (8,)
        >>> rewards = torch.ones(8, 4)                      # 4 rollouts per prompt
        >>> sel.update(idx, rewards.sum(1), torch.full((8,), 4))
        >>> bool((sel.predict(idx) > 0.5).all())
        True
    """

    def __init__(
        self,
        n_prompts: int,
        target: float = 0.5,
        decay: float = 1.0,
        prior: tuple[float, float] = (1.0, 1.0),
        strategy: str = "topk",
        seed: int | None = 0,
        *,
        band: tuple[float, float] = (0.3, 0.7),
        offline_successes: Any = None,
        offline_trials: Any = None,
        offline_weight: float = 3.0,
        max_history: int | None = 10_000,
    ) -> None:
        n = _check_int("n_prompts", n_prompts)
        self.target: float = _check_float("target", target, 0.0, 1.0)
        if strategy not in STRATEGIES:
            raise InputError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
        self.strategy: str = strategy
        self.band: tuple[float, float] = self._check_band(band)
        if not (isinstance(prior, (tuple, list)) and len(prior) == 2):
            raise InputError(f"prior: expected a pair (a0, b0), got {prior!r}")
        self.prior: tuple[float, float] = (float(prior[0]), float(prior[1]))
        self._arms = BetaArms.uniform(n, prior=self.prior, decay=decay)
        self._rng = numpy_generator(seed)
        self.n_updates: int = 0
        self.n_selects: int = 0
        self.max_history = (
            None if max_history is None else _check_int("max_history", max_history, 1)
        )
        self.history: deque[StepMetrics] = deque(maxlen=self.max_history)
        self.last_samples: torch.Tensor = torch.empty(0, dtype=torch.float64)
        if offline_successes is not None or offline_trials is not None:
            if offline_successes is None or offline_trials is None:
                raise InputError("offline_successes, offline_trials: give both or neither")
            self.set_offline_prior(offline_successes, offline_trials, weight=offline_weight)

    @staticmethod
    def _check_band(band: Any) -> tuple[float, float]:
        if not (isinstance(band, (tuple, list)) and len(band) == 2):
            raise InputError(f"band: expected a pair (lo, hi), got {band!r}")
        lo = _check_float("band[0]", band[0], 0.0, 1.0)
        hi = _check_float("band[1]", band[1], 0.0, 1.0)
        if lo > hi:
            raise InputError(f"band: expected lo <= hi, got ({lo}, {hi})")
        return lo, hi

    # ----------------------------------------------------------------- properties
    @property
    def n_prompts(self) -> int:
        """Size of the prompt pool."""
        return self._arms.n_arms

    @property
    def decay(self) -> float:
        """Forgetting factor ``lambda``."""
        return self._arms.decay

    @property
    def alpha(self) -> torch.Tensor:
        """``(n_prompts,)`` float64 first Beta parameters (treat as read-only)."""
        return self._arms.alpha

    @property
    def beta(self) -> torch.Tensor:
        """``(n_prompts,)`` float64 second Beta parameters (treat as read-only)."""
        return self._arms.beta

    @property
    def arms(self) -> BetaArms:
        """The underlying [`lowswitch.bandit.BetaArms`][lowswitch.bandit.BetaArms]."""
        return self._arms

    @property
    def nbytes(self) -> int:
        """Bytes of posterior state: alpha, beta (+ per-prompt priors if set)."""
        return self._arms.nbytes

    @property
    def last_metrics(self) -> StepMetrics | None:
        """Metrics of the latest ``update`` (``None`` before the first)."""
        return self.history[-1] if self.history else None

    # ------------------------------------------------------------------ main API
    def select(self, batch_size: int, candidates: Any = None) -> torch.Tensor:
        """Choose ``batch_size`` distinct prompts for the next step.

        Args:
            batch_size: number of prompts ``B`` (``0 <= B <= number of candidates``).
            candidates: optional ``(c,)`` distinct prompt indices to choose from
                (default: the whole pool).

        Returns:
            ``(B,)`` int64 prompt indices. The Thompson draws of the chosen prompts are in
            ``last_samples`` (empty for ``uniform``).

        Raises:
            InputError: bad ``batch_size`` or ``candidates``; the generator is not advanced.

        Example:
            >>> sel = PromptSelector(10, strategy="threshold", seed=1)
            >>> sel.select(3, candidates=torch.tensor([1, 3, 5, 7])).shape
            torch.Size([3])
        """
        cand = None
        if candidates is not None:
            cand = check_index(candidates, self.n_prompts, name="candidates")
            seen = np.zeros(self.n_prompts, dtype=bool)
            seen[cand.numpy()] = True
            if int(np.count_nonzero(seen)) != cand.numel():
                raise InputError("candidates: expected distinct prompt indices, got repeats")
        n_cand = self.n_prompts if cand is None else int(cand.numel())
        b = _check_int("batch_size", batch_size)
        if b > n_cand:
            raise InputError(
                f"batch_size: expected <= {n_cand} (number of candidates), got {b}"
            )
        if self.strategy == "uniform":
            pos = uniform_k(n_cand, b, self._rng)
            self.last_samples = torch.empty(0, dtype=torch.float64)
        else:
            draws = self._arms.sample(self._rng, 1, index=cand)[0]
            if self.strategy == "topk":
                pos = closest_k(draws, self.target, b)
            else:
                pos = band_k(draws, self.band[0], self.band[1], b, self._rng)
            self.last_samples = torch.from_numpy(draws.numpy()[pos.numpy()])
        self.n_selects += 1
        return pos if cand is None else torch.from_numpy(cand.numpy()[pos.numpy()])

    def update(self, idx: Any, successes: Any, trials: Any) -> None:
        """Fold one step of rollout results into the posteriors.

        Args:
            idx: ``(n,)`` prompt indices that were rolled out.
            successes: ``(n,)`` successes per prompt, or the sum of its rewards in
                ``[0, 1]`` (fractional allowed).
            trials: ``(n,)`` rollouts per prompt (> 0), or one int for all.

        Raises:
            InputError: indices out of range, wrong lengths, NaN or negative rewards,
                successes > trials. Nothing changes then.

        Example:
            >>> sel = PromptSelector(3, decay=0.5)
            >>> sel.update([0], [1.5], [2])
            >>> sel.alpha.tolist(), sel.beta.tolist()
            ([2.5, 1.0, 1.0], [1.5, 1.0, 1.0])
        """
        i, s, k = check_feedback(idx, successes, trials, self.n_prompts)
        i_np = i.numpy()
        a_i, b_i = self._arms.alpha.numpy()[i_np], self._arms.beta.numpy()[i_np]
        predicted = torch.from_numpy(a_i / (a_i + b_i))  # prediction made before this step
        self._arms._apply(i, s, k)
        self.n_updates += 1
        self.history.append(StepMetrics.compute(self.n_updates, predicted, s, k))

    def predict(self, idx: Any = None) -> torch.Tensor:
        """Posterior mean success rate ``alpha / (alpha + beta)``.

        Args:
            idx: optional ``(n,)`` prompt indices (default: all prompts).

        Returns:
            ``(n,)`` (or ``(n_prompts,)``) float64.

        Example:
            >>> PromptSelector(2, prior=(1.0, 3.0)).predict([1]).tolist()
            [0.25]
        """
        if idx is None:
            return self._arms.mean
        i = check_index(idx, self.n_prompts, name="idx").numpy()
        a_i, b_i = self._arms.alpha.numpy()[i], self._arms.beta.numpy()[i]
        return torch.from_numpy(a_i / (a_i + b_i))

    def grow(
        self, n_new: int, offline_successes: Any = None, offline_trials: Any = None
    ) -> torch.Tensor:
        """Add ``n_new`` prompts at the shared prior (optionally with offline counts).

        Returns:
            ``(n_new,)`` indices of the new prompts.

        Example:
            >>> sel = PromptSelector(5)
            >>> sel.grow(2).tolist(), sel.n_prompts
            ([5, 6], 7)
        """
        n_new = _check_int("n_new", n_new)
        new_idx = torch.arange(self.n_prompts, self.n_prompts + n_new)
        if offline_successes is not None or offline_trials is not None:
            # validate before growing so that bad input changes nothing
            check_feedback(torch.arange(n_new), offline_successes, offline_trials, n_new)
        self._arms.grow(n_new, prior=self.prior)
        if offline_successes is not None:
            self.set_offline_prior(offline_successes, offline_trials, index=new_idx)
        return new_idx

    def set_offline_prior(
        self, successes: Any, trials: Any, index: Any = None, weight: float = 3.0
    ) -> None:
        """Per-prompt prior from an offline evaluation of the base model.

        ``a0_i = prior[0] + w s_i`` and ``b0_i = prior[1] + w (k_i - s_i)``; the posterior
        of these prompts is reset to it and it becomes their decay target.

        Args:
            successes: ``(n,)`` offline successes.
            trials: ``(n,)`` offline rollouts (> 0).
            index: ``(n,)`` prompts concerned (default: all, then ``n = n_prompts``).
            weight: ``w >= 0`` (authors: 3).

        Example:
            >>> sel = PromptSelector(2)
            >>> sel.set_offline_prior([4, 0], [4, 4])
            >>> sel.alpha.tolist(), sel.beta.tolist()
            ([13.0, 1.0], [1.0, 13.0])
        """
        w = _check_float("weight", weight, 0.0, math.inf)
        if index is None:
            index = torch.arange(self.n_prompts)
        i, s, k = check_feedback(index, successes, trials, self.n_prompts)
        self._arms.set_prior(i, self.prior[0] + w * s, self.prior[1] + w * (k - s))

    # ------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Full state as plain data: tensors, floats, ints, strs, lists, dicts.

        Works with ``torch.save`` / ``torch.load(weights_only=True)``; see
        [`to_json`][mopps.selector.PromptSelector.to_json] for a text form. Includes the generator
        state, so a restored selector continues the exact same selection stream.

        Example:
            >>> a = PromptSelector(50, seed=3)
            >>> b = PromptSelector(50, seed=99)
            >>> b.load_state_dict(a.state_dict())
            >>> torch.equal(a.select(5), b.select(5))
            True
        """
        pa, pb = self._arms.prior_alpha, self._arms.prior_beta
        return {
            **state_header(_KIND, _VERSIONS[-1]),
            "alpha": self._arms.alpha.clone(),
            "beta": self._arms.beta.clone(),
            "prior_alpha": pa.clone() if isinstance(pa, torch.Tensor) else pa,
            "prior_beta": pb.clone() if isinstance(pb, torch.Tensor) else pb,
            "prior": list(self.prior),
            "target": self.target,
            "decay": self._arms.decay,
            "strategy": self.strategy,
            "band": list(self.band),
            "rng": get_state(self._rng),
            "n_updates": self.n_updates,
            "n_selects": self.n_selects,
            "history": [m.as_dict() for m in self.history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from [`state_dict`][mopps.sampler.MoPPSSampler.state_dict] (validated in full
        before anything changes).

        Example:
            >>> sel = PromptSelector(4)
            >>> sel.update([0], [1], [1])
            >>> fresh = PromptSelector(1)
            >>> fresh.load_state_dict(sel.state_dict())
            >>> fresh.alpha.tolist()
            [2.0, 1.0, 1.0, 1.0]
        """
        read_header(state, _KIND, _VERSIONS)
        try:
            prior = state["prior"]
            arms = BetaArms(
                torch.as_tensor(state["alpha"], dtype=torch.float64),
                torch.as_tensor(state["beta"], dtype=torch.float64),
                _prior_value(state["prior_alpha"]),
                _prior_value(state["prior_beta"]),
                state["decay"],
            )
            strategy = state["strategy"]
            if strategy not in STRATEGIES:
                raise InputError(f"state['strategy']: expected one of {STRATEGIES}")
            target = _check_float("state['target']", state["target"], 0.0, 1.0)
            band = self._check_band(tuple(state["band"]))
            rng = generator_from_state(state["rng"])
            if not isinstance(rng, np.random.Generator):
                raise InputError("state['rng']: expected a numpy generator state")
            history = [StepMetrics(**_nan_from_none(h)) for h in state["history"]]
            n_updates = _check_int("state['n_updates']", state["n_updates"])
            n_selects = _check_int("state['n_selects']", state["n_selects"])
            prior_pair = (float(prior[0]), float(prior[1]))
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"state: malformed PromptSelector state ({err!r})") from err
        self._arms, self._rng = arms, rng
        self.prior, self.target, self.strategy, self.band = prior_pair, target, strategy, band
        self.history = deque(history, maxlen=self.max_history)
        self.n_updates, self.n_selects = n_updates, n_selects
        self.last_samples = torch.empty(0, dtype=torch.float64)

    def to_json(self) -> str:
        """The [`state_dict`][mopps.sampler.MoPPSSampler.state_dict] as a JSON string (float64
        values round-trip exactly).

        Example:
            >>> sel = PromptSelector(3, seed=0)
            >>> other = PromptSelector.from_json(sel.to_json())
            >>> torch.equal(sel.select(2), other.select(2))
            True
        """
        state = self.state_dict()
        for key in ("alpha", "beta", "prior_alpha", "prior_beta"):
            if isinstance(state[key], torch.Tensor):
                state[key] = state[key].tolist()
        state["history"] = [_none_from_nan(h) for h in state["history"]]
        return json.dumps(state, allow_nan=False)

    def load_json(self, text: str) -> None:
        """Restore from a string made by [`to_json`][mopps.selector.PromptSelector.to_json]."""
        try:
            state = json.loads(text)
        except (TypeError, ValueError) as err:
            raise InputError(f"text: expected JSON from PromptSelector.to_json ({err})") from err
        self.load_state_dict(state)

    @classmethod
    def from_json(cls, text: str) -> PromptSelector:
        """New selector restored from [`to_json`][mopps.selector.PromptSelector.to_json] output."""
        sel = cls(0)
        sel.load_json(text)
        return sel

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> PromptSelector:
        """New selector restored from ``state_dict`` output."""
        sel = cls(0)
        sel.load_state_dict(state)
        return sel


def _prior_value(value: Any) -> float | torch.Tensor:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (torch.Tensor, Sequence)):
        return torch.as_tensor(value, dtype=torch.float64)
    raise InputError(f"state: expected a number or tensor prior, got {type(value).__name__}")


def _none_from_nan(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _nan_from_none(d: Any) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise InputError(f"state['history']: expected dicts, got {type(d).__name__}")
    return {k: (math.nan if v is None else v) for k, v in d.items()}
