"""Campaign report: a PNG with four panels, a small self-contained HTML page and JSON.

Panels: best condition mean so far against experiments and against switches; replicate
spread of the most replicated conditions; posterior mean and interval of the best ones.
The HTML page embeds the PNG as base64, so it is a single file to mail around.

Example:
    >>> import pandas as pd, tempfile
    >>> from lowswitch.campaign import Campaign
    >>> c = Campaign.create("sqlite://", "r", pd.DataFrame({"x": list("abcd")}), ["x"], "y",
    ...                     initial_conditions=2)
    >>> plate = c.suggest(4); plate["y"] = [1, 2, 3, 4]; _ = c.record(plate)
    >>> paths = write_report(c, tempfile.mkdtemp())
    >>> sorted(p.suffix for p in paths.values())
    ['.csv', '.html', '.json', '.png']
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lowswitch.campaign.csvio import write_csv
from lowswitch.errors import InputError

if TYPE_CHECKING:
    from lowswitch.campaign.campaign import Campaign


def running_best(
    conditions: list[int], values: list[float], blocks: list[tuple[int, int]], maximize: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Best condition mean after each measurement, and the switches used so far.

    Args:
        conditions: candidate index of each measurement, in recording order (n,).
        values: measured values (n,).
        blocks: (plate, block) of each measurement (n,); a new pair is a switch.
        maximize: direction.

    Returns:
        best: (n,) best per-condition mean among the conditions measured so far;
        switches: (n,) distinct blocks among the measurements so far.

    Example:
        >>> b, s = running_best([0, 1, 1], [5.0, 9.0, 1.0], [(1, 1), (1, 2), (1, 2)], True)
        >>> b.tolist(), s.tolist()
        ([5.0, 9.0, 5.0], [1, 2, 2])
    """
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    seen: set[tuple[int, int]] = set()
    best = np.empty(len(values))
    switches = np.empty(len(values), dtype=np.int64)
    pick = max if maximize else min
    for t, (c, y, blk) in enumerate(zip(conditions, values, blocks, strict=True)):
        sums[c] = sums.get(c, 0.0) + y
        counts[c] = counts.get(c, 0) + 1
        seen.add(blk)
        best[t] = pick(sums[k] / counts[k] for k in sums)
        switches[t] = len(seen)
    return best, switches


