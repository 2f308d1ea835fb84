"""Optuna sampler: low-switch GP optimisation with repeats, on any Optuna storage.

[`LowSwitchSampler`][lowswitch.integrations.optuna.LowSwitchSampler] is an
``optuna.samplers.BaseSampler``. It hands out *blocks*: a config and a number of repeats ``B`` from
the low-switch rule; the ``B`` trials of a block get identical params and a repeat index in the user
attribute ``"lowswitch.repeat"`` (read it with
[`repeat_of`][lowswitch.integrations.optuna.repeat_of], use it as a seed or a fold). Repeat indices
count the trials of a config across blocks: a config chosen again continues after its earlier
trials.

Stateless by design: the sampler keeps nothing between calls that is not in the study
(apart from which warnings it gave and which undecided trials it stopped waiting for).
At each new trial it reads ``study.get_trials()``:

* block bookkeeping lives in one system attribute per trial, ``lowswitch:block`` (see
  [`block_info`][lowswitch.integrations.optuna.block_info]: block id = the block's first trial
  number, repeats ``B``, slot in ``0..B-1``, repeat index, params), written in one storage call when
  the trial is sampled, so every process sharing an RDB storage sees it and a restarted study
  continues open blocks;
* COMPLETE trials whose params fit the search space are the observations; trials with
  identical params (from any source: enqueued, other samplers, earlier blocks) encode to
  the same point and are merged as replicates by the unique-point GP. A COMPLETE value
  outside the measurement range (infinite, or ``|value| > 1e100``, see
  ``lowswitch.validation``) is ignored by the model, with one warning per trial;
* RUNNING trials are pending: their points are hallucinated when a new block is chosen;
* FAIL trials are ignored, and their repeat index is handed out again (the block is
  closed after ``B + 1`` failures, so a config that always crashes is given up). Use
  Optuna's heartbeat (``RDBStorage(heartbeat_interval=..., grace_period=...)``) so that
  trials of a killed worker turn FAIL instead of staying RUNNING forever.

A new block rebuilds the policy from the stored trials (one GP fit, as at every switch of
the in-process policy); a repeat of an open block costs a storage read and no GP work.
The new block is a deterministic function of (stored trials, seed, block id).

Several workers: the storage gives every trial a unique number, and a trial chooses its
block only once every RUNNING trial with a lower number has chosen (it polls the storage,
up to ``sync_timeout`` seconds). So workers see each other's choices: an open repeat slot
goes to one trial, and the repeat index of a trial is the smallest one that no other
non-failed trial of the same config holds, so two trials never get the same config *and*
the same seed / fold, however close together they start. Choosing is serialised this way
(a block's GP fit delays the next trial's choice); evaluations still run in parallel.
A lower-numbered trial that does not choose within ``sync_timeout`` (its worker died while
sampling, or it was created by ``study.ask()`` and never suggested) is skipped with a
warning, and the guarantee does not cover it.

Example:
    >>> import optuna
    >>> from lowswitch.integrations.optuna import LowSwitchSampler, repeat_of
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> def objective(trial):
    ...     x = trial.suggest_float("x", -2.0, 2.0)
    ...     return (x - 0.5) ** 2 + 0.01 * repeat_of(trial)
    >>> study = optuna.create_study(sampler=LowSwitchSampler(seed=0))
    >>> study.optimize(objective, n_trials=8)
    >>> len(study.trials)
    8
"""

from __future__ import annotations

import json
import math
import secrets
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import torch
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from lowswitch.errors import InputError
from lowswitch.policies.config import PolicyConfig, facade_config
from lowswitch.policies.registry import check_policy_config, get_policy
from lowswitch.policies.seeds import derive_seed
from lowswitch.space import Categorical, Float, Int, Param, Space
from lowswitch.validation import MAX_ABS_MEASUREMENT

_UNSET: Any = object()

ATTR_BLOCK = "lowswitch:block"
USER_REPEAT = "lowswitch.repeat"
USER_BLOCK = "lowswitch.block"


def repeat_of(trial: optuna.trial.BaseTrial) -> int:
    """The repeat index (``0..B-1``) the sampler gave this trial (``0`` when none).

    Example:
        >>> import optuna
        >>> repeat_of(optuna.trial.FixedTrial({}))
        0
    """
    return int(trial.user_attrs.get(USER_REPEAT, 0))


