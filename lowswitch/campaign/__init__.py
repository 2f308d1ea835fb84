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

from lowswitch.campaign.campaign import DIRECTIONS, Campaign
from lowswitch.campaign.planner import Block, PlanConfig, plan_plate
from lowswitch.campaign.report import write_report
from lowswitch.campaign.simulate import SimulatedLab, aryl_halide_table
from lowswitch.campaign.storage import SCHEMA_VERSION, Storage

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
