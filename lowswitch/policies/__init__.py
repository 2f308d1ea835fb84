"""Rarely-switching GP-UCB / GP-EI / GP-TS policies with an ask/tell interface.

See [`lowswitch.policies.base`][lowswitch.policies.base] for the shared contract,
[`lowswitch.policies.config`][lowswitch.policies.config] for the settings
([`PolicyConfig`][lowswitch.policies.PolicyConfig]),
[`lowswitch.policies.registry`][lowswitch.policies.registry] for acquisitions by name and
``lowswitch.policies.switch`` for the switch rule.

Example:
    >>> from lowswitch.policies import LowSwitchGPUCB, switch_repeats
    >>> switch_repeats(0.25, 1.0, 2.0)
    4
    >>> get_policy("ucb") is LowSwitchGPUCB
    True
"""

from __future__ import annotations

from lowswitch.policies.base import LowSwitchPolicy
from lowswitch.policies.beta import ConstantBeta, IGPUCBBeta
from lowswitch.policies.block import Block
from lowswitch.policies.config import PolicyConfig
from lowswitch.policies.ei import LowSwitchGPEI
from lowswitch.policies.registry import get_policy, policy_names, register, resolve_policy
from lowswitch.policies.seeds import derive_seed
from lowswitch.policies.switch import switch_repeats
from lowswitch.policies.ts import LowSwitchGPTS
from lowswitch.policies.ucb import LowSwitchGPUCB

register("ucb", LowSwitchGPUCB)
register("ei", LowSwitchGPEI)
register("ts", LowSwitchGPTS)

__all__ = [
    "Block",
    "ConstantBeta",
    "IGPUCBBeta",
    "LowSwitchGPEI",
    "LowSwitchGPTS",
    "LowSwitchGPUCB",
    "LowSwitchPolicy",
    "PolicyConfig",
    "derive_seed",
    "get_policy",
    "policy_names",
    "register",
    "resolve_policy",
    "switch_repeats",
]
