"""Ask/tell hyperparameter tuner over a [`Space`][lowswitch.space.Space] with repeats.

A [`Tuner`][lowswitch.tune.tuner.Tuner] wraps a low-switch policy
([`LowSwitchGPEI`][lowswitch.LowSwitchGPEI] by default; the tuning benchmark and the Hartmann-6
benchmark measured it ahead of UCB, see ``docs/benchmarks/tune.md``). The policy picks a config and
a number of repeats ``B`` (a *block*); the tuner hands the block out one
[`Trial`][lowswitch.tune.tuner.Trial] at a time, so that several workers can run a block's repeats
at once. Each trial carries a repeat index, to be used as a seed or a cross-validation fold; indices
count all trials of a config, so a config chosen again in a later block continues ``B, B+1, ...``.
Trials handed out but not yet told are *pending*: when a new block is needed while some are still
running, they are passed to the policy (``pending=[(x, n), ...]``) and hallucinated (GP-BUCB), so
that the new block is chosen knowing they will arrive.

Failures (``tell(trial, error=...)``) are recorded but never observed by the GP. When every
repeat of a block failed, the worst value observed so far is imputed once at that config
(``impute_failures=True``) so that the policy moves away from a config that always crashes.

Example:
    >>> from lowswitch.space import Space, Float
    >>> from lowswitch.tune import Tuner
    >>> tuner = Tuner(Space({"x": Float(-2.0, 2.0)}), seed=0)
    >>> for _ in range(12):
    ...     trial = tuner.ask()
    ...     tuner.tell(trial, (trial.config["x"] - 0.5) ** 2 + 0.01 * trial.repeat)
    >>> tuner.n_evaluations
    12
    >>> best = tuner.best()
    >>> sorted(best.config)
    ['x']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from lowswitch.bandit.state import read_header, state_header
from lowswitch.errors import InputError, StateError
from lowswitch.policies.config import PolicyConfig, facade_config
from lowswitch.space import Space
from lowswitch.validation import check_measurement, check_switch_cost


class Policy(Protocol):
    """What the tuner needs from a policy (the ``lowswitch.policies`` contract)."""

    n_switches: int

    def ask(self, n_blocks: int = 1, pending: Any = None) -> Any: ...

    def tell(self, x: torch.Tensor, y: torch.Tensor) -> None: ...

    def recommend(self) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Trial:
    """One evaluation to run: a config and the repeat index (seed / fold) to use.

    Attributes:
        config: canonical config (``space.canonical`` of the block's point).
        repeat: repeat index of this config, counted over all its trials (``0, 1, ...``
            across blocks, so a config chosen again gets fresh seeds / folds; use
            ``repeat % n_folds`` for a fixed number of folds).
        block_id: the block (switch) this trial belongs to, ``0, 1, ...``.
        trial_id: unique id, ``0, 1, ...`` in order of
            [`Tuner.ask`][lowswitch.tune.tuner.Tuner.ask].

    Example:
        >>> Trial({"x": 1.0}, repeat=0, block_id=0, trial_id=0).repeat
        0
    """

    config: dict[str, Any]
    repeat: int
    block_id: int
    trial_id: int


@dataclass
class Best:
    """The recommended config and the GP's belief about it.

    Attributes:
        config: config with the best posterior mean among evaluated configs.
        mean: posterior mean of the objective there (objective units).
        std: posterior standard deviation of that mean (not of a single evaluation).
        n_repeats: number of successful evaluations of ``config``.
        observed_mean: plain average of those evaluations (``nan`` when none).

    Example:
        >>> Best({"x": 0.0}, mean=1.0, std=0.1, n_repeats=3, observed_mean=1.05).n_repeats
        3
    """

    config: dict[str, Any]
    mean: float
    std: float
    n_repeats: int
    observed_mean: float


@dataclass
class _Block:
    block_id: int
    x: list[float]
    config: dict[str, Any]
    repeats: int
    handed: int = 0
    n_ok: int = 0
    n_failed: int = 0
    imputed: bool = False
    trial_ids: list[int] = field(default_factory=list)

    @property
    def n_pending(self) -> int:
        return self.handed - self.n_ok - self.n_failed


def _load_policy_class(policy: str | Callable[..., Policy]) -> Callable[..., Policy]:
    """A registered policy name (``lowswitch.policies.registry``) or a class -> the class."""
    if isinstance(policy, str):
        from lowswitch.policies.registry import get_policy

        return get_policy(policy)  # type: ignore[no-any-return]
    if not callable(policy):
        raise InputError(f"policy: expected a registered name or a policy class, got {policy!r}")
    return policy


def _as_value(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise InputError(f"value: expected a scalar, got a tensor of shape "
                             f"{tuple(value.shape)}")
        value = value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise InputError(f"value: expected a real number, got {value!r} ({type(value).__name__})")
    try:
        return check_measurement(value, "value")
    except InputError as err:
        raise InputError(f"{err}; report a failed evaluation with tell(trial, error=...)"
                         ) from None


class Tuner:
    """Ask/tell tuner with repeats, pending trials, failures and a posterior-mean recommendation.

    Args:
        space: the search space.
        direction: ``"minimize"`` or ``"maximize"``.
        switch_threshold: ``C`` of the switch rule (``1.0``: one evaluation per decision;
            default: ``PolicyConfig``'s, 2.0).
        seed: seed of the policy (default: ``PolicyConfig``'s, 0).
        policy: a registered name (``"ei"``, the default, ``"ucb"``, ``"ts"`` or one added
            with [`lowswitch.policies.register`][lowswitch.policies.register]), or a policy class
            with the ``lowswitch.policies`` constructor (``cls(bounds, candidates=...,
            config=...)``) and ask/tell contract.
        max_repeats: optional cap on a block's repeats (e.g. the number of CV folds).
        candidates_limit: a fully discrete space with at most this many configs is handed
            to the policy as a finite candidate set (exact); larger or continuous spaces use
            the continuous box and snap the policy's point to the space.
        impute_failures: impute the worst observed value at a config whose whole block failed.
        policy_kwargs: further [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] fields and
            acquisition options by name (e.g. ``{"beta": 2.0}`` for UCB).
        switch_cost: what setting up a new config costs, in evaluations (``0``: the plain
            switch rule). A block then repeats while one more evaluation still yields more
            information per unit cost than moving would (the marginal-value rule of
            ``stay_repeats``). One number: the encoded
            columns of a space are not its parameters.
        config: every policy setting as one
            [`PolicyConfig`][lowswitch.policies.config.PolicyConfig], passed to the policy
            unchanged except ``maximize``, which ``direction`` sets; then give none of
            ``switch_threshold``, ``seed``, ``max_repeats``, ``switch_cost``,
            ``policy_kwargs``.

    Example:
        >>> from lowswitch.space import Space, Int
        >>> tuner = Tuner(Space({"k": Int(0, 9)}), direction="maximize", seed=1)
        >>> t = tuner.ask()
        >>> tuner.tell(t, error="out of memory")
        >>> tuner.n_failures, tuner.n_evaluations
        (1, 0)
    """

    def __init__(
        self,
        space: Space,
        direction: str = "minimize",
        switch_threshold: float | None = None,
        seed: int | None = None,
        policy: str | Callable[..., Policy] = "ei",
        max_repeats: int | None = None,
        candidates_limit: int = 4096,
        impute_failures: bool = True,
        policy_kwargs: Mapping[str, Any] | None = None,
        switch_cost: float | None = None,
        *,
        config: PolicyConfig | None = None,
    ) -> None:
        if not isinstance(space, Space):
            raise InputError(f"space: expected a lowswitch.space.Space, got {type(space).__name__}")
        if direction not in ("minimize", "maximize"):
            raise InputError(f"direction: expected 'minimize' or 'maximize', got {direction!r}")
        given = {"switch_threshold": switch_threshold, "seed": seed,
                 "max_repeats": max_repeats, "switch_cost": switch_cost}
        cfg = facade_config(config, given, policy_kwargs).replace(
            maximize=direction == "maximize")
        if not isinstance(cfg.switch_cost, float):
            raise InputError(f"switch_cost: expected one number >= 0, got {cfg.switch_cost!r}")
        cls = _load_policy_class(policy)
        self.space = space
        self.direction = direction
        self._policy_name = policy if isinstance(policy, str) else None
        self._discrete = space.is_discrete and space.size <= candidates_limit
        candidates = space.encode_many(space.enumerate()) if self._discrete else None
        self._policy: Policy = cls(space.bounds, candidates=candidates, config=cfg)
        self.config: PolicyConfig = cfg
        """The policy settings (as given; ``maximize`` from ``direction``)."""
        self.switch_threshold = cfg.switch_threshold
        self.switch_cost: float = cfg.switch_cost
        self.seed = int(getattr(self._policy, "seed", cfg.seed or 0))
        self.max_repeats = cfg.max_repeats
        self.impute_failures = bool(impute_failures)
        self._blocks: list[_Block] = []
        self._trials: list[dict[str, Any]] = []
        self._obs: dict[tuple[float, ...], list[float]] = {}
        self._n_handed: dict[tuple[float, ...], int] = {}  # trials per config, all blocks

    def set_switch_cost(self, switch_cost: float) -> None:
        """Change the switch cost for the blocks chosen from now on (e.g. once measured).

        Args:
            switch_cost: one number ``>= 0``, in evaluations.

        Raises:
            InputError: not a finite number ``>= 0``; nothing changes.

        Example:
            >>> from lowswitch.space import Space, Int
            >>> tuner = Tuner(Space({"k": Int(0, 9)}))
            >>> tuner.set_switch_cost(4)
            >>> tuner.switch_cost
            4.0
        """
        cost = check_switch_cost(switch_cost)
        if not isinstance(cost, float):
            raise InputError(f"switch_cost: expected one number >= 0, got {switch_cost!r}")
        if hasattr(self._policy, "switch_cost"):
            self._policy.switch_cost = cost  # type: ignore[attr-defined]
        elif cost:
            raise InputError("switch_cost: this tuner's policy takes no switch cost")
        self.switch_cost = cost

    # ----------------------------------------------------------------- counters
    @property
    def policy(self) -> Policy:
        """The underlying low-switch policy (read it, do not tell it directly)."""
        return self._policy

    @property
    def n_blocks(self) -> int:
        """Number of blocks started (a block may continue the previous block's config)."""
        return len(self._blocks)

    @property
    def n_switches(self) -> int:
        """Blocks whose config differs from the previous block's (the first counts).

        The same definition as the policies' ``n_switches`` and
        ``n_switches``; [`n_blocks`][lowswitch.tune.Tuner.n_blocks] counts
        every block.
        """
        return sum(1 for i, b in enumerate(self._blocks)
                   if i == 0 or b.x != self._blocks[i - 1].x)

    @property
    def n_evaluations(self) -> int:
        """Number of successful evaluations told."""
        return sum(1 for t in self._trials if t["status"] == "complete")

    @property
    def n_failures(self) -> int:
        return sum(1 for t in self._trials if t["status"] == "failed")

    @property
    def n_pending(self) -> int:
        return sum(1 for t in self._trials if t["status"] == "pending")

    @property
    def n_unique(self) -> int:
        """Number of distinct configs with at least one successful evaluation."""
        return len(self._obs)

    @property
    def trials(self) -> list[dict[str, Any]]:
        """Records of every trial handed out: ids, config, status, value, error (copies)."""
        return [dict(t) for t in self._trials]

    # ----------------------------------------------------------------- ask / tell
    def _new_block(self) -> _Block:
        pending = [(torch.tensor(b.x, dtype=torch.float64), b.n_pending)
                   for b in self._blocks if b.n_pending > 0]
        out = self._policy.ask(n_blocks=1, pending=pending or None)
        block = out[0] if isinstance(out, (list, tuple)) else out
        x = torch.as_tensor(block.x, dtype=torch.float64).reshape(-1)
        config = self.space.decode(x)
        xc = self.space.encode(config)
        repeats = max(1, int(block.repeats))
        if self.max_repeats is not None:
            repeats = min(repeats, self.max_repeats)
        b = _Block(block_id=len(self._blocks), x=xc.tolist(), config=config, repeats=repeats)
        self._blocks.append(b)
        return b

    def ask(self) -> Trial:
        """Hand out the next trial: the next repeat of an open block, or a new block.

        Returns:
            A [`Trial`][lowswitch.tune.tuner.Trial]; tell its outcome with
            [`tell`][lowswitch.tune.Tuner.tell] (in any order).
        """
        block = next((b for b in self._blocks if b.handed < b.repeats), None)
        if block is None:
            block = self._new_block()
        key = tuple(block.x)
        repeat = self._n_handed.get(key, 0)
        self._n_handed[key] = repeat + 1
        trial = Trial(config=dict(block.config), repeat=repeat, block_id=block.block_id,
                      trial_id=len(self._trials))
        block.handed += 1
        block.trial_ids.append(trial.trial_id)
        self._trials.append({"trial_id": trial.trial_id, "block_id": block.block_id,
                             "repeat": trial.repeat, "config": dict(block.config),
                             "x": list(block.x), "status": "pending", "value": None,
                             "error": None})
        return trial

    def observe(self, config: Mapping[str, Any], value: Any) -> None:
        """Add an evaluation made outside [`ask`][lowswitch.tune.Tuner.ask] (warm start, earlier
        runs).

        The config is validated and canonicalised; the observation merges with every other
        evaluation of the same config. It is recorded as a trial with ``block_id=None``.

        Raises:
            InputError: unknown or missing parameter names, values outside the space,
                non-finite value (nothing is recorded).
        """
        cfg = self.space.canonical(config)
        v = _as_value(value)
        x = self.space.encode(cfg)
        key = tuple(x.tolist())
        self._policy.tell(x, torch.tensor([v], dtype=torch.float64))
        repeat = self._n_handed.get(key, 0)
        self._n_handed[key] = repeat + 1
        self._trials.append({"trial_id": len(self._trials), "block_id": None,
                             "repeat": repeat, "config": cfg, "x": list(key),
                             "status": "complete", "value": v, "error": None})
        self._obs.setdefault(key, []).append(v)

    def _record(self, trial: Trial | int) -> dict[str, Any]:
        tid = trial.trial_id if isinstance(trial, Trial) else trial
        if not isinstance(tid, int) or isinstance(tid, bool) or not 0 <= tid < len(self._trials):
            raise InputError(f"trial: expected a Trial from this tuner's ask(), got {trial!r}")
        rec = self._trials[tid]
        if isinstance(trial, Trial) and (trial.block_id != rec["block_id"]
                                         or trial.repeat != rec["repeat"]):
            raise InputError(f"trial: {trial!r} does not match trial {tid} of this tuner")
        if rec["status"] != "pending" or rec["block_id"] is None:
            raise StateError(f"trial {tid}: already told (status {rec['status']!r})")
        return rec

    def tell(self, trial: Trial | int, value: Any = None, *, error: str | None = None) -> None:
        """Report the outcome of a trial: a finite ``value``, or ``error=`` for a failure.

        Raises:
            InputError: unknown trial, both or neither of value/error, non-finite value
                (nothing is recorded: the trial stays pending).
            StateError: the trial was already told.
        """
        rec = self._record(trial)
        if (value is None) == (error is None):
            raise InputError("tell: expected exactly one of value or error")
        block = self._blocks[rec["block_id"]]
        if error is not None:
            rec.update(status="failed", error=str(error))
            block.n_failed += 1
            self._maybe_impute(block)
            return
        v = _as_value(value)
        x = torch.tensor(block.x, dtype=torch.float64)
        self._policy.tell(x, torch.tensor([v], dtype=torch.float64))
        rec.update(status="complete", value=v)
        block.n_ok += 1
        self._obs.setdefault(tuple(block.x), []).append(v)

    def _maybe_impute(self, block: _Block) -> None:
        if (not self.impute_failures or block.imputed or block.n_ok > 0
                or block.n_failed < block.repeats or not self._obs):
            return
        key = tuple(block.x)
        if key in self._obs:
            return
        vals = [v for vs in self._obs.values() for v in vs]
        worst = max(vals) if self.direction == "minimize" else min(vals)
        self._policy.tell(torch.tensor(block.x, dtype=torch.float64),
                          torch.tensor([worst], dtype=torch.float64))
        block.imputed = True

    # ----------------------------------------------------------------- recommendation
    def best(self) -> Best:
        """The evaluated config with the best posterior mean (not the luckiest observation).

        Raises:
            StateError: nothing has been evaluated successfully yet.
        """
        if not self._obs:
            raise StateError("best: no successful evaluation yet")
        keys = list(self._obs)
        X = torch.tensor(keys, dtype=torch.float64)
        mean, std = self._posterior(X)
        i = int(torch.argmin(mean) if self.direction == "minimize" else torch.argmax(mean))
        vals = self._obs[keys[i]]
        return Best(config=self.space.decode(X[i]), mean=float(mean[i]), std=float(std[i]),
                    n_repeats=len(vals), observed_mean=float(np.mean(vals)))

    def _posterior(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and std of f at ``X`` (n, D) from the policy's GP, else a fresh one."""
        model = getattr(self._policy, "model", None)
        # lowswitch policies model y when maximising and -y when minimising
        sign = 1.0 if bool(getattr(self._policy, "maximize", True)) else -1.0
        if model is None:
            sign = 1.0
            from lowswitch.gp.fit import fit_gp
            from lowswitch.gp.model import UniquePointGP

            xs, ys = [], []
            for key, vals in self._obs.items():
                xs.extend([key] * len(vals))
                ys.extend(vals)
            model = UniquePointGP(torch.tensor(xs, dtype=torch.float64),
                                  torch.tensor(ys, dtype=torch.float64).unsqueeze(-1))
            if len(ys) > 1:
                fit_gp(model)
        with torch.no_grad():
            post = model.posterior(X)
            mean = sign * post.mean.reshape(-1)
            std = post.variance.clamp_min(0.0).sqrt().reshape(-1)
        return mean, std

    # ----------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """JSON-safe state: space, settings, policy state, blocks and trial records."""
        return {
            **state_header("lowswitch.Tuner", 2),
            "space": self.space.to_dict(),
            "direction": self.direction,
            "switch_threshold": self.switch_threshold,
            "switch_cost": self.switch_cost,
            "seed": self.seed,
            "max_repeats": self.max_repeats,
            "policy_name": self._policy_name,
            "policy": self._policy.state_dict(),
            "blocks": [asdict(b) for b in self._blocks],
            "trials": [dict(t) for t in self._trials],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore [`state_dict`][lowswitch.tune.Tuner.state_dict] output into a tuner built with
        the same settings.

        Raises:
            InputError: the state belongs to another space or settings, or is malformed
                (records that do not fit the space, counters that disagree, values outside
                the measurement range); the tuner is unchanged.
        """
        # version 1: {"version": 1} alone (before the shared header); same payload
        read_header(dict(state) if isinstance(state, Mapping) else state, "lowswitch.Tuner",
                    (1, 2))
        try:
            if Space.from_dict(state["space"]) != self.space:
                raise InputError("state: saved for a different search space")
            for k in ("direction", "switch_threshold", "max_repeats"):
                if state[k] != getattr(self, k):
                    raise InputError(f"state: saved with {k}={state[k]!r}, this tuner has "
                                     f"{getattr(self, k)!r}")
            # the switch cost is a setting the run may have measured: the saved one wins
            # (states from before switch_cost: 0)
            cost = check_switch_cost(state.get("switch_cost", 0.0))
            if not isinstance(cost, float):
                raise InputError(f"state: switch_cost: expected one number, got {cost!r}")
            blocks, trials = self._check_records(state["blocks"], state["trials"])
            seed = state["seed"]
            policy_state = state["policy"]
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InputError(f"state: malformed Tuner state ({type(err).__name__}: {err})"
                             ) from None
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"state: seed: expected a non-negative int, got {seed!r}")
        self._policy.load_state_dict(policy_state)  # validates in full, then commits
        self.seed = seed
        self.switch_cost = cost
        self._blocks, self._trials = blocks, trials
        self._obs = {}
        self._n_handed = {}
        for t in trials:
            key = tuple(t["x"])
            self._n_handed[key] = self._n_handed.get(key, 0) + 1
            if t["status"] == "complete":
                self._obs.setdefault(key, []).append(t["value"])

    def _check_records(self, raw_blocks: Any, raw_trials: Any
                       ) -> tuple[list[_Block], list[dict[str, Any]]]:
        """Saved blocks and trial records, checked against the space and each other."""
        def count(name: str, v: Any) -> int:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"state: {name}: expected a non-negative int, got {v!r}")
            return v

        def point(name: str, config: Any, x: Any) -> tuple[dict[str, Any], list[float]]:
            cfg = self.space.canonical(dict(config))  # InputError outside the space
            xc = self.space.encode(cfg).tolist()
            if list(x) != xc:
                raise InputError(f"state: {name}: x {x!r} is not the encoding of {cfg!r}")
            return cfg, xc

        blocks: list[_Block] = []
        for i, b in enumerate(raw_blocks):
            cfg, xc = point(f"blocks[{i}]", b["config"], b["x"])
            blk = _Block(block_id=count(f"blocks[{i}].block_id", b["block_id"]), x=xc,
                         config=cfg, repeats=count(f"blocks[{i}].repeats", b["repeats"]),
                         handed=count(f"blocks[{i}].handed", b["handed"]),
                         n_ok=count(f"blocks[{i}].n_ok", b["n_ok"]),
                         n_failed=count(f"blocks[{i}].n_failed", b["n_failed"]),
                         imputed=bool(b["imputed"]),
                         trial_ids=[count(f"blocks[{i}].trial_ids", t)
                                    for t in b["trial_ids"]])
            if blk.block_id != i or blk.repeats < 1 or blk.handed > blk.repeats:
                raise InputError(f"state: blocks[{i}]: inconsistent ids or counts")
            blocks.append(blk)
        trials: list[dict[str, Any]] = []
        seen = [[0, 0, 0] for _ in blocks]  # handed, ok, failed per block
        for i, t in enumerate(raw_trials):
            cfg, xc = point(f"trials[{i}]", t["config"], t["x"])
            status, bid = t["status"], t["block_id"]
            if t["trial_id"] != i or status not in ("pending", "complete", "failed"):
                raise InputError(f"state: trials[{i}]: bad trial_id or status {status!r}")
            if bid is not None:
                if not isinstance(bid, int) or not 0 <= bid < len(blocks) or (
                        xc != blocks[bid].x):
                    raise InputError(f"state: trials[{i}]: block_id {bid!r} does not match")
                seen[bid][0] += 1
                seen[bid][1] += status == "complete"
                seen[bid][2] += status == "failed"
            elif status != "complete":
                raise InputError(f"state: trials[{i}]: an observed trial must be complete")
            value = (check_measurement(t["value"], f"state: trials[{i}].value")
                     if status == "complete" else None)
            if status != "complete" and t["value"] is not None:
                raise InputError(f"state: trials[{i}]: a {status} trial has a value")
            trials.append({"trial_id": i, "block_id": bid,
                           "repeat": count(f"trials[{i}].repeat", t["repeat"]),
                           "config": cfg, "x": xc, "status": status, "value": value,
                           "error": None if t["error"] is None else str(t["error"])})
        for b, (handed, ok, failed) in zip(blocks, seen, strict=True):
            if (b.handed, b.n_ok, b.n_failed) != (handed, ok, failed):
                raise InputError(f"state: blocks[{b.block_id}]: counts do not match its trials")
        return blocks, trials


__all__ = ["Best", "Policy", "Trial", "Tuner"]
