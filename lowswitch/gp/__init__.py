"""The unique-point GP: statistics, exact likelihood, BoTorch model and fitting."""

from __future__ import annotations

from lowswitch.gp import botorch_dispatch  # noqa: F401  (registers BoTorch dispatchers)
from lowswitch.gp.batched import BatchedUniquePointGP
from lowswitch.gp.conditioned import ConditionedUniquePointGP
from lowswitch.gp.fit import fit_gp
from lowswitch.gp.likelihood import ExactReplicateMLL
from lowswitch.gp.model import UniquePointGP
from lowswitch.gp.stats import UniqueStats, canonicalize

__all__ = [
    "BatchedUniquePointGP",
    "ConditionedUniquePointGP",
    "ExactReplicateMLL",
    "UniquePointGP",
    "UniqueStats",
    "canonicalize",
    "fit_gp",
]
