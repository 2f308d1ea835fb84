"""Plate planning: turn stored observations into the next plate of wells.

The planner is a pure function of its arguments (the rows of the database, the campaign's
configuration and a seed): any process rebuilds exactly the same plate from the same rows.

A plate of ``slots`` wells is filled with *blocks*: a condition and its number of replicates.

1. Initial design: until ``initial_conditions`` distinct conditions have been handed out,
   the plate goes to random distinct conditions, the wells shared evenly among them; with
   ``C > 1`` at most ``slots // 2`` conditions per plate, so that every one gets two wells
   or more (replicates from the first plate on estimate the noise, whatever the plate
   size; ``C = 1`` keeps one well per condition, as the policies' own designs do).
2. Afterwards the low-switch policy (``lowswitch.policies``) is rebuilt from the stored
   observations and asked for blocks with GP-BUCB hallucination of the pending wells
   (experiments handed out but not yet recorded), block by block until the plate is full;
   the last block is cut to the wells left. ``max_conditions`` caps the number of distinct
   conditions per plate (wells left over go to the chosen blocks in turn, as extra
   replicates).
3. ``policy="random"``: distinct random conditions, one well each (the benchmark's floor).

Example:
    >>> import torch
    >>> X = torch.eye(6, dtype=torch.float64)
    >>> blocks, _ = plan_plate(X, [], [], {}, 6, PlanConfig(initial_conditions=3), plate=1)
    >>> [(b.candidate, b.replicates) for b in blocks]
    [(5, 2), (0, 2), (4, 2)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from lowswitch.campaign.repository import Fit
from lowswitch.errors import InputError
from lowswitch.policies.beta import IGPUCBBeta
from lowswitch.policies.config import PolicyConfig, check_refit_growth, facade_config
from lowswitch.policies.registry import check_policy_config, get_policy, policy_names
from lowswitch.policies.seeds import derive_seed
from lowswitch.policies.ucb import LowSwitchGPUCB

RANDOM = "random"
"""The campaign-only policy name: distinct random conditions, one well each."""

PLATE_UCB_SCALE = 0.2
"""IGP-UCB shrink factor of GP-UCB when it plans plates and the campaign set no ``beta``.

Twice the sequential default (``IGPUCBBeta().scale``, 0.1): a plate is a batch chosen
before any of its wells is measured, and batch UCB (GP-BUCB, Desautels et al. 2014) widens
the confidence bound to pay for the feedback it has not seen yet. Measured on the bundled
screen (plates of 8, switch cost 10, 10 seeds): at 0.1 a condition with true yield >= 95 was
recommended in 5 of 10 seeds (two stayed near yield 55), at 0.2 in 8 of 10 after a median of
16 conditions and 40 wells, at 0.3 in 9 of 10 but after 47.5 and 124 (``--ucb-scale`` of
``python -m lowswitch.benchmark campaign``; docs/benchmarks/ucb-width.json).
Campaigns created before the sequential default changed plan exactly as they did.
"""


def _plate_options(cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """The policy options a plate uses: the campaign's, plus the plate UCB width if unset."""
    out = dict(options)
    if issubclass(cls, LowSwitchGPUCB) and out.get("beta") is None:
        out["beta"] = IGPUCBBeta(scale=PLATE_UCB_SCALE)
    return out


def campaign_policies() -> list[str]:
    """Policy names a campaign accepts: the registered acquisitions and ``"random"``.

    Example:
        >>> {"ei", "random", "ts", "ucb"} <= set(campaign_policies())
        True
    """
    return sorted([*policy_names(), RANDOM])


class Block(NamedTuple):
    """A condition and how many wells of the plate it gets.

    Example:
        >>> Block(candidate=17, replicates=3)
        Block(candidate=17, replicates=3)
    """

    candidate: int
    replicates: int