def block_info(trial: FrozenTrial) -> dict[str, Any] | None:
    """The sampler's block record of a trial, or ``None`` (not sampled as part of a block).

    Keys: ``block`` (id: the number of the block's first trial), ``repeats`` (``B``),
    ``slot`` (``0..B-1``), ``repeat`` (the trial's repeat index), ``params``.

    Example:
        >>> import optuna
        >>> block_info(optuna.trial.create_trial(value=1.0)) is None
        True
    """
    info = trial.system_attrs.get(ATTR_BLOCK)
    if not isinstance(info, dict) or not {"block", "repeats", "slot", "params"} <= set(info):
        return None
    # records written before the repeat index was stored have offset + slot
    repeat = info["repeat"] if "repeat" in info else int(info.get("offset", 0)) + info["slot"]
    return {"block": int(info["block"]), "repeats": int(info["repeats"]),
            "slot": int(info["slot"]), "repeat": int(repeat),
            "params": dict(info["params"])}


def space_from_distributions(dists: Mapping[str, BaseDistribution]) -> Space:
    """Convert Optuna distributions to a [`Space`][lowswitch.space.Space] (sorted names).

    Stepped distributions become the continuous/integer range; values are rounded back to
    the step by [`to_optuna_params`][lowswitch.integrations.optuna.to_optuna_params].

    Example:
        >>> from optuna.distributions import FloatDistribution
        >>> space_from_distributions({"x": FloatDistribution(0.0, 1.0)}).names
        ['x']
    """
    params: dict[str, Param] = {}
    for name in sorted(dists):
        d = dists[name]
        if isinstance(d, FloatDistribution):
            params[name] = Float(d.low, d.high, log=d.log)
        elif isinstance(d, IntDistribution):
            params[name] = Int(d.low, d.high, log=d.log)
        elif isinstance(d, CategoricalDistribution):
            params[name] = Categorical(list(d.choices))
        else:
            raise InputError(f"search space {name!r}: unsupported distribution {d!r}")
    return Space(params)


def distributions_from_space(space: Space) -> dict[str, BaseDistribution]:
    """Convert a [`Space`][lowswitch.space.Space] to Optuna distributions.

    Example:
        >>> from lowswitch.space import Int
        >>> distributions_from_space(Space({"k": Int(1, 4)}))["k"]
        IntDistribution(high=4, log=False, low=1, step=1)
    """
    out: dict[str, BaseDistribution] = {}
    for name, p in space.params.items():
        if isinstance(p, Float):
            out[name] = FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Int):
            out[name] = IntDistribution(p.low, p.high, log=p.log)
        else:
            out[name] = CategoricalDistribution(p.choices)
    return out


def to_optuna_params(config: Mapping[str, Any], dists: Mapping[str, BaseDistribution]
                     ) -> dict[str, Any]:
    """Round a config onto the (stepped) Optuna distributions; drop names not in ``dists``.

    Example:
        >>> from optuna.distributions import IntDistribution
        >>> to_optuna_params({"n": 6.7, "other": 1}, {"n": IntDistribution(0, 10, step=2)})
        {'n': 6}
    """
    out: dict[str, Any] = {}
    for name, value in config.items():
        d = dists.get(name)
        if d is None:
            continue
        if isinstance(d, (FloatDistribution, IntDistribution)) and d.step is not None:
            k = round((value - d.low) / d.step)
            v = d.low + k * d.step
            v = min(max(v, d.low), d.high)
            value = int(v) if isinstance(d, IntDistribution) else float(v)
        out[name] = value
    return out


