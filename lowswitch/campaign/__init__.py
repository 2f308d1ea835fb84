"""Wet-lab campaigns: plates of replicated conditions from the low-switch policy, kept in a
database (SQLite by default, PostgreSQL by URL), driven from Python or the ``lowswitch
campaign`` command line.

Example:
    >>> import pandas as pd
    >>> from lowswitch.campaign import Campaign
    >>> camp = Campaign.create("sqlite://", "screen", pd.DataFrame({"ligand": ["A", "B", "C"]}),
    ...                        inputs=["ligand"], objective="yield", initial_conditions=3)
    >>> len(camp.suggest(slots=6))
    6
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it; imported on first use (PEP 562), so that the
# command line's `status` / `list` never load torch
_LAZY: dict[str, str] = {
    "DIRECTIONS": "lowswitch.campaign.campaign",
    "Campaign": "lowswitch.campaign.campaign",
    "Block": "lowswitch.campaign.planner",
    "PlanConfig": "lowswitch.campaign.planner",
    "plan_plate": "lowswitch.campaign.planner",
    "write_report": "lowswitch.campaign.report",
    "SimulatedLab": "lowswitch.campaign.simulate",
    "aryl_halide_table": "lowswitch.campaign.simulate",
    "SCHEMA_VERSION": "lowswitch.campaign.storage",
    "Storage": "lowswitch.campaign.storage",
}

if TYPE_CHECKING:
    from lowswitch.campaign.campaign import DIRECTIONS, Campaign
    from lowswitch.campaign.planner import Block, PlanConfig, plan_plate
    from lowswitch.campaign.report import write_report
    from lowswitch.campaign.simulate import SimulatedLab, aryl_halide_table
    from lowswitch.campaign.storage import SCHEMA_VERSION, Storage


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lowswitch.campaign' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "DIRECTIONS",
    "SCHEMA_VERSION",
    "Block",
    "Campaign",
    "PlanConfig",
    "SimulatedLab",
    "Storage",
    "aryl_halide_table",
    "plan_plate",
    "write_report",
]
