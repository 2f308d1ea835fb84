"""``PolicyConfig``: every knob of a low-switch policy, its default, its check, its meaning.

The policies ([`LowSwitchPolicy`][lowswitch.policies.base.LowSwitchPolicy] and subclasses) and every
façade that builds one ([`Tuner`][lowswitch.tune.Tuner], ``minimize``,
the Optuna sampler, the Ray searcher, [`create`][lowswitch.campaign.Campaign.create] and
``lowswitch campaign create``) take one [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] and
pass it on unchanged; they set only what is theirs to set (the direction as ``maximize``, a campaign
plate's derived seed). The problem itself (bounds, candidates) is not part of the configuration.

Acquisition-specific options (UCB's ``beta``, Thompson sampling's pool sizes, a new
acquisition's own settings) go in ``PolicyConfig.options``; the policy class checks
them and refuses names it does not know.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from lowswitch.errors import InputError
from lowswitch.policies.switch import check_threshold
from lowswitch.validation import check_fit_tolerance, check_switch_cost

_MISSING: Any = object()


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _int_or_none(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name}: expected an int >= 1 or None, got {value!r}")
    return int(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(f"{name}: expected an int >= 1, got {value!r}")
    return int(value)


def check_seed(value: Any) -> int | None:
    """A non-negative int seed, or ``None`` (the policy then draws one from OS entropy).

    Example:
        >>> check_seed(3), check_seed(None)
        (3, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InputError(f"seed: expected a non-negative int or None, got {value!r}")
    return int(value)


def check_refit_growth(value: Any) -> float:
    """A finite number ``>= 1`` (the growth factor between hyperparameter refits).

    Example:
        >>> check_refit_growth(1.05)
        1.05
    """
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = math.nan
    if isinstance(value, bool) or not (math.isfinite(out) and out >= 1.0):
        raise InputError(f"refit_growth: expected a finite number >= 1, got {value!r}")
    return out


@dataclass(frozen=True)
class PolicyConfig:
    """Validated settings of a low-switch policy (frozen; one place for every knob).

    Attributes:
        switch_threshold: ``C >= 1`` (finite) of the switch rule; ``1`` = one evaluation
            per decision.
        maximize: maximise (default) or minimise the objective. Façades with a
            ``direction`` set it from their direction.
        seed: non-negative int, or ``None`` (drawn once from OS entropy by the policy).
        max_repeats: optional cap on the repeats ``B_h`` of one block.
        budget: optional total number of evaluations; blocks never exceed what is left.
        n_initial: initial design size (``None``: ``clip(2 d, 2, 20)``, at most ``m``).
        initial_repeats: evaluations per design point (``None``: 2 if ``C > 1`` else 1).
        num_restarts: L-BFGS restarts of the acquisition optimiser (continuous boxes).
        raw_samples: Sobol points scored to pick those restarts (continuous boxes).
        refit_growth: refit the hyperparameters only once the told evaluations grew by
            this factor since the last fit (``1.0``: at every switch boundary with new data;
            ``None``: the acquisition's default, ``default_refit_growth`` of its class:
            1.0 for EI and UCB, 1.1 for TS, whose decisions would otherwise cost more
            than an Optuna GPSampler trial where it switches at most evaluations).
        fit_tolerance: a hyperparameter refit stops when an L-BFGS-B iteration improves
            the fit's objective (log posterior per unique point) by less than this
            (``None``: the acquisition's default, ``default_fit_tolerance`` of its class,
            ``1e-6`` for all three; a looser ``1e-4`` makes UCB's refits about 3x cheaper
            at a regret cost measured in docs/benchmarks/bo.md).
        switch_cost: what a move costs in evaluations: a number ``>= 0`` or one per input.
        cost_up_front: commit the switch cost's extra repeats when a block is chosen, as a
            blind batch does, instead of deciding them after the block's results are told
            (``False``, the default, when blocks are asked one at a time; see
            docs/maths/switching.md). For a loop that runs a block's repeats all at once.
            A policy that has handed out no block yet (rebuilt from stored data) commits
            them up front whatever this says.
        options: acquisition-specific options, checked by the policy class (e.g.
            ``{"beta": 2.0}`` for UCB, ``{"n_discrete": 256}`` for Thompson sampling).

    Example:
        >>> cfg = PolicyConfig(switch_threshold=4.0, seed=1, options={"beta": 2.0})
        >>> PolicyConfig.from_json(cfg.to_json()) == cfg
        True
        >>> try:
        ...     PolicyConfig(switch_threshold=float("inf"))
        ... except ValueError as err:
        ...     print(err)
        switch_threshold: expected a finite number >= 1, got inf
    """

    switch_threshold: float = field(default=2.0, metadata=_help(
        "C >= 1 of the switch rule (1 = one evaluation per decision)."))
    maximize: bool = field(default=True, metadata=_help(
        "Maximise (default) or minimise the objective."))
    seed: int | None = field(default=0, metadata=_help(
        "Non-negative int seed (None: drawn once from OS entropy)."))
    max_repeats: int | None = field(default=None, metadata=_help(
        "Cap on the repeats of one block (None: no cap)."))
    budget: int | None = field(default=None, metadata=_help(
        "Total number of evaluations; blocks never exceed what is left."))
    n_initial: int | None = field(default=None, metadata=_help(
        "Initial design size (None: clip(2 d, 2, 20))."))
    initial_repeats: int | None = field(default=None, metadata=_help(
        "Evaluations per design point (None: 2 if C > 1 else 1)."))
    num_restarts: int = field(default=4, metadata=_help(
        "L-BFGS restarts of the acquisition optimiser (continuous boxes)."))
    raw_samples: int = field(default=256, metadata=_help(
        "Sobol points scored to pick the restarts (continuous boxes)."))
    refit_growth: float | None = field(default=None, metadata=_help(
        "Refit hyperparameters once the evaluations grew by this factor (>= 1; None: "
        "the acquisition's default, 1.0 for EI and UCB, 1.1 for TS)."))
    fit_tolerance: float | None = field(default=None, metadata=_help(
        "Refit stops when an iteration gains less than this per unique point (0 < tol < 1; "
        "None: the acquisition's default, 1e-6)."))
    switch_cost: float | tuple[float, ...] = field(default=0.0, metadata=_help(
        "What a move costs, in evaluations (a number >= 0, or one per input)."))
    cost_up_front: bool = field(default=False, metadata=_help(
        "Commit the switch cost's extra repeats when a block is chosen (default: decide "
        "them after its results, when blocks are asked one at a time)."))
    options: Mapping[str, Any] = field(default_factory=dict, metadata=_help(
        "Acquisition-specific options (NAME=VALUE), checked by the policy class."))

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "switch_threshold", check_threshold(self.switch_threshold))
        if not isinstance(self.maximize, bool | np.bool_):
            raise InputError(f"maximize: expected a bool, got {self.maximize!r}")
        set_(self, "maximize", bool(self.maximize))
        if not isinstance(self.cost_up_front, bool | np.bool_):
            raise InputError(f"cost_up_front: expected a bool, got {self.cost_up_front!r}")
        set_(self, "cost_up_front", bool(self.cost_up_front))
        set_(self, "seed", check_seed(self.seed))
        for name in ("max_repeats", "budget", "n_initial", "initial_repeats"):
            set_(self, name, _int_or_none(name, getattr(self, name)))
        for name in ("num_restarts", "raw_samples"):
            set_(self, name, _positive_int(name, getattr(self, name)))
        if self.refit_growth is not None:
            set_(self, "refit_growth", check_refit_growth(self.refit_growth))
        if self.fit_tolerance is not None:
            set_(self, "fit_tolerance", check_fit_tolerance(self.fit_tolerance))
        set_(self, "switch_cost", check_switch_cost(self.switch_cost))
        if not isinstance(self.options, Mapping) or not all(
            isinstance(k, str) for k in self.options
        ):
            raise InputError(f"options: expected a mapping with str keys, got {self.options!r}")
        set_(self, "options", MappingProxyType(dict(self.options)))

    # ------------------------------------------------------------- conversions
    def replace(self, **changes: Any) -> PolicyConfig:
        """A copy with ``changes`` applied (validated again).

        Example:
            >>> PolicyConfig().replace(maximize=False).maximize
            False
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (switch costs per input as a list, options as a dict)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if isinstance(out["switch_cost"], tuple):
            out["switch_cost"] = list(out["switch_cost"])
        out["options"] = dict(self.options)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyConfig:
        """Inverse of [`to_dict`][lowswitch.space.Space.to_dict]; unknown keys are refused.

        Example:
            >>> PolicyConfig.from_dict({"switch_threshold": 3}).switch_threshold
            3.0
        """
        if not isinstance(data, Mapping):
            raise InputError(f"policy config: expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - set(field_names()))
        if unknown:
            raise InputError(f"policy config: unknown settings {unknown}; expected some of "
                             f"{list(field_names())}")
        return cls(**dict(data))

    def to_json(self) -> str:
        """JSON text (options must be JSON-safe).

        Raises:
            InputError: an option value that JSON cannot hold (e.g. a schedule object).
        """
        try:
            return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise InputError(f"options: expected JSON-safe values to store ({err})") from None

    @classmethod
    def from_json(cls, text: str) -> PolicyConfig:
        """Inverse of [`to_json`][lowswitch.tune.PolicyConfig.to_json]."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as err:
            raise InputError(f"policy config: expected JSON text ({err})") from None
        return cls.from_dict(data)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):
        return a is b