@dataclass(frozen=True, init=False)
class PlanConfig:
    """Planning settings stored with a campaign: the policy's name and config, and the
    settings of the campaign's own plate planning.

    Args:
        policy: a registered policy name (``"ucb"``, ``"ei"``, ``"ts"`` or one added with
            [`lowswitch.policies.register`][lowswitch.policies.register]) or ``"random"``.
        config: the policy's [`PolicyConfig`][lowswitch.policies.config.PolicyConfig]; its seed is
            the campaign seed (plate p uses a seed derived from (seed, p)), its
            ``maximize`` the direction. Each plate's policy gets it unchanged except that
            seed and ``n_initial`` (the campaign's ``initial_conditions``).
        max_conditions: cap on distinct conditions per plate (None: the policy decides).
        initial_conditions: distinct conditions of the initial random design.
        refit_growth: refit the GP hyperparameters when the number of measured
            *conditions* has grown by this factor since the last stored fit (1.0: at every
            plate); otherwise the stored hyperparameters are reused as they are
            (``warm_start``). Not ``PolicyConfig.refit_growth``, which counts evaluations
            inside one policy's life.
        switch_threshold, maximize, seed, max_repeats, switch_cost: conveniences that
            build ``config`` (give them or ``config``, not both); read back as properties.
            ``switch_cost`` is in wells; a campaign takes one number.

    Example:
        >>> cfg = PlanConfig(policy="ucb", switch_threshold=2.0, max_conditions=8)
        >>> cfg.to_dict()["max_conditions"], cfg.switch_threshold
        (8, 2.0)
        >>> PlanConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    policy: str
    config: PolicyConfig
    max_conditions: int | None
    initial_conditions: int
    refit_growth: float

    def __init__(
        self,
        policy: str = "ucb",
        config: PolicyConfig | None = None,
        max_conditions: int | None = None,
        initial_conditions: int = 8,
        refit_growth: float = 1.2,
        *,
        switch_threshold: float | None = None,
        maximize: bool | None = None,
        seed: int | None = None,
        max_repeats: int | None = None,
        switch_cost: float | None = None,
    ) -> None:
        if policy != RANDOM:
            get_policy(policy)  # InputError naming the registered ones
        given = {"switch_threshold": switch_threshold, "maximize": maximize, "seed": seed,
                 "max_repeats": max_repeats, "switch_cost": switch_cost}
        cfg = facade_config(config, given)
        if cfg.seed is None:
            raise InputError("seed: a campaign needs an int seed (its plates derive theirs)")
        if not isinstance(cfg.switch_cost, float):
            raise InputError(f"switch_cost: expected one number >= 0, got "
                             f"{list(cfg.switch_cost)!r}")
        if max_conditions is not None and (
            isinstance(max_conditions, bool) or not isinstance(max_conditions, int)
            or max_conditions < 1
        ):
            raise InputError(f"max_conditions: expected None or an int >= 1, got "
                             f"{max_conditions!r}")
        if isinstance(initial_conditions, bool) or not isinstance(initial_conditions, int) or (
            initial_conditions < 1
        ):
            raise InputError(f"initial_conditions: expected an int >= 1, got "
                             f"{initial_conditions!r}")
        if policy != RANDOM:
            check_policy_config(policy, cfg)  # the acquisition's options, now
        for name, value in (("policy", policy), ("config", cfg),
                            ("max_conditions", max_conditions),
                            ("initial_conditions", initial_conditions),
                            ("refit_growth", check_refit_growth(refit_growth))):
            object.__setattr__(self, name, value)

    @property
    def switch_threshold(self) -> float:
        """``config.switch_threshold``."""
        return self.config.switch_threshold

    @property
    def maximize(self) -> bool:
        """``config.maximize``."""
        return self.config.maximize

    @property
    def seed(self) -> int:
        """``config.seed`` (the campaign seed)."""
        return int(self.config.seed)  # type: ignore[arg-type]

    @property
    def max_repeats(self) -> int | None:
        """``config.max_repeats``."""
        return self.config.max_repeats

    @property
    def switch_cost(self) -> float:
        """``config.switch_cost`` (wells)."""
        return float(self.config.switch_cost)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the policy config nested under ``"config"``)."""
        return {"policy": self.policy, "config": self.config.to_dict(),
                "max_conditions": self.max_conditions,
                "initial_conditions": self.initial_conditions,
                "refit_growth": self.refit_growth}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanConfig:
        """Inverse of [`to_dict`][lowswitch.space.Space.to_dict]; also reads the flat form stored
        before
        ``PolicyConfig`` (``switch_threshold``, ``seed``, ... at the top level).

        Example:
            >>> old = {"policy": "ei", "switch_threshold": 4.0, "maximize": True, "seed": 3,
            ...        "max_repeats": None, "max_conditions": None, "initial_conditions": 8,
            ...        "refit_growth": 1.2, "switch_cost": 0.0}
            >>> PlanConfig.from_dict(old).config.switch_threshold
            4.0
        """
        if not isinstance(data, Mapping):
            raise InputError(f"plan: expected a mapping, got {type(data).__name__}")
        kwargs = dict(data)
        if "config" in kwargs:
            kwargs["config"] = PolicyConfig.from_dict(kwargs["config"])
        try:
            return cls(**kwargs)
        except TypeError as err:
            raise InputError(f"plan: unexpected settings ({err})") from None


