"""The unique-point GP: statistics, exact likelihood, BoTorch model and fitting."""

from __future__ import annotations

from lowswitch.gp.fit import fit_gp
from lowswitch.gp.likelihood import ExactReplicateMLL
from lowswitch.gp.model import UniquePointGP
from lowswitch.gp.stats import UniqueStats, canonicalize

__all__ = ["ExactReplicateMLL", "UniquePointGP", "UniqueStats", "canonicalize", "fit_gp"]
