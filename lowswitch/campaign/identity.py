"""Which campaign a results table belongs to, and whether it was recorded before.

Two checks run in ``record`` before anything is stored:

* **Identity.** Plate files written by ``suggest`` carry a ``campaign`` column (the
  campaign's name); every row must name the campaign being recorded into. A table without
  that column (say ``experiment_id,yield`` typed by hand) carries no identity, so it is matched
  only where no mistake is possible inside the database: every experiment it names must still
  be *pending* in this campaign (so it can only fill wells that are waiting for a result, never
  add re-measurements to finished ones), and no other campaign of the same storage may have a
  pending experiment with one of those numbers (else the file could belong to either one).
  Anything else is refused with a message asking for the ``campaign`` column.
* **Duplicates.** The SHA-256 of the recorded content (the file's bytes; for a DataFrame, its
  CSV text) is stored with each import; the same content again is refused unless the caller
  says it holds new measurements (``--allow-duplicate``).

Example:
    >>> import pandas as pd
    >>> frame, names = split_identity(pd.DataFrame({"campaign": ["A"], "experiment_id": ["1"]}))
    >>> list(frame.columns), names
    (['experiment_id'], ['A'])
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from lowswitch.errors import InputError

CAMPAIGN_COLUMN = "campaign"
"""Column of plate files that names the campaign."""


def content_hash(results: pd.DataFrame | str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a results file's bytes, or of a DataFrame's CSV text.

    Example:
        >>> len(content_hash(pd.DataFrame({"experiment_id": [1], "y": [2.0]})))
        64
    """
    if isinstance(results, pd.DataFrame):
        data = results.to_csv(index=False).encode("utf-8")
    else:
        data = Path(results).read_bytes()
    return hashlib.sha256(data).hexdigest()


def split_identity(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str] | None]:
    """Take the ``campaign`` column out of a results table (cells as text).

    Returns:
        The table without it, and its stripped cells (None when the table has no such column).
    """
    if CAMPAIGN_COLUMN not in frame.columns:
        return frame, None
    from lowswitch.campaign.csvio import unescape_formula

    # a name such as "=screen" is written "'=screen" by the formula escaping of plate files
    names = [unescape_formula(str(v).strip()) for v in frame[CAMPAIGN_COLUMN].tolist()]
    return frame.drop(columns=[CAMPAIGN_COLUMN]), names


def _numbers(frame: pd.DataFrame) -> list[int]:
    """Experiment numbers named by the table (cells that are not integers are left to the
    results parser, which names their row)."""
    if "experiment_id" not in frame.columns:
        return []
    out = []
    for cell in frame["experiment_id"].astype(str).str.strip():
        try:
            out.append(int(cell))
        except ValueError:
            continue
    return out


def check_campaign_column(names: Sequence[str] | None, campaign: str) -> None:
    """Refuse a table whose ``campaign`` column names another campaign (checked first, before
    the rows are parsed: a file from another campaign is a wrong file, not a wrong row).

    Args:
        names: the column's cells (None: the table had no such column; nothing to check).
        campaign: name of the campaign recorded into.

    Raises:
        InputError: a row names another campaign (the message names the row).
    """
    for i, name in enumerate(names or []):
        if name != campaign:
            raise InputError(
                f"results row {i + 1} (line {i + 2}): campaign {name!r}, but this is "
                f"campaign {campaign!r}; nothing stored (record the file into its own campaign)"
            )


def check_minimal_table(
    frame: pd.DataFrame,
    campaign: str,
    experiments: Mapping[int, Any],
    pending_elsewhere: Callable[[Sequence[int]], list[str]],
) -> None:
    """Refuse a table without a ``campaign`` column unless it can only be this campaign's
    (see the module's rules). Run after the rows were parsed, so that a bad row is reported
    as such first.

    Args:
        frame: results table (no ``campaign`` column).
        campaign: name of the campaign recorded into.
        experiments: experiment number -> stored experiment (with a ``status``).
        pending_elsewhere: numbers -> other campaigns of the storage with such a pending
            experiment.

    Raises:
        InputError: an experiment that is not pending here, or numbers that other campaigns
            have pending.
    """
    numbers = _numbers(frame)
    done = sorted(n for n in numbers if n in experiments and experiments[n].status != "pending")
    if done:
        raise InputError(
            f"results: the table has no {CAMPAIGN_COLUMN!r} column and names experiment(s) "
            f"{done[:10]} that are not pending in campaign {campaign!r}; without that column a "
            "table may only fill pending wells. Use the plate file written by `suggest` (it "
            f"has the {CAMPAIGN_COLUMN!r} column) or add the column"
        )
    others = pending_elsewhere(numbers)
    if others:
        shown = others[:5] + (["..."] if len(others) > 5 else [])
        raise InputError(
            f"results: the table has no {CAMPAIGN_COLUMN!r} column and campaign(s) {shown} "
            f"of this storage also have pending experiments with these numbers, so it could "
            f"belong to either; add a {CAMPAIGN_COLUMN!r} column naming {campaign!r} (plate "
            "files written by `suggest` have it)"
        )


__all__ = ["CAMPAIGN_COLUMN", "check_campaign_column", "check_minimal_table", "content_hash",
           "split_identity"]