def build_config(config: PolicyConfig | None, given: Mapping[str, Any]) -> PolicyConfig:
    """``config``, or one built from keyword settings (fields, the rest as options).

    With both, a keyword left at its ``PolicyConfig`` default is ignored (subclasses pass
    the positional defaults on) and every other keyword must agree with ``config``: a
    keyword convenience never silently overrides a config.

    Example:
        >>> build_config(None, {"switch_threshold": 3, "beta": 2.0}).options["beta"]
        2.0
    """
    fields = set(field_names()) - {"options"}
    if config is None:
        if "options" in given:
            raise InputError("options: pass acquisition options as keywords or in "
                             "config=PolicyConfig(options=...)")
        return PolicyConfig(
            **{k: v for k, v in given.items() if k in fields},
            options={k: v for k, v in given.items() if k not in fields},
        )
    if not isinstance(config, PolicyConfig):
        raise InputError(f"config: expected a PolicyConfig, got {type(config).__name__}")
    defaults = PolicyConfig()
    for k, v in given.items():
        if k in fields and _same(v, getattr(defaults, k)):
            continue
        have = getattr(config, k) if k in fields else config.options.get(k, _MISSING)
        if not _same(v, have):
            raise InputError(f"{k}: given both as a keyword ({v!r}) and in config ({have!r}); "
                             f"give it in one place")
    return config