def plate_seed(seed: int, plate: int) -> int:
    """Seed of plate ``plate`` of a campaign seeded with ``seed`` (stable across processes).

    Example:
        >>> plate_seed(0, 1) == plate_seed(0, 1) != plate_seed(0, 2)
        True
    """
    return derive_seed(seed, plate)


def _share(slots: int, chosen: Sequence[int]) -> list[Block]:
    base, extra = divmod(slots, len(chosen))
    return [Block(c, base + (1 if i < extra else 0)) for i, c in enumerate(chosen)]


def _random_blocks(
    m: int, taken: set[int], n_conditions: int, slots: int, rng: np.random.Generator
) -> list[Block]:
    free = np.array(sorted(set(range(m)) - taken), dtype=np.int64)
    if free.size == 0:
        free = np.arange(m, dtype=np.int64)
    n = max(1, min(n_conditions, slots, free.size))
    chosen = rng.choice(free, size=n, replace=False).tolist()
    return _share(slots, chosen)


def build_policy(
    X: torch.Tensor,
    bounds: torch.Tensor,
    observed_idx: Sequence[int],
    observed_y: Sequence[float],
    config: PlanConfig,
    seed: int,
    fit: Fit | None = None,
) -> Any:
    """Rebuild the low-switch policy from stored observations (and the last stored fit).

    Without ``fit`` every observation is told (one ``tell`` per condition, in order of first
    measurement) and the GP is fitted from scratch at the next ``ask``. With ``fit``, the
    policy is warm-started ([`warm_start`][lowswitch.policies.base.LowSwitchPolicy.warm_start]) with
    the first ``fit.n_observations`` observations and ``fit.hyper`` as their fit; the newer
    observations are pending tells, so the next ``ask`` refits warm-started from ``fit``.
    If the measured conditions grew by less than ``config.refit_growth`` since ``fit``,
    every observation goes into the fitted data and ``ask`` does not refit.

    Args:
        X: (m, d) encoded candidates; bounds: (2, d) box of the encoding.
        observed_idx, observed_y: candidate index and value of every measurement, in
            recording order.
        config: planning settings (``policy`` must not be ``"random"``).
        seed: seed of this decision.
        fit: the last stored fit, if any.

    Returns:
        The registered policy ``config.policy`` holding the observations.
    """
    cls = get_policy(config.policy)
    # a plate's policy refits on the campaign's schedule (PlanConfig.refit_growth, in
    # conditions), so its own evaluation-count schedule stays at "every ask" unless set
    growth = config.config.refit_growth
    # built afresh for every plate, the policy has handed out no block, so it commits the
    # switch cost's extra repeats up front even for a one-condition plate (choose_blocks)
    opt = cls(bounds, candidates=X, config=config.config.replace(
        seed=seed, n_initial=max(2, min(config.initial_conditions, X.shape[0])),
        refit_growth=1.0 if growth is None else growth,
        options=_plate_options(cls, config.config.options)))
    idx = [int(i) for i in observed_idx]
    ys = [float(y) for y in observed_y]
    n_fit = 0
    if fit is not None and 2 <= fit.n_observations <= len(idx):
        n_fit = fit.n_observations
        if len(set(idx)) < config.refit_growth * fit.n_unique:
            n_fit = len(idx)
    if n_fit and fit is not None:
        opt.warm_start(X[torch.tensor(idx[:n_fit])], torch.tensor(ys[:n_fit], dtype=X.dtype),
                       hyper=fit.hyper)
    groups: dict[int, list[float]] = {}
    for i, y in zip(idx[n_fit:], ys[n_fit:], strict=True):
        groups.setdefault(i, []).append(y)
    for i, values in groups.items():
        opt.tell(X[i], torch.tensor(values, dtype=X.dtype))
    return opt


