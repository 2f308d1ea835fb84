"""Plots of a tuning run: best-so-far vs evaluations and vs wall time, switches over time.

Example:
    >>> from lowswitch.space import Space, Float
    >>> from lowswitch.tune import minimize
    >>> res = minimize(lambda c, r: c["x"] ** 2, Space({"x": Float(-1.0, 1.0)}), budget=6,
    ...                progress=False)
    >>> fig = plot_result(res)
    >>> len(fig.axes)
    3
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from lowswitch.tune.minimize import TuneResult


def plot_result(result: TuneResult, path: str | None = None) -> Any:
    """Draw the three panels of a [`TuneResult`][lowswitch.tune.minimize.TuneResult].

    Args:
        result: the run to plot.
        path: optional PNG file to write.

    Returns:
        The ``matplotlib.figure.Figure`` (Agg backend, nothing is shown).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    df = result.trials.sort_values("t_end", kind="stable")
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    n = range(1, len(df) + 1)
    label = "best config mean so far"
    ax1.plot(list(n), df["best_so_far"].to_numpy(), drawstyle="steps-post", label=label)
    ax1.set_xlabel("evaluations")
    ax1.set_ylabel(f"objective ({result.direction})")
    ax1.set_title("best so far vs evaluations")
    ax2.plot(df["t_end"].to_numpy(), df["best_so_far"].to_numpy(), drawstyle="steps-post")
    ax2.set_xlabel("wall time (s)")
    ax2.set_title("best so far vs wall time")
    switches = df["switch"].astype(int).cumsum().to_numpy()
    ax3.plot(df["t_end"].to_numpy(), switches, drawstyle="steps-post", label="switches")
    ax3.plot(df["t_end"].to_numpy(), list(n), drawstyle="steps-post", label="evaluations",
             alpha=0.6)
    ax3.set_xlabel("wall time (s)")
    ax3.set_title(f"{result.n_switches} switches / {len(df)} evaluations")
    ax3.legend(loc="upper left")
    ok = df[df["status"] == "complete"]
    if len(ok):
        ax1.scatter(ok.index.map(lambda i: list(df.index).index(i) + 1), ok["value"],
                    s=6, alpha=0.3, color="grey", label="observations")
        ax1.legend(loc="upper right")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


__all__ = ["plot_result"]
