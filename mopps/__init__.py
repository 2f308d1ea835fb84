"""mopps: Model Predictive Prompt Selection for RL finetuning of language models.

Built on the torch-only Thompson-sampling core [`lowswitch.bandit`][lowswitch.bandit]; importing
``mopps`` never imports gpytorch or botorch. Framework hooks (verl, TRL) live in
``mopps.integrations`` and are imported only when used.

Example:
    >>> import mopps
    >>> "PromptSelector" in dir(mopps)
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "PromptSelector": "mopps.selector",
    "MoPPSSampler": "mopps.sampler",
}

if TYPE_CHECKING:  # pragma: no cover
    from mopps.sampler import MoPPSSampler
    from mopps.selector import PromptSelector


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mopps' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["MoPPSSampler", "PromptSelector"]