def _figure(campaign: Campaign, hist: pd.DataFrame, top: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Names and category labels are user text: "$" must not switch to mathtext.
    with plt.rc_context({"text.parse_math": False}):
        _draw(plt, campaign, hist, top, path)


def _draw(plt: Any, campaign: Campaign, hist: pd.DataFrame, top: pd.DataFrame, path: Path) -> None:
    maximize = campaign.direction == "maximize"
    # what the model sees: successful, not voided measurements
    ok = hist[(hist["failed"] == False) & (hist["voided"] != True)  # noqa: E712
              & hist["value"].notna()]
    ok = ok.sort_values("measurement_id")
    fig = plt.figure(figsize=(13, 9), layout="constrained")
    upper, lower = fig.subfigures(2, 1)  # type: ignore[misc]
    ax1, ax2 = upper.subplots(1, 2)
    ax3, ax4 = lower.subplots(1, 2, width_ratios=[1.0, 1.25])
    title = f"Campaign {campaign.name!r}: {campaign.objective} ({campaign.direction})"
    fig.suptitle(title, fontsize=13)
    if len(ok):
        best, switches = running_best(
            ok["candidate"].astype(int).tolist(), ok["value"].astype(float).tolist(),
            list(zip(ok["plate"].astype(int), ok["block"].astype(int), strict=True)), maximize,
        )
        x = np.arange(1, len(best) + 1)
        # evaluated after each recorded file (a plate's results), as the chemist saw it
        ends = np.flatnonzero(np.r_[np.diff(ok["import_id"].to_numpy()) != 0, True])
        ax1.scatter(x, ok["value"], s=6, color="0.6", alpha=0.6, label="measurements")
        ax1.step(x[ends], best[ends], where="post", color="C0", lw=2,
                 label="best condition mean, after each recorded file")
        ax2.step(switches[ends], best[ends], where="post", color="C1", lw=2)
        ax2.plot(switches[ends], best[ends], "o", color="C1", ms=3)
        ax1.legend(loc="lower right" if maximize else "upper right", fontsize=8)
    ax1.set(xlabel="measurements (successful wells)", ylabel=campaign.objective,
            title="Best so far vs experiments")
    ax2.set(xlabel="switches (condition set-ups)", ylabel=campaign.objective,
            title="Best so far vs switches")
    # Replicate spread: the 15 most replicated conditions.
    if len(ok):
        groups = ok.groupby("candidate")["value"]
        stats = groups.agg(["count", "mean"]).sort_values(
            ["count", "mean"], ascending=[False, not maximize]).head(15)
        labels = []
        for pos, cand in enumerate(stats.index):
            ys = groups.get_group(cand).astype(float).to_numpy()
            jitter = (np.arange(len(ys)) - (len(ys) - 1) / 2) * 0.04
            ax3.scatter(np.full(len(ys), pos) + jitter, ys, s=14, color="C2", alpha=0.7)
            ax3.plot([pos - 0.3, pos + 0.3], [ys.mean()] * 2, color="k", lw=1.5)
            labels.append(f"#{cand} (n={len(ys)})")
        ax3.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax3.set(ylabel=campaign.objective, title="Replicate spread (most replicated conditions)")
    # Posterior of the best conditions.
    if len(top):
        rows = np.arange(len(top))
        err = [top["mean"] - top["lower"], top["upper"] - top["mean"]]
        ax4.errorbar(top["mean"], rows, xerr=err, fmt="o", color="C3", capsize=3,
                     label="posterior mean, 95% interval")
        ax4.scatter(top["observed_mean"], rows, marker="x", color="k", label="observed mean")
        names = [" / ".join(str(r[c]) for c in campaign.inputs) for _, r in top.iterrows()]
        ax4.set_yticks(rows, [n if len(n) < 60 else n[:57] + "..." for n in names], fontsize=7)
        ax4.invert_yaxis()
        ax4.legend(fontsize=8, loc="best")
    ax4.set(xlabel=campaign.objective, title="Best conditions (GP posterior)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _html_table(frame: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.2f}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(
    campaign: Campaign,
    out_dir: str | os.PathLike[str],
    k: int = 10,
    escape_formulas: bool = True,
) -> dict[str, Path]:
    """Write ``report.png``, ``report.html``, ``summary.json`` and ``history.csv``.

    Args:
        campaign: the campaign to report on.
        out_dir: output folder (created with its parents; files in it are replaced).
        k: number of best conditions listed.
        escape_formulas: neutralise spreadsheet formula cells in ``history.csv`` (see
            [`lowswitch.campaign.csvio`][lowswitch.campaign.csvio]).

    Returns:
        Mapping ``png`` / ``html`` / ``json`` / ``csv`` -> written path.

    Raises:
        InputError: ``out_dir`` is an existing file.

    Example:
        ```python
        from lowswitch.campaign import Campaign, write_report

        campaign = Campaign.open("sqlite:///lab.db", "screen-1")
        paths = write_report(campaign, "report/")
        print(paths["html"])  # report/report.html, the plot embedded
        ```
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"out: expected a folder for the report, got the file {str(out)!r}")
    out.mkdir(parents=True, exist_ok=True)
    hist = campaign.history()
    top = campaign.best(k=k)
    status = campaign.status()
    paths = {"png": out / "report.png", "html": out / "report.html",
             "json": out / "summary.json", "csv": out / "history.csv"}
    _figure(campaign, hist, top, paths["png"])
    write_csv(hist.rename(columns={"value": campaign.objective}), paths["csv"],
              escape_formulas=escape_formulas)
    summary = {"status": status, "best": json.loads(top.to_json(orient="records"))}
    paths["json"].write_text(json.dumps(summary, indent=2))
    image = base64.b64encode(paths["png"].read_bytes()).decode("ascii")
    status_rows = pd.DataFrame(
        [(key, json.dumps(val) if isinstance(val, dict) else val) for key, val in status.items()],
        columns=["quantity", "value"],
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lowswitch campaign {html.escape(campaign.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
img{{max-width:100%}}</style></head><body>
<h1>Campaign {html.escape(campaign.name)}</h1>
<p>Objective <b>{html.escape(campaign.objective)}</b> ({html.escape(campaign.direction)}),
inputs {html.escape(", ".join(campaign.inputs))}.</p>
<h2>Status</h2>{_html_table(status_rows)}
<h2>Best conditions (GP posterior mean, 95% interval)</h2>{_html_table(top)}
<h2>Figures</h2><img alt="campaign report" src="data:image/png;base64,{image}">
</body></html>
"""
    paths["html"].write_text(page)
    return paths


__all__ = ["running_best", "write_report"]
