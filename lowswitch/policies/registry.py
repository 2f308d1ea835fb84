"""The one registry of acquisitions: a name -> a
[`LowSwitchPolicy`][lowswitch.policies.LowSwitchPolicy] subclass.

Every façade (tuner, ``minimize``, Optuna, Ray, campaigns and their CLI, benchmarks)
resolves a policy name here. The built-in ``"ucb"``, ``"ei"`` and ``"ts"`` are registered
when [`lowswitch.policies`][lowswitch.policies] is imported; a new acquisition registers itself with
[`register`][lowswitch.policies.registry.register] (also usable as a class decorator) and is then
usable by name everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar, overload

from lowswitch.errors import InputError

_T = TypeVar("_T", bound=type)
_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")
_REGISTRY: dict[str, type] = {}
RESERVED = frozenset({"random"})
"""Names that façades handle themselves (a campaign's ``"random"`` floor)."""


@overload
def register(name: str, cls: None = None, *, replace: bool = False) -> Callable[[_T], _T]: ...


@overload
def register(name: str, cls: _T, *, replace: bool = False) -> _T: ...


def register(name: str, cls: Any = None, *, replace: bool = False) -> Any:
    """Register ``cls`` (a [`LowSwitchPolicy`][lowswitch.policies.base.LowSwitchPolicy] subclass).

    Args:
        name: lowercase name, 1-40 characters of ``a-z 0-9 _ -``, starting with a letter.
        cls: the class; omitted, ``register(name)`` returns a class decorator.
        replace: allow re-registering an existing name (e.g. a module reloaded).

    Returns:
        ``cls`` (or the decorator).

    Raises:
        InputError: a bad or reserved name, a class that is not a policy, or a name already
            taken by another class (without ``replace``).

    Example:
        >>> from lowswitch.policies import LowSwitchGPUCB, get_policy
        >>> register("ucb", LowSwitchGPUCB) is LowSwitchGPUCB   # same class: no-op
        True
        >>> get_policy("ucb").__name__
        'LowSwitchGPUCB'
    """
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED:
        raise InputError(f"register: expected a lowercase name (a-z, 0-9, _ or -, starting "
                         f"with a letter, not {sorted(RESERVED)}), got {name!r}")
    if cls is None:
        return lambda c: register(name, c, replace=replace)
    from lowswitch.policies.base import LowSwitchPolicy

    if not isinstance(cls, type) or not issubclass(cls, LowSwitchPolicy):
        raise InputError(f"register: expected a LowSwitchPolicy subclass, got {cls!r}")
    old = _REGISTRY.get(name)
    if old is not None and old is not cls and not replace:
        raise InputError(f"register: {name!r} is already {old.__qualname__}; pass "
                         f"replace=True to replace it")
    _REGISTRY[name] = cls
    return cls


def get_policy(name: str) -> type:
    """The policy class registered as ``name``.

    Raises:
        InputError: no such name (the message lists the registered ones).

    Example:
        >>> get_policy("ts").__name__
        'LowSwitchGPTS'
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise InputError(f"policy: expected one of {policy_names()}, got {name!r}")
    return _REGISTRY[name]


def policy_names() -> list[str]:
    """Registered names, sorted.

    Example:
        >>> {"ei", "ts", "ucb"} <= set(policy_names())
        True
    """
    return sorted(_REGISTRY)


def resolve_policy(policy: str | type) -> type:
    """A registered name or a policy class itself -> the class.

    Example:
        >>> resolve_policy("ei").__name__
        'LowSwitchGPEI'
    """
    if isinstance(policy, str):
        return get_policy(policy)
    from lowswitch.policies.base import LowSwitchPolicy

    if isinstance(policy, type) and issubclass(policy, LowSwitchPolicy):
        return policy
    raise InputError(f"policy: expected a registered name {policy_names()} or a "
                     f"LowSwitchPolicy subclass, got {policy!r}")


def check_policy_config(policy: str | type, config: Any) -> None:
    """Check ``config`` (a ``PolicyConfig``) against a policy now, on a 1-d unit box.

    Façades that build their policies later (a campaign's plates, an Optuna study's
    blocks) call this at construction, so that an unknown or bad acquisition option is
    refused when it is given, not at the first model-based decision. Per-input switch
    costs are not checked here (they depend on the problem's dimension).

    Example:
        >>> from lowswitch.policies import PolicyConfig
        >>> try:
        ...     check_policy_config("ucb", PolicyConfig(options={"betta": 2.0}))
        ... except ValueError as err:
        ...     print(err)
        options: LowSwitchGPUCB takes no option(s) ['betta']; it takes ['beta']
    """
    import torch

    cls = resolve_policy(policy)
    if isinstance(config.switch_cost, tuple):
        config = config.replace(switch_cost=0.0)
    cls(torch.tensor([[0.0], [1.0]], dtype=torch.float64), config=config)


__all__ = [
    "RESERVED",
    "check_policy_config",
    "get_policy",
    "policy_names",
    "register",
    "resolve_policy",
]
