"""Statistics, table and plots of the GRPO study (numpy + matplotlib; no TRL needed).

A *curve* is a list of evaluation points ``{"step", "rollouts", "wall_s", "heldout",
"pool"}`` in training order. Runs that never reach the target count as censored
(``inf`` rollouts): medians and bootstrap intervals treat them as larger than any budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "accuracy_at",
    "bootstrap_median_ci",
    "calibration_bins",
    "format_levels",
    "format_table",
    "rollouts_to_target",
    "summarise",
]


def rollouts_to_target(curve: Sequence[dict[str, float]], target: float,
                       key: str = "heldout") -> float:
    """Rollouts at the first evaluation whose ``key`` accuracy is ``>= target`` (else inf).

    Example:
        >>> rollouts_to_target([{"rollouts": 0, "heldout": 0.2},
        ...                     {"rollouts": 64, "heldout": 0.5}], 0.4)
        64.0
    """
    for point in curve:
        if point[key] >= target:
            return float(point["rollouts"])
    return math.inf


def accuracy_at(curve: Sequence[dict[str, float]], rollouts: float,
                key: str = "heldout") -> float:
    """Accuracy at ``rollouts`` by linear interpolation between evaluation points.

    NaN beyond the curve's last point (the run did not spend that many rollouts).

    Example:
        >>> accuracy_at([{"rollouts": 0, "heldout": 0.2}, {"rollouts": 100, "heldout": 0.4}], 50)
        0.3
    """
    x = np.array([p["rollouts"] for p in curve], dtype=np.float64)
    y = np.array([p[key] for p in curve], dtype=np.float64)
    if rollouts > x[-1] + 1e-9 or rollouts < x[0]:
        return math.nan
    return float(round(np.interp(rollouts, x, y), 12))


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else math.nan


def bootstrap_median_ci(values: Sequence[float], n_boot: int = 2000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float, float]:
    """Median of ``values`` and a percentile bootstrap interval (resampling the seeds).

    ``inf`` (censored) values take part as ``+inf``; a bound may then be ``inf``.

    Example:
        >>> m, lo, hi = bootstrap_median_ci([1.0, 2.0, 3.0, 4.0, 5.0])
        >>> m, lo <= m <= hi
        (3.0, True)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boots = np.median(v[rng.integers(0, v.size, size=(n_boot, v.size))], axis=1)
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(boots, [tail, 1.0 - tail], method="inverted_cdf")
    return _median(v), float(lo), float(hi)


def calibration_bins(pairs: Sequence[tuple[float, float]], n_bins: int = 8
                     ) -> list[dict[str, float]]:
    """Mean predicted vs mean observed success per bin of equal prediction width.

    Example:
        >>> calibration_bins([(0.1, 0.0), (0.15, 0.25), (0.9, 1.0)], n_bins=2)[0]["observed"]
        0.125
    """
    out = []
    arr = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(arr[:, 0], edges) - 1, 0, n_bins - 1)
    for b in range(n_bins):
        sel = arr[which == b]
        if sel.size:
            out.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": len(sel),
                        "predicted": float(sel[:, 0].mean()), "observed": float(sel[:, 1].mean())})
    return out


def summarise(runs: Sequence[dict[str, Any]], gain: float, budget: float,
              gain_sampled: float | None = None) -> dict[str, dict[str, Any]]:
    """Per method, over seeds: rollouts to the target (median, 95% CI, reached), accuracy at
    ``budget`` rollouts, informative fraction, Spearman, step time (medians).

    The target of a run is its starting held-out accuracy plus ``gain`` (all methods of one
    seed share the start: same warm start, same held-out set); with ``gain_sampled`` the same
    for the sampled held-out success (``"heldout_sampled"`` in the curve).
    """
    by_method: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_method.setdefault(run["method"], []).append(run)
    table: dict[str, dict[str, Any]] = {}
    for method, rs in by_method.items():
        r2t = [rollouts_to_target(r["curve"], r["curve"][0]["heldout"] + gain) for r in rs]
        med, lo, hi = bootstrap_median_ci(r2t)
        acc = [accuracy_at(r["curve"], budget) for r in rs]
        pool = [accuracy_at(r["curve"], budget, key="pool") for r in rs]
        row: dict[str, Any] = {
            "seeds": len(rs), "reached": int(np.isfinite(r2t).sum()),
            "rollouts_to_target": med, "ci_low": lo, "ci_high": hi, "per_seed": r2t,
            "heldout_at_budget": _nanmedian(acc), "pool_at_budget": _nanmedian(pool),
            "heldout_start": float(np.median([r["curve"][0]["heldout"] for r in rs])),
            "informative_fraction": float(np.median([r["informative_fraction"] for r in rs])),
            "step_seconds": float(np.median([r["step_seconds"] for r in rs])),
            "spearman": _nanmedian([r.get("spearman", math.nan) for r in rs]),
        }
        if gain_sampled is not None and "heldout_sampled" in rs[0]["curve"][0]:
            r2s = [rollouts_to_target(r["curve"], r["curve"][0]["heldout_sampled"] + gain_sampled,
                                      key="heldout_sampled") for r in rs]
            m2, lo2, hi2 = bootstrap_median_ci(r2s)
            row.update({"rollouts_to_target_sampled": m2, "ci_low_sampled": lo2,
                        "ci_high_sampled": hi2, "per_seed_sampled": r2s,
                        "sampled_at_budget": _nanmedian(
                            [accuracy_at(r["curve"], budget, key="heldout_sampled") for r in rs])})
        table[method] = row
    return table


