"""lowswitch: rarely-switching Bayesian optimisation on an exact unique-point GP.

Public names are imported lazily (PEP 562) so that ``import lowswitch.bandit`` stays
torch-only and ``import lowswitch`` is cheap.

Example:
    >>> import lowswitch
    >>> lowswitch.__version__
    '0.1.0'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "InputError": "lowswitch.errors",
    "LowSwitchError": "lowswitch.errors",
    "StateError": "lowswitch.errors",
    "UniqueStats": "lowswitch.gp.stats",
    "UniquePointGP": "lowswitch.gp.model",
    "fit_gp": "lowswitch.gp.fit",
    "Block": "lowswitch.policies.base",
    "LowSwitchGPUCB": "lowswitch.policies.ucb",
    "LowSwitchGPEI": "lowswitch.policies.ei",
    "LowSwitchGPTS": "lowswitch.policies.ts",
}

if TYPE_CHECKING:  # pragma: no cover
    from lowswitch.errors import InputError, LowSwitchError, StateError
    from lowswitch.gp.fit import fit_gp
    from lowswitch.gp.model import UniquePointGP
    from lowswitch.gp.stats import UniqueStats
    from lowswitch.policies.base import Block
    from lowswitch.policies.ei import LowSwitchGPEI
    from lowswitch.policies.ts import LowSwitchGPTS
    from lowswitch.policies.ucb import LowSwitchGPUCB


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lowswitch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Block",
    "InputError",
    "LowSwitchError",
    "LowSwitchGPEI",
    "LowSwitchGPTS",
    "LowSwitchGPUCB",
    "StateError",
    "UniquePointGP",
    "UniqueStats",
    "fit_gp",
]