class LowSwitchSampler(optuna.samplers.BaseSampler):
    """Low-switch GP sampler for single-objective Optuna studies (see the module docstring).

    Args:
        space: optional [`Space`][lowswitch.space.Space]; then it is the relative search
            space from the first trial on. Without it, the intersection search space of the
            study is used (the first trial is sampled at random).
        switch_threshold: ``C`` of the switch rule (default ``PolicyConfig``'s, 2.0).
        seed: seed of the initial design and the policy (default 0; ``None``: a fresh seed
            drawn from OS entropy, kept in ``sampler.seed``; every worker then draws its own).
        policy: a registered policy name: ``"ei"`` (default), ``"ucb"``, ``"ts"`` or one
            added with [`lowswitch.policies.register`][lowswitch.policies.register].
        max_repeats: cap on repeats per block (e.g. the number of folds).
        n_initial: number of single-repeat design blocks at random configs before the GP
            policy takes over (default ``clip(2 D, 2, 20)`` for ``D`` encoded columns).
        candidates_limit: fully discrete spaces up to this size are searched exactly.
        sync_timeout: seconds a trial waits for lower-numbered trials (other workers) to
            choose their blocks before choosing its own (see the module docstring).
        switch_cost: what a new config costs, in evaluations (``0``: the plain switch
            rule); blocks that move repeat more (see [`Tuner`][lowswitch.tune.tuner.Tuner]).
        config: every policy setting as one
            [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] (its ``seed`` and
            ``n_initial`` also drive the sampler's own initial design; each block's policy
            gets it with ``maximize`` from the study and a seed derived from ``(seed,
            block)``); then leave ``switch_threshold``, ``seed``, ``max_repeats``,
            ``n_initial`` and ``switch_cost`` out.

    Example:
        >>> sampler = LowSwitchSampler(seed=1, switch_threshold=2.0)
        >>> str(sampler)
        'LowSwitchSampler'
    """

    def __init__(
        self,
        space: Space | None = None,
        *,
        switch_threshold: float | None = None,
        seed: int | None = _UNSET,
        policy: str = "ei",
        max_repeats: int | None = None,
        n_initial: int | None = None,
        candidates_limit: int = 4096,
        sync_timeout: float = 20.0,
        switch_cost: float | None = None,
        config: PolicyConfig | None = None,
    ) -> None:
        if space is not None and not isinstance(space, Space):
            raise InputError(f"space: expected a lowswitch Space or None, got {space!r}")
        given = {"switch_threshold": switch_threshold, "max_repeats": max_repeats,
                 "n_initial": n_initial, "switch_cost": switch_cost}
        cfg = facade_config(config, given)
        if seed is not _UNSET:
            if config is not None:
                raise InputError("seed: give it in config=PolicyConfig(seed=...), not both")
            cfg = cfg.replace(seed=seed)
        if cfg.seed is None:  # as in Optuna: a fresh seed, drawn once from OS entropy
            cfg = cfg.replace(seed=secrets.randbits(31))
        if (isinstance(sync_timeout, bool) or not isinstance(sync_timeout, (int, float))
                or not sync_timeout >= 0):
            raise InputError(f"sync_timeout: expected a number of seconds >= 0, got "
                             f"{sync_timeout!r}")
        if not isinstance(cfg.switch_cost, float):
            raise InputError(f"switch_cost: expected one number >= 0, got {cfg.switch_cost!r}")
        self._policy_cls = get_policy(policy)
        check_policy_config(self._policy_cls, cfg)  # its options, now (blocks build it later)
        self.config: PolicyConfig = cfg
        self.switch_cost: float = cfg.switch_cost
        self.space = space
        self.switch_threshold = cfg.switch_threshold
        self.seed: int = int(cfg.seed)  # type: ignore[arg-type]
        self.max_repeats = cfg.max_repeats
        self.n_initial = cfg.n_initial
        self.candidates_limit = candidates_limit
        self.sync_timeout = float(sync_timeout)
        self._gave_up: set[int] = set()  # undecided trials not waited for again
        self._search_space = optuna.search_space.IntersectionSearchSpace()
        self._warned: set[int] = set()  # trial numbers already reported as unusable

    # ------------------------------------------------------------------ Optuna hooks
    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        _single_objective(study)
        if self.space is not None:
            return distributions_from_space(self.space)
        return {name: d for name, d in self._search_space.calculate(study).items()
                if not d.single()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        _single_objective(study)
        if not search_space:
            # say "decided, no block" so that later trials do not wait for this one
            study._storage.set_trial_system_attr(trial._trial_id, ATTR_BLOCK, None)
            return {}
        space = self.space if self.space is not None else space_from_distributions(search_space)
        trials = self._settled_trials(study, trial.number)
        blocks = _blocks(trials, trial.number)
        for block_id in sorted(blocks):
            b = blocks[block_id]
            slot = b.free_slot()
            if slot is not None:
                return self._assign(study, trial, trials, space, block_id, b.repeats, slot,
                                    b.params, search_space)
        config, repeats = self._new_block(study, space, trials, trial.number, trial.number)
        params = to_optuna_params(config, search_space)
        return self._assign(study, trial, trials, space, trial.number, repeats, 0, params,
                            search_space)

    def _settled_trials(self, study: optuna.Study, number: int) -> list[FrozenTrial]:
        """The study's trials once every lower-numbered trial has chosen its block.

        Trial numbers are unique (the storage assigns them); a trial waits until each
        RUNNING trial with a lower number has its block record (or is finished), so its
        repeat index is chosen knowing theirs: two workers never take the same index for
        the same config. A trial that stays undecided for ``sync_timeout`` seconds (its
        worker died while sampling, or it was asked and never suggested) is not waited for
        again by this sampler.
        """
        deadline = time.monotonic() + self.sync_timeout
        while True:
            trials = study.get_trials(deepcopy=False)
            undecided = [t.number for t in trials
                         if t.number < number and t.state == TrialState.RUNNING
                         and ATTR_BLOCK not in t.system_attrs
                         and t.number not in self._gave_up]
            if not undecided:
                return trials
            if time.monotonic() >= deadline:
                self._gave_up.update(undecided)
                warnings.warn(
                    f"LowSwitchSampler: trials {undecided} did not choose a block within "
                    f"{self.sync_timeout:g} s; trial {number} goes on without them (their "
                    f"repeat indices may coincide with its)", UserWarning, stacklevel=3)
                return trials
            time.sleep(0.02)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        _single_objective(study)
        rs = optuna.samplers.RandomSampler(seed=derive_seed(self.seed, trial.number, 7, bits=31))
        return rs.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        """Nothing to reseed: every draw is seeded by (seed, trial number / block number)."""

    # ------------------------------------------------------------------ internals
    def _assign(self, study: optuna.Study, trial: FrozenTrial, trials: list[FrozenTrial],
                space: Space, block_id: int, repeats: int, slot: int, params: dict[str, Any],
                dists: Mapping[str, BaseDistribution]) -> dict[str, Any]:
        storage = study._storage
        tid = trial._trial_id
        config = _config_of_params(params, space)
        # the smallest index no other non-failed trial of this config holds
        taken = set()
        if config is not None:
            key = space.key(config)
            for t in trials:
                info = block_info(t)
                if (t.number != trial.number and info is not None
                        and t.state != TrialState.FAIL
                        and (c := _config_of(t, space)) is not None and space.key(c) == key):
                    taken.add(info["repeat"])
        repeat = next(r for r in range(len(taken) + 1) if r not in taken)
        info = {"block": int(block_id), "repeats": int(repeats), "slot": int(slot),
                "repeat": int(repeat), "params": json.loads(json.dumps(params))}
        # one attribute, one write: other processes never see half a block record
        storage.set_trial_system_attr(tid, ATTR_BLOCK, info)
        storage.set_trial_user_attr(tid, USER_REPEAT, int(repeat))
        storage.set_trial_user_attr(tid, USER_BLOCK, int(block_id))
        # keep the trial's cached copy in sync so that trial.user_attrs shows them at once
        trial.user_attrs[USER_REPEAT] = int(repeat)
        trial.user_attrs[USER_BLOCK] = int(block_id)
        return {k: v for k, v in params.items() if k in dists}

    def _new_block(self, study: optuna.Study, space: Space, trials: list[FrozenTrial],
                   number: int, block_id: int) -> tuple[dict[str, Any], int]:
        obs: dict[tuple[float, ...], list[float]] = {}
        pending: dict[tuple[float, ...], int] = {}
        for t in trials:
            if t.number == number:
                continue
            config = _config_of(t, space)
            if config is None:
                continue
            key = space.key(config)
            if t.state == TrialState.COMPLETE and t.value is not None:
                if _usable(t.value):
                    obs.setdefault(key, []).append(float(t.value))
                elif t.number not in self._warned:
                    self._warned.add(t.number)
                    warnings.warn(
                        f"LowSwitchSampler: trial {t.number} is COMPLETE with value "
                        f"{t.value!r}, outside the measurement range (finite, |value| <= "
                        f"{MAX_ABS_MEASUREMENT:g}); the model ignores it (it stays in the "
                        f"study)", UserWarning, stacklevel=2)
            elif t.state in (TrialState.RUNNING, TrialState.WAITING):
                pending[key] = pending.get(key, 0) + 1
        discrete = space.is_discrete and space.size <= self.candidates_limit
        dim_init = min(max(2 * space.dim, 2), 20)
        n_initial = self.n_initial if self.n_initial is not None else dim_init
        if discrete:
            n_initial = min(n_initial, int(space.size))
        seen = set(obs) | set(pending)
        if len(obs) < max(n_initial, 2):
            rng = np.random.default_rng(derive_seed(self.seed, block_id, 1, bits=31))
            config = space.sample(1, rng)[0]
            for _ in range(64):
                if space.key(config) not in seen:
                    break
                config = space.sample(1, rng)[0]
            return config, 1
        candidates = space.encode_many(space.enumerate()) if discrete else None
        # a fresh policy per block, rebuilt from the study: it has handed out no block, so
        # the switch cost's extra repeats are committed up front (choose_blocks)
        block_cfg = self.config.replace(
            maximize=study.direction == optuna.study.StudyDirection.MAXIMIZE,
            seed=derive_seed(self.seed, block_id, 2, bits=31), n_initial=n_initial,
        )
        policy = self._policy_cls(space.bounds, candidates=candidates, config=block_cfg)
        for key, ys in obs.items():
            policy.tell(torch.tensor(key, dtype=torch.float64),
                        torch.tensor(ys, dtype=torch.float64))
        pend = [(torch.tensor(k, dtype=torch.float64), n) for k, n in pending.items()]
        block = policy.ask(n_blocks=1, pending=pend or None)[0]
        config = space.decode(block.x)
        repeats = int(block.repeats)
        if self.max_repeats is not None:
            repeats = min(repeats, self.max_repeats)
        return config, max(1, repeats)


class _BlockView:
    """What the stored trials say about one block."""

    def __init__(self, repeats: int, params: dict[str, Any]) -> None:
        self.repeats = repeats
        self.params = params
        self.taken: set[int] = set()  # repeat slots held by non-failed trials
        self.n_failed = 0

    def free_slot(self) -> int | None:
        if self.n_failed > self.repeats:  # a config that keeps failing: give up on it
            return None
        for r in range(self.repeats):
            if r not in self.taken:
                return r
        return None


def _blocks(trials: list[FrozenTrial], number: int) -> dict[int, _BlockView]:
    out: dict[int, _BlockView] = {}
    for t in trials:
        info = block_info(t)
        if t.number == number or info is None:
            continue
        bid = info["block"]
        b = out.get(bid)
        if b is None:
            b = out[bid] = _BlockView(info["repeats"], info["params"])
        if t.state == TrialState.FAIL:
            b.n_failed += 1
        else:
            b.taken.add(info["slot"])
    return out


def _config_of(t: FrozenTrial, space: Space) -> dict[str, Any] | None:
    """The trial's config in ``space`` (stored params, else the block's params), or None."""
    info = block_info(t)
    return _config_of_params({**(info["params"] if info is not None else {}), **t.params},
                             space)


def _config_of_params(params: Mapping[str, Any], space: Space) -> dict[str, Any] | None:
    try:
        return space.validate({n: params[n] for n in space.names})
    except (KeyError, InputError):
        return None


def _single_objective(study: optuna.Study) -> None:
    if study._is_multi_objective():
        raise InputError("LowSwitchSampler: multi-objective studies are not supported "
                         f"(this study has {len(study.directions)} objectives)")


def _usable(value: float) -> bool:
    """Whether a COMPLETE trial's value is a measurement the GP can take."""
    return math.isfinite(value) and abs(value) <= MAX_ABS_MEASUREMENT


__all__ = [
    "LowSwitchSampler",
    "block_info",
    "distributions_from_space",
    "repeat_of",
    "space_from_distributions",
    "to_optuna_params",
]
