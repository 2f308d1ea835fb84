"""Read-only summaries of a campaign: history, export, status (accounting) and best conditions.

:class:`~lowswitch.campaign.campaign.Campaign` exposes each of them as a method.

Example:
    >>> import pandas as pd
    >>> from lowswitch.campaign import Campaign
    >>> c = Campaign.create("sqlite://", "s", pd.DataFrame({"x": list("abc")}), ["x"], "y",
    ...                     initial_conditions=3)
    >>> plate = c.suggest(3); plate["y"] = [1, 2, "failed"]; _ = c.record(plate)
    >>> status(c)["experiments"]
    {'pending': 0, 'done': 2, 'failed': 1}
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Connection, func, select

from lowswitch.campaign.storage import experiments_table, measurements_table, read_campaign

if TYPE_CHECKING:
    from lowswitch.campaign.campaign import Campaign


def observations(conn: Connection, campaign_id: int) -> tuple[list[int], list[float]]:
    """Candidate index and value of every successful measurement, in recording order."""
    rows = conn.execute(
        select(experiments_table.c.candidate_idx, measurements_table.c.value)
        .join(experiments_table, measurements_table.c.experiment_id == experiments_table.c.id)
        .where(measurements_table.c.campaign_id == campaign_id)
        .where(measurements_table.c.failed.is_(False))
        .order_by(measurements_table.c.id)
    ).all()
    return [int(r[0]) for r in rows], [float(r[1]) for r in rows]


def history(camp: Campaign) -> pd.DataFrame:
    """Every experiment with its measurements (one row per measurement; pending wells and
    wells without a measurement have an empty ``value``).

    Returns:
        DataFrame with experiment_id, plate, block, replicate, the inputs, status, value,
        failed, measurement_id, import_id.
    """
    with camp.storage.engine.connect() as conn:
        rows = conn.execute(
            select(
                experiments_table.c.number,
                experiments_table.c.plate,
                experiments_table.c.block,
                experiments_table.c.replicate,
                experiments_table.c.candidate_idx,
                experiments_table.c.status,
                measurements_table.c.value,
                measurements_table.c.failed,
                measurements_table.c.id,
                measurements_table.c.import_id,
            )
            .select_from(
                experiments_table.outerjoin(
                    measurements_table,
                    measurements_table.c.experiment_id == experiments_table.c.id,
                )
            )
            .where(experiments_table.c.campaign_id == camp.id)
            .order_by(experiments_table.c.number, measurements_table.c.id)
        ).all()
    records = []
    for r in rows:
        record: dict[str, Any] = {
            "experiment_id": r[0], "plate": r[1], "block": r[2], "replicate": r[3],
            "candidate": r[4],
        }
        record.update({c: camp.candidates[r[4]][c] for c in camp.inputs})
        record.update(
            {"status": r[5], "value": r[6], "failed": bool(r[7]) if r[7] is not None else None,
             "measurement_id": r[8], "import_id": r[9]}
        )
        records.append(record)
    columns = ["experiment_id", "plate", "block", "replicate", "candidate", *camp.inputs,
               "status", "value", "failed", "measurement_id", "import_id"]
    return pd.DataFrame.from_records(records, columns=columns)

def export_csv(
    camp: Campaign, path: str | os.PathLike[str], escape_formulas: bool = True
) -> Path:
    """Write :meth:`history` to a CSV file (the objective column named as in the campaign),
    atomically, formula cells neutralised unless ``escape_formulas`` is False (see
    :mod:`lowswitch.campaign.csvio`)."""
    from lowswitch.campaign.csvio import check_writable, write_csv

    check_writable(path, "out", overwrite=True)
    frame = history(camp).rename(columns={"value": camp.objective})
    return write_csv(frame, path, escape_formulas=escape_formulas)


def status(camp: Campaign) -> dict[str, Any]:
    """Counts of the campaign: plates, experiments by status, switches, replicates.

    Returns:
        JSON-safe dict with ``plates``, ``experiments`` (pending/done/failed),
        ``measurements`` (every recorded well result, failed ones included),
        ``failed_measurements``, ``switches`` (blocks handed out), ``conditions_tried``
        (distinct conditions with a successful measurement), ``replicates_per_condition``
        (mean), ``candidates``.
    """
    with camp.storage.engine.connect() as conn:
        row = read_campaign(conn, camp.name)
        counts: dict[str, int] = dict(
            conn.execute(  # type: ignore[arg-type]
                select(experiments_table.c.status, func.count())
                .where(experiments_table.c.campaign_id == camp.id)
                .group_by(experiments_table.c.status)
            ).all()
        )
        blocks = conn.execute(
            select(func.count()).select_from(
                select(experiments_table.c.plate, experiments_table.c.block)
                .where(experiments_table.c.campaign_id == camp.id)
                .distinct()
                .subquery()
            )
        ).scalar_one()
        obs_idx, _ = observations(conn, camp.id)
        n_meas = conn.execute(
            select(func.count()).where(measurements_table.c.campaign_id == camp.id)
        ).scalar_one()
        n_failed = conn.execute(
            select(func.count()).where(
                measurements_table.c.campaign_id == camp.id, measurements_table.c.failed
            )
        ).scalar_one()
    tried = len(set(obs_idx))
    return {
        "name": camp.name,
        "candidates": len(camp.candidates),
        "plates": int(row["n_plates"]),
        "experiments": {s: int(counts.get(s, 0)) for s in ("pending", "done", "failed")},
        "measurements": int(n_meas),
        "failed_measurements": int(n_failed),
        "switches": int(blocks),
        "conditions_tried": tried,
        "replicates_per_condition": (len(obs_idx) / tried) if tried else 0.0,
    }

def best(camp: Campaign, k: int = 5, level: float = 0.95) -> pd.DataFrame:
    """Posterior mean and credible interval of the best measured conditions.

    Fits the unique-point GP (hyperparameters by exact marginal likelihood) on all
    successful measurements and ranks the measured conditions by posterior mean of the
    objective (``level`` interval of the mean response, not of a single new well).

    Args:
        k: number of conditions to return.
        level: central credible level of the interval.

    Returns:
        DataFrame (best first): the inputs, ``mean``, ``lower``, ``upper``, ``sd``,
        ``n`` (replicates), ``observed_mean``, ``observed_sd``.
    """
    from scipy.stats import norm

    from lowswitch.campaign.model import posterior_at_measured

    with camp.storage.engine.connect() as conn:
        obs_idx, obs_y = observations(conn, camp.id)
    if not obs_idx:
        return pd.DataFrame(
            columns=[*camp.inputs, "mean", "lower", "upper", "sd", "n", "observed_mean",
                     "observed_sd"]
        )
    idx, mean, sd = posterior_at_measured(camp.features, obs_idx, obs_y)
    z = float(norm.ppf(0.5 + level / 2))
    sign = -1.0 if camp.direction == "maximize" else 1.0
    order = sorted(range(len(idx)), key=lambda j: (sign * mean[j], idx[j]))[:k]
    groups: dict[int, list[float]] = {}
    for i, y in zip(obs_idx, obs_y, strict=True):
        groups.setdefault(i, []).append(y)
    records = []
    for j in order:
        ys = groups[idx[j]]
        n = len(ys)
        mu = sum(ys) / n
        sdv = math.sqrt(sum((y - mu) ** 2 for y in ys) / (n - 1)) if n > 1 else float("nan")
        rec: dict[str, Any] = {c: camp.candidates[idx[j]][c] for c in camp.inputs}
        rec.update({"mean": mean[j], "lower": mean[j] - z * sd[j], "upper": mean[j] + z * sd[j],
                    "sd": sd[j], "n": n, "observed_mean": mu, "observed_sd": sdv})
        records.append(rec)
    return pd.DataFrame.from_records(records)


__all__ = ["best", "export_csv", "history", "observations", "status"]