def _nanmedian(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else math.nan


def _fmt(x: float, spec: str = ",.0f") -> str:
    if isinstance(x, float) and math.isnan(x):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "never"
    return format(x, spec)


def format_table(table: dict[str, dict[str, Any]], gain: float, budget: float,
                 gain_sampled: float | None = None) -> str:
    """Plain-text table (also valid Markdown)."""
    sampled = gain_sampled is not None and all("rollouts_to_target_sampled" in r
                                                for r in table.values())
    head = (f"| method | rollouts to held-out +{gain:.2f} (median [95% CI]) | reached | "
            f"held-out at {budget:,.0f} | pool at {budget:,.0f} | ")
    if sampled:
        head += (f"rollouts to sampled +{gain_sampled:.2f} [95% CI] | reached | "
                 f"sampled at {budget:,.0f} | ")
    head += "informative | Spearman | s/step |"
    lines = [head, "|" + "---|" * (head.count(" | ") + 1)]
    for m, r in table.items():
        ci = f"{_fmt(r['rollouts_to_target'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        line = (f"| {m} | {ci} | {r['reached']}/{r['seeds']} | "
                f"{_fmt(r['heldout_at_budget'], '.3f')} | {_fmt(r['pool_at_budget'], '.3f')} | ")
        if sampled:
            reached = int(np.isfinite(r["per_seed_sampled"]).sum())
            line += (f"{_fmt(r['rollouts_to_target_sampled'])} [{_fmt(r['ci_low_sampled'])}, "
                     f"{_fmt(r['ci_high_sampled'])}] | {reached}/{r['seeds']} | "
                     f"{_fmt(r['sampled_at_budget'], '.3f')} | ")
        line += (f"{_fmt(r['informative_fraction'], '.2f')} | {_fmt(r['spearman'], '.2f')} | "
                 f"{_fmt(r['step_seconds'], '.2f')} |")
        lines.append(line)
    return "\n".join(lines)


def format_levels(runs: Sequence[dict[str, Any]], level_names: Sequence[str]) -> str:
    """Per method (summed over seeds): share of rolled-out groups per level, share of those
    groups with mixed rewards, and the median held-out greedy accuracy per level at the
    start and the end (Markdown)."""
    head = "| method | " + " | ".join(level_names) + " |"
    lines = [head, "|" + "---|" * (len(level_names) + 1)]
    by_method: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_method.setdefault(run["method"], []).append(run)
    first = next(iter(by_method.values()))
    start = np.median([r["curve"][0]["heldout_by_level"] for r in first], axis=0)
    lines.append("| held-out accuracy at start | "
                 + " | ".join(f"{a:.2f}" for a in start) + " |")
    for m, rs in by_method.items():
        groups = np.sum([r["groups_by_level"] for r in rs], axis=0)
        useful = np.sum([r["informative_by_level"] for r in rs], axis=0)
        end = np.median([r["curve"][-1]["heldout_by_level"] for r in rs], axis=0)
        cells = [f"{g / groups.sum():.2f} ({u / max(g, 1):.2f}) -> {e:.2f}"
                 for g, u, e in zip(groups, useful, end, strict=True)]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: Sequence[dict[str, Any]], path: str) -> None:
    """Median held-out and pool accuracy (greedy) vs rollouts and vs wall time, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("heldout", "pool", "heldout_sampled")
    fig, grid_axes = plt.subplots(2, 3, figsize=(15, 8))
    methods = sorted({r["method"] for r in runs}, key=[r["method"] for r in runs].index)
    for m in methods:
        rs = [r for r in runs if r["method"] == m]
        grid = np.array([p["rollouts"] for p in rs[0]["curve"]], dtype=np.float64)
        for col, key in enumerate(keys):
            if not all(np.isfinite(p.get(key, math.nan)) for p in rs[0]["curve"]):
                continue  # streaming runs have no fixed pool
            ys = np.array([[accuracy_at(r["curve"], x, key) for x in grid] for r in rs])
            grid_axes[0, col].plot(grid, np.nanmedian(ys, axis=0), label=m)
            # vs wall time: median over seeds at each evaluation point
            wall = np.median([[p["wall_s"] for p in r["curve"]] for r in rs], axis=0)
            acc = np.median([[p[key] for p in r["curve"]] for r in rs], axis=0)
            grid_axes[1, col].plot(wall, acc, label=m)
    names = ("held-out accuracy (greedy)", "pool accuracy (greedy)",
             "held-out success (sampled, T=1)")
    for col, name in enumerate(names):
        grid_axes[0, col].set_xlabel("rollouts")
        grid_axes[1, col].set_xlabel("training wall time (s)")
        for row in (0, 1):
            grid_axes[row, col].set_ylabel(name)
    axes = grid_axes.reshape(-1)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"GRPO study: median over {len({r['seed'] for r in runs})} seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_calibration(bins: Sequence[dict[str, float]], path: str, title: str) -> None:
    """Reliability diagram: mean observed vs mean predicted success per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], "o-")
    for b in bins:
        ax.annotate(str(b["n"]), (b["predicted"], b["observed"]), fontsize=7,
                    textcoords="offset points", xytext=(3, -9))
    ax.set_xlabel("predicted success rate (feature prior)")
    ax.set_ylabel("observed success, first group")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
