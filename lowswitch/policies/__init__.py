"""Rarely-switching GP-UCB / GP-EI / GP-TS policies with an ask/tell interface.

See :mod:`lowswitch.policies.base` for the shared contract and
:mod:`lowswitch.policies.switch` for the switch rule.

Example:
    >>> from lowswitch.policies import LowSwitchGPUCB, switch_repeats
    >>> switch_repeats(0.25, 1.0, 2.0)
    4
"""

from __future__ import annotations

from lowswitch.policies.base import Block, LowSwitchPolicy
from lowswitch.policies.beta import ConstantBeta, IGPUCBBeta
from lowswitch.policies.ei import LowSwitchGPEI
from lowswitch.policies.switch import switch_repeats
from lowswitch.policies.ts import LowSwitchGPTS
from lowswitch.policies.ucb import LowSwitchGPUCB

__all__ = [
    "Block",
    "ConstantBeta",
    "IGPUCBBeta",
    "LowSwitchGPEI",
    "LowSwitchGPTS",
    "LowSwitchGPUCB",
    "LowSwitchPolicy",
    "switch_repeats",
]