def field_names() -> tuple[str, ...]:
    """Names of the [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] fields, in declaration
    order.

    Example:
        >>> field_names()[:2]
        ('switch_threshold', 'maximize')
    """
    return tuple(f.name for f in dataclasses.fields(PolicyConfig))


def facade_config(
    config: PolicyConfig | None,
    given: Mapping[str, Any],
    policy_kwargs: Mapping[str, Any] | None = None,
) -> PolicyConfig:
    """The [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] of a façade: ``config`` as it
    is, or built from keywords.

    Args:
        config: the caller's config, or ``None``.
        given: the façade's keyword settings (``None``: not given).
        policy_kwargs: further ``PolicyConfig`` fields and acquisition options by name.

    Raises:
        InputError: ``config`` together with keyword settings (one place per setting),
            or a bad setting.

    Example:
        >>> facade_config(None, {"seed": 4, "max_repeats": None}, {"beta": 2.0}).options
        mappingproxy({'beta': 2.0})
        >>> facade_config(PolicyConfig(seed=4), {"seed": None}).seed
        4
    """
    set_ = {k: v for k, v in given.items() if v is not None}
    kwargs = dict(policy_kwargs or {})
    if config is not None:
        if not isinstance(config, PolicyConfig):
            raise InputError(f"config: expected a PolicyConfig, got {type(config).__name__}")
        if set_ or kwargs:
            raise InputError(f"config: give the policy settings either in config=PolicyConfig"
                             f"(...) or as keywords, not both (keywords given: "
                             f"{sorted([*set_, *kwargs])})")
        return config
    names = set(field_names()) - {"options"}
    clash = sorted(set(set_) & set(kwargs))
    if clash:
        raise InputError(f"policy_kwargs: {clash} given twice (also as keywords)")
    fields = {**set_, **{k: v for k, v in kwargs.items() if k in names}}
    options = {k: v for k, v in kwargs.items() if k not in names}
    if "options" in options:
        raise InputError("policy_kwargs: give options by name, not as 'options'")
    return PolicyConfig(**fields, options=options)


__all__ = [
    "PolicyConfig",
    "build_config",
    "check_fit_tolerance",
    "check_refit_growth",
    "check_seed",
    "facade_config",
    "field_names",
]
