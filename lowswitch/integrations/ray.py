"""Ray Tune searcher: a low-switch block's repeats run as concurrent Ray trials.

[`LowSwitchSearcher`][lowswitch.integrations.ray.LowSwitchSearcher] is a
``ray.tune.search.Searcher`` around a [`Tuner`][lowswitch.tune.Tuner]. Every ``suggest`` hands out
the next repeat of the current block, so with ``max_concurrent_trials=k`` up to ``k`` repeats of one
config (seeds, folds) run side by side; when a block is exhausted while its trials still run, the
next block is chosen with those trials hallucinated (pending). The config a trial receives is the
block's config plus the repeat index under ``repeat_key`` (default ``"repeat"``).

The search space is either a [`Space`][lowswitch.space.Space] or a Ray search-space dict
given to the searcher (as other Ray searchers take it), or Ray's ``param_space``
(``tune.uniform``, ``tune.loguniform``, ``tune.randint``, ``tune.lograndint``,
``tune.choice``; ``randint``'s upper bound is exclusive, as in Ray;
plain constants are passed through unchanged; anything else, quantised or nested domains
included, is refused with an [`InputError`][lowswitch.errors.InputError] naming the entry).

Trials that error, or report a missing / non-finite metric, are recorded as failures.
``save`` / ``restore`` write and read JSON (the tuner's ``state_dict`` plus the map from
Ray trial ids to tuner trials), so ``tune.Tuner.restore`` continues the experiment with the
same blocks; trials still running at the checkpoint are told when Ray finishes them.

Example:
    >>> from lowswitch.space import Space, Float
    >>> searcher = LowSwitchSearcher(Space({"x": Float(0.0, 1.0)}), metric="loss", mode="min")
    >>> config = searcher.suggest("t0")
    >>> sorted(config)
    ['repeat', 'x']
    >>> searcher.on_trial_complete("t0", {"loss": (config["x"] - 0.5) ** 2})
    >>> searcher.tuner.n_evaluations
    1
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search import sample as ray_sample

from lowswitch.bandit.state import read_header, state_header
from lowswitch.errors import InputError, StateError
from lowswitch.policies.config import PolicyConfig, facade_config
from lowswitch.policies.registry import get_policy
from lowswitch.space import Categorical, Float, Int, Param, Space
from lowswitch.tune.tuner import Trial, Tuner
from lowswitch.validation import check_measurement

_STATE_KIND = "lowswitch.LowSwitchSearcher"
#: 1: ``{"version": 1}`` alone (before the shared header); 2: the shared header
_STATE_VERSIONS = (1, 2)


def space_from_param_space(param_space: Mapping[str, Any]) -> tuple[Space, dict[str, Any]]:
    """Split a Ray ``param_space`` into a [`Space`][lowswitch.integrations.ray.Space] and the
    constant entries.

    Example:
        >>> from ray import tune
        >>> space, consts = space_from_param_space({"lr": tune.loguniform(1e-4, 1e-1),
        ...                                         "k": tune.randint(1, 5), "epochs": 3})
        >>> space.params["k"], consts
        (Int(low=1, high=4, log=False), {'epochs': 3})
    """
    params: dict[str, Param] = {}
    consts: dict[str, Any] = {}
    for name, dom in param_space.items():
        if isinstance(dom, ray_sample.Float):
            sampler = dom.get_sampler()
            if isinstance(sampler, ray_sample.Quantized) or not isinstance(
                sampler, (ray_sample.Uniform, ray_sample.LogUniform)
            ):
                raise InputError(f"param_space[{name!r}]: only uniform / loguniform floats "
                                 f"are supported, got {dom!r}")
            params[name] = Float(dom.lower, dom.upper,
                                 log=isinstance(sampler, ray_sample.LogUniform))
        elif isinstance(dom, ray_sample.Integer):
            sampler = dom.get_sampler()
            if isinstance(sampler, ray_sample.Quantized):
                raise InputError(f"param_space[{name!r}]: quantized integers are not supported")
            params[name] = Int(dom.lower, dom.upper - 1,
                               log=isinstance(sampler, ray_sample.LogUniform))
        elif isinstance(dom, ray_sample.Categorical):
            params[name] = Categorical(list(dom.categories))
        elif isinstance(dom, (ray_sample.Domain, Mapping)) or (
            isinstance(dom, (list, tuple)) and any(isinstance(v, ray_sample.Domain) for v in dom)
        ):
            raise InputError(f"param_space[{name!r}]: unsupported entry {dom!r} (nested or "
                             f"non-uniform domains)")
        else:
            consts[name] = dom
    return Space(params), consts


class LowSwitchSearcher(Searcher):
    """Low-switch GP search for Ray Tune (see the module docstring).

    Args:
        space: optional [`Space`][lowswitch.space.Space] or Ray search-space dict
            (``{"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 4)}``, see
            [`space_from_param_space`][lowswitch.integrations.ray.space_from_param_space]); else
            taken from ``param_space``.
        metric: name of the reported metric to optimise.
        mode: ``"min"`` or ``"max"``.
        switch_threshold: ``C`` of the switch rule (default ``PolicyConfig``'s, 2.0).
        seed: policy seed (default ``PolicyConfig``'s, 0).
        policy: a registered policy name: ``"ei"`` (default), ``"ucb"``, ``"ts"`` or one
            added with [`lowswitch.policies.register`][lowswitch.policies.register].
        max_repeats: cap on repeats per block.
        repeat_key: config key that carries the repeat index.
        switch_cost: what a new config costs, in evaluations (``0``: the plain switch
            rule; see [`Tuner`][lowswitch.tune.tuner.Tuner]).
        config: every policy setting as one
            [`PolicyConfig`][lowswitch.policies.config.PolicyConfig], handed to the
            [`Tuner`][lowswitch.tune.tuner.Tuner] unchanged (``mode`` sets ``maximize``);
            then leave ``switch_threshold``, ``seed``, ``max_repeats`` and ``switch_cost``
            out.

    Example:
        >>> s = LowSwitchSearcher(metric="loss", mode="min")
        >>> s.tuner is None
        True
        >>> from ray import tune
        >>> s = LowSwitchSearcher({"lr": tune.loguniform(1e-4, 1e-1), "epochs": 3},
        ...                       metric="loss", mode="min")
        >>> sorted(s.suggest("t0"))
        ['epochs', 'lr', 'repeat']
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        switch_threshold: float | None = None,
        seed: int | None = None,
        policy: str = "ei",
        max_repeats: int | None = None,
        repeat_key: str = "repeat",
        switch_cost: float | None = None,
        config: PolicyConfig | None = None,
    ) -> None:
        consts: dict[str, Any] = {}
        if isinstance(space, Mapping):
            space, consts = space_from_param_space(space)
        if space is not None and not isinstance(space, Space):
            raise InputError(f"space: expected a lowswitch Space, a Ray search-space dict or "
                             f"None, got {space!r}")
        if mode not in (None, "min", "max"):
            raise InputError(f"mode: expected 'min', 'max' or None, got {mode!r}")
        if space is not None and repeat_key in space.params:
            raise InputError(f"repeat_key: {repeat_key!r} is also a parameter name")
        given = {"switch_threshold": switch_threshold, "seed": seed,
                 "max_repeats": max_repeats, "switch_cost": switch_cost}
        cfg = facade_config(config, given)
        get_policy(policy)  # a registered name (checked now, not at the first suggest)
        super().__init__(metric=metric, mode=mode)
        self._space = space
        self._consts = consts
        self._settings: dict[str, Any] = {"policy": policy, "config": cfg.to_dict()}
        self.repeat_key = repeat_key
        self.tuner: Tuner | None = None
        self._live: dict[str, int] = {}  # Ray trial id -> tuner trial id
        self._maybe_build()

    # ------------------------------------------------------------------ setup
    def _maybe_build(self) -> None:
        if self.tuner is None and self._space is not None and self._mode is not None:
            self.tuner = Tuner(self._space,
                               direction="minimize" if self._mode == "min" else "maximize",
                               policy=self._settings["policy"],
                               config=_settings_config(self._settings))

    def set_search_properties(self, metric: str | None, mode: str | None,
                              config: dict[str, Any], **spec: Any) -> bool:
        if self.tuner is not None and self._live:
            return False
        if self._space is not None and config:
            return False  # a space was given to the searcher already
        if metric:
            self._metric = metric
        if mode:
            if mode not in ("min", "max"):
                raise InputError(f"mode: expected 'min' or 'max', got {mode!r}")
            self._mode = mode
        if config:
            self._space, self._consts = space_from_param_space(config)
            if self.repeat_key in self._space.params:
                raise InputError(f"repeat_key: {self.repeat_key!r} is also a parameter name")
        self.tuner = None
        self._maybe_build()
        return True

    # ------------------------------------------------------------------ Ray hooks
    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.tuner is None:
            raise StateError("LowSwitchSearcher: set a search space and mode first "
                             "(constructor or tune.TuneConfig(metric=..., mode=...))")
        trial = self.tuner.ask()
        self._live[trial_id] = trial.trial_id
        return {**self._consts, **trial.config, self.repeat_key: trial.repeat}

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        if self.tuner is None or trial_id not in self._live:
            return
        tid = self._live.pop(trial_id)
        value = None if result is None or self._metric is None else result.get(self._metric)
        if error:
            self.tuner.tell(tid, error=f"Ray trial {trial_id} errored")
        elif value is None:
            self.tuner.tell(tid, error=f"Ray trial {trial_id}: metric {self._metric!r} "
                                       f"missing from the result")
        else:
            try:  # finite, |value| <= 1e100: one huge value must not poison the GP
                number = check_measurement(value, f"metric {self._metric!r}")
            except InputError as err:
                self.tuner.tell(tid, error=f"Ray trial {trial_id}: {err}")
            else:
                self.tuner.tell(tid, number)

    # ------------------------------------------------------------------ persistence
    def get_state(self) -> dict[str, Any]:
        """JSON-safe state (tuner state, live trial map, settings)."""
        return {
            **state_header(_STATE_KIND, _STATE_VERSIONS[-1]),
            "metric": self._metric,
            "mode": self._mode,
            "space": None if self._space is None else self._space.to_dict(),
            "consts": self._consts,
            "settings": self._settings,
            "repeat_key": self.repeat_key,
            "tuner": None if self.tuner is None else self.tuner.state_dict(),
            "live": dict(self._live),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        read_header(dict(state) if isinstance(state, Mapping) else state, _STATE_KIND,
                    _STATE_VERSIONS)
        self._metric, self._mode = state["metric"], state["mode"]
        self._space = None if state["space"] is None else Space.from_dict(state["space"])
        self._consts = dict(state["consts"])
        self._settings = dict(state["settings"])
        _settings_config(self._settings)  # checked before anything is rebuilt
        self.repeat_key = state["repeat_key"]
        self.tuner = None
        self._maybe_build()
        if state["tuner"] is not None and self.tuner is not None:
            self.tuner.load_state_dict(state["tuner"])
        self._live = {str(k): int(v) for k, v in state["live"].items()}

    def save(self, checkpoint_path: str) -> None:
        """Write the state as JSON (atomically) to ``checkpoint_path``."""
        tmp = f"{checkpoint_path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.get_state(), fh)
        os.replace(tmp, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        """Read a state written by [`save`][lowswitch.integrations.ray.LowSwitchSearcher.save]."""
        with open(checkpoint_path, encoding="utf-8") as fh:
            self.set_state(json.load(fh))

    @property
    def live_trials(self) -> dict[str, Trial]:
        """Ray trial id -> the tuner's [`Trial`][lowswitch.tune.Trial], for running trials."""
        if self.tuner is None:
            return {}
        recs = self.tuner.trials
        return {rid: Trial(recs[t]["config"], recs[t]["repeat"], recs[t]["block_id"], t)
                for rid, t in self._live.items()}


def _settings_config(settings: Mapping[str, Any]) -> PolicyConfig:
    """The policy config of stored searcher settings (also the flat pre-PolicyConfig form)."""
    if "config" in settings:
        return PolicyConfig.from_dict(settings["config"])
    old = {k: settings.get(k) for k in ("switch_threshold", "seed", "max_repeats", "switch_cost")}
    return facade_config(None, old)


__all__ = ["LowSwitchSearcher", "space_from_param_space"]