def plan_plate(
    X: torch.Tensor,
    observed_idx: Sequence[int],
    observed_y: Sequence[float],
    pending: Mapping[int, int],
    slots: int,
    config: PlanConfig,
    plate: int,
    handed_out: set[int] | None = None,
    bounds: torch.Tensor | None = None,
    fit: Fit | None = None,
    expected_blocks: int | None = None,
) -> tuple[list[Block], Fit | None]:
    """Choose the blocks of the next plate.

    Args:
        X: (m, d) float64 encoded candidates.
        observed_idx: candidate index of every successful measurement, in recording order.
        observed_y: (len(observed_idx),) measured values, objective units.
        pending: candidate index -> number of wells handed out but not recorded.
        slots: wells on the plate (>= 1).
        config: planning settings.
        plate: plate number (1-based), mixed into the seed.
        handed_out: candidates ever handed out (for the initial design); default: observed
            and pending ones.
        bounds: (2, d) box of the encoding; default ``[0, 1]^d``.
        fit: the last stored hyperparameter fit (see ``build_policy``).
        expected_blocks: how many blocks to ask the policy for first (e.g. one more than the
            previous plate had); doubled until the plate is full. None: as many as the plate
            may hold. Only the cost changes: GP-UCB/EI choose the same blocks either way
            (a batch is built block by block), Thompson sampling draws other samples.

    Returns:
        Blocks whose replicates sum to ``slots`` (distinct candidates), and the new fit when
        the GP was refitted for this plate (to be stored), else None.

    Example:
        >>> import torch
        >>> X = torch.linspace(0, 1, 11, dtype=torch.float64).unsqueeze(-1)
        >>> blocks, fit = plan_plate(X, [0, 5, 10, 5], [1.0, 3.0, 0.5, 2.6], {}, slots=6,
        ...                          config=PlanConfig(initial_conditions=3), plate=2)
        >>> sum(b.replicates for b in blocks)
        6
    """
    if slots < 1:
        raise InputError(f"slots: expected an integer >= 1, got {slots}")
    m = X.shape[0]
    seed = plate_seed(config.seed, plate)
    rng = np.random.default_rng(seed)
    seen = set(handed_out) if handed_out is not None else set(observed_idx) | set(pending)
    if config.policy == RANDOM:
        return _random_blocks(m, set(), slots, slots, rng), None
    if len(seen) < config.initial_conditions or len(observed_idx) < 2:
        n_init = max(config.initial_conditions - len(seen), 1)
        if config.max_conditions is not None:
            n_init = min(n_init, config.max_conditions)
        if config.switch_threshold > 1.0:
            # at least two wells per design condition, so that the first plate already
            # estimates the noise whatever its size (a plate of 8: 4 conditions x 2 wells);
            # C = 1, one well per decision, keeps single wells as the policies do
            n_init = min(n_init, max(1, slots // 2))
        return _random_blocks(m, seen, n_init, slots, rng), None
    box = bounds if bounds is not None else torch.stack(
        [torch.zeros(X.shape[1], dtype=X.dtype), torch.ones(X.shape[1], dtype=X.dtype)]
    )
    opt = build_policy(X, box, observed_idx, observed_y, config, seed, fit)
    outstanding = [(X[i], n) for i, n in sorted(pending.items()) if n > 0]
    cap = min(config.max_conditions or slots, slots, m)
    n_ask = cap if expected_blocks is None else max(1, min(cap, expected_blocks))
    while True:  # ask for a few blocks; ask for twice as many if they do not fill the plate
        proposals = opt.ask(n_blocks=n_ask, pending=outstanding or None)
        if n_ask >= cap or len(proposals) < n_ask or sum(p.repeats for p in proposals) >= slots:
            break
        n_ask = min(cap, 2 * n_ask)
    blocks: list[Block] = []
    left = slots
    for proposal in proposals:
        if left == 0:
            break
        reps = max(1, min(int(proposal.repeats), left))
        blocks.append(Block(int(proposal.index), reps))
        left -= reps
    i = 0
    while left > 0:  # wells left after the condition cap: extra replicates, in turn
        b = blocks[i % len(blocks)]
        blocks[i % len(blocks)] = Block(b.candidate, b.replicates + 1)
        left -= 1
        i += 1
    hyper = opt.hyperparameters
    new_fit = None
    if hyper is not None and (fit is None or hyper != fit.hyper):
        new_fit = Fit(len(observed_idx), len(set(observed_idx)), hyper)
    return blocks, new_fit


__all__ = [
    "RANDOM",
    "Block",
    "Fit",
    "PlanConfig",
    "build_policy",
    "campaign_policies",
    "plan_plate",
    "plate_seed",
]
