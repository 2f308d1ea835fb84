"""Read-only summaries of a campaign: history, export, status (accounting) and best conditions.

[`Campaign`][lowswitch.campaign.campaign.Campaign] exposes each of them as a method.

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

if TYPE_CHECKING:
    import pandas as pd

    from lowswitch.campaign.campaign import Campaign


def history(camp: Campaign) -> pd.DataFrame:
    """Every experiment with its measurements (one row per measurement; pending wells and
    wells without a measurement have an empty ``value``). Voided measurements stay, marked.

    Returns:
        DataFrame with experiment_id, plate, block, replicate, candidate, the inputs, status,
        value, failed, voided, void_reason, measurement_id, import_id.
    """
    with camp.store.read(camp.name) as tx:
        rows = tx.history()
    records = []
    for r in rows:
        record: dict[str, Any] = {
            "experiment_id": r[0], "plate": r[1], "block": r[2], "replicate": r[3],
            "candidate": r[4],
        }
        record.update({c: camp.candidates[r[4]][c] for c in camp.inputs})
        measured = r[8] is not None
        record.update(
            {"status": r[5], "value": r[6], "failed": bool(r[7]) if measured else None,
             "voided": (r[10] is not None) if measured else None, "void_reason": r[10],
             "measurement_id": r[8], "import_id": r[9]}
        )
        records.append(record)
    columns = ["experiment_id", "plate", "block", "replicate", "candidate", *camp.inputs,
               "status", "value", "failed", "voided", "void_reason", "measurement_id",
               "import_id"]
    import pandas as pd

    return pd.DataFrame.from_records(records, columns=columns)


def export_csv(
    camp: Campaign, path: str | os.PathLike[str], escape_formulas: bool = True
) -> Path:
    """Write [`history`][lowswitch.campaign.Campaign.history] to a CSV file (the objective column
    named as in the campaign),
    atomically, formula cells neutralised unless ``escape_formulas`` is False (see
    [`lowswitch.campaign.csvio`][lowswitch.campaign.csvio])."""
    from lowswitch.campaign.csvio import check_writable, write_csv

    check_writable(path, "out", overwrite=True)
    frame = history(camp).rename(columns={"value": camp.objective})
    return write_csv(frame, path, escape_formulas=escape_formulas)


def status(camp: Campaign) -> dict[str, Any]:
    """Counts of the campaign: plates, experiments by status, switches, replicates.

    No model is involved: these are counts of rows.

    Returns:
        JSON-safe dict with ``plates``, ``experiments`` (pending/done/failed),
        ``measurements`` (every recorded well result, failed and voided ones included),
        ``failed_measurements``, ``voided_measurements``, ``switches`` (blocks handed out),
        ``conditions_tried`` (distinct conditions with a successful, not voided measurement),
        ``replicates_per_condition`` (mean), ``candidates``.
    """
    with camp.store.read(camp.name) as tx:
        counts = tx.counts()
        obs_idx, _ = tx.observations()
        n_plates = tx.n_plates
    tried = len(set(obs_idx))
    return {
        "name": camp.name,
        "candidates": len(camp.candidates),
        "plates": n_plates,
        "experiments": {s: counts["experiments"].get(s, 0) for s in ("pending", "done", "failed")},
        "measurements": counts["measurements"],
        "failed_measurements": counts["failed"],
        "voided_measurements": counts["voided"],
        "switches": counts["blocks"],
        "conditions_tried": tried,
        "replicates_per_condition": (len(obs_idx) / tried) if tried else 0.0,
    }


def best(camp: Campaign, k: int = 5, level: float = 0.95) -> pd.DataFrame:
    """Posterior mean and credible interval of the best measured conditions.

    The unique-point GP is conditioned on every successful, not voided measurement. Its
    hyperparameters are the campaign's last stored fit (the one ``suggest`` made) whenever
    ``suggest`` itself would reuse it, i.e. while the measured conditions have grown by less
    than the campaign's ``refit_growth`` since that fit; only otherwise (no fit yet, much new
    data, or a void dropped the fits) are they fitted here by exact marginal likelihood, which
    is the one expensive step. Measured conditions are ranked by posterior mean of the
    objective (``level`` interval of the mean response, not of a single new well).

    Args:
        k: number of conditions to return (>= 1).
        level: central credible level of the interval, in (0, 1).

    Returns:
        DataFrame (best first): the inputs, ``mean``, ``lower``, ``upper``, ``sd``,
        ``n`` (replicates), ``observed_mean``, ``observed_sd``.

    Raises:
        InputError: ``k`` or ``level`` out of range.
    """
    from lowswitch.errors import InputError

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k: expected an integer >= 1, got {k!r}")
    if not 0.0 < level < 1.0:
        raise InputError(f"level: expected a number in (0, 1), got {level!r}")
    import pandas as pd

    with camp.store.read(camp.name) as tx:
        obs_idx, obs_y = tx.observations()
        fit = tx.latest_fit()
    if not obs_idx:
        return pd.DataFrame(
            columns=[*camp.inputs, "mean", "lower", "upper", "sd", "n", "observed_mean",
                     "observed_sd"]
        )
    from scipy.stats import norm

    from lowswitch.campaign.posterior import posterior_at_measured, reusable_hyper

    # the stored fits model the objective with the policy's sign (-y when minimising)
    sign = 1.0 if camp.direction == "maximize" else -1.0
    hyper = reusable_hyper(fit, obs_idx, camp.plan_config.refit_growth)
    idx, mean_int, sd = posterior_at_measured(
        camp.features, obs_idx, [sign * y for y in obs_y], hyper
    )
    mean = [sign * m for m in mean_int]
    z = float(norm.ppf(0.5 + level / 2))
    order = sorted(range(len(idx)), key=lambda j: (-mean_int[j], idx[j]))[:k]
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


__all__ = ["best", "export_csv", "history", "status"]
