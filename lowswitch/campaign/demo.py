"""``lowswitch demo``: a simulated wet-lab campaign on the bundled aryl halide screen.

A chemist's loop, end to end, with the real storage and planner: the 4,599 conditions of the
Buchwald-Hartwig screen (Ahneman et al. 2018) are the candidates; a simulated lab returns the
screen's yield plus Gaussian replicate noise (sd 5 yield points, clipped to [0, 100]); every
plate is suggested, measured, recorded; at the end the GP's best conditions are compared with
the truth and a report (PNG + self-contained HTML) is written.

Example:
    >>> summary = run_demo(plates=2, slots=12, out="/tmp/lowswitch-demo-doctest", quiet=True)
    >>> summary["experiments"]
    24
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lowswitch.campaign.campaign import Campaign
from lowswitch.campaign.report import write_report
from lowswitch.campaign.simulate import ARYL_HALIDE_INPUTS, SimulatedLab, aryl_halide_table


def run_demo(
    plates: int = 8,
    slots: int = 24,
    noise_sd: float = 5.0,
    seed: int = 0,
    out: str | os.PathLike[str] = "results/demo",
    storage: str | None = None,
    policy: str = "ucb",
    switch_threshold: float = 2.0,
    max_conditions: int | None = 8,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the simulated campaign and write its report.

    Args:
        plates: rounds of suggest -> measure -> record.
        slots: wells per plate.
        noise_sd: sd of the Gaussian replicate noise (yield points).
        seed: seed of the campaign and of the simulated noise.
        out: folder for the database (when ``storage`` is None) and the report.
        storage: database URL; default a fresh SQLite file ``out/demo.db``.
        policy: campaign policy: a registered name (``ucb``, ``ei``, ``ts``, ...) or
            ``random``.
        switch_threshold: C of the switch rule.
        max_conditions: cap on distinct conditions per plate.
        quiet: print nothing.

    Returns:
        Summary: experiments, switches, best conditions with their true yields, paths.
    """
    from rich.console import Console
    from rich.table import Table

    console = Console(quiet=quiet)
    start = time.perf_counter()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if storage is None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (out_dir / f"demo.db{suffix}").unlink(missing_ok=True)
        storage = str(out_dir / "demo.db")
    truth = aryl_halide_table()
    inputs = list(ARYL_HALIDE_INPUTS)
    lab = SimulatedLab(truth, inputs, "yield", noise_sd=noise_sd, seed=seed + 1)
    name = f"aryl-halide-demo-{seed}"
    console.print(
        f"[bold]lowswitch demo[/bold]: Buchwald-Hartwig screen, {len(truth)} candidate conditions "
        f"({', '.join(inputs)}); simulated wells = true yield + N(0, {noise_sd:g}^2), "
        f"clipped to [0, 100]; {plates} plates x {slots} wells; policy {policy} "
        f"(C = {switch_threshold:g}); storage {storage}"
    )
    camp = Campaign.create(
        storage, name, truth.drop(columns="yield"), inputs=inputs, objective="yield",
        seed=seed, policy=policy, switch_threshold=switch_threshold,
        max_conditions=max_conditions,
    )
    table = Table(title="plates")
    for col in ("plate", "wells", "conditions", "replicates", "best mean so far",
                "its true yield", "suggest s"):
        table.add_column(col, justify="right")
    best_mean: dict[tuple[str, ...], list[float]] = {}
    for p in range(1, plates + 1):
        t0 = time.perf_counter()
        plate = camp.suggest(slots)
        t_suggest = time.perf_counter() - t0
        results = lab.measure(plate)
        camp.record(results, source=f"simulated plate {p}")
        for row in results[[*inputs, "yield"]].to_dict("records"):
            best_mean.setdefault(lab.key(row), []).append(float(row["yield"]))
        key = max(best_mean, key=lambda k: sum(best_mean[k]) / len(best_mean[k]))
        mean = sum(best_mean[key]) / len(best_mean[key])
        true = lab.true_value(dict(zip(inputs, key, strict=True)))
        reps = "/".join(str(n) for n in plate.groupby("block").size().tolist())
        table.add_row(str(p), str(len(plate)), str(plate["block"].nunique()), reps,
                      f"{mean:.1f}", f"{true:.1f}", f"{t_suggest:.2f}")
        console.print(f"plate {p}/{plates}: {plate['block'].nunique()} conditions, replicates "
                      f"{reps}; best condition mean so far {mean:.1f} (true {true:.1f})")
    console.print(table)
    top = camp.best(k=5)
    top["true_yield"] = [lab.true_value(r) for r in top[inputs].to_dict("records")]
    info = camp.status()
    paths = write_report(camp, out_dir)
    best_true = float(top["true_yield"].iloc[0]) if len(top) else float("nan")
    summary = {
        "experiments": info["experiments"]["done"] + info["experiments"]["failed"],
        "switches": info["switches"],
        "conditions_tried": info["conditions_tried"],
        "screen_best_yield": lab.best_value,
        "recommended_true_yield": best_true,
        "best": top.to_dict("records"),
        "report": {k: str(v) for k, v in paths.items()},
        "seconds": time.perf_counter() - start,
    }
    result = Table(title="best conditions (GP posterior mean, 95% interval) vs truth")
    for col in (*inputs, "mean", "interval", "n", "true"):
        result.add_column(col, justify="right" if col in ("mean", "n", "true") else "left")
    for r in top.to_dict("records"):
        result.add_row(*[str(r[c]) for c in inputs], f"{r['mean']:.1f}",
                       f"[{r['lower']:.1f}, {r['upper']:.1f}]", str(r["n"]),
                       f"{r['true_yield']:.1f}")
    console.print(result)
    console.print(
        f"{summary['experiments']} wells, {summary['switches']} switches (condition set-ups), "
        f"{summary['conditions_tried']} distinct conditions of {len(truth)}. Recommended "
        f"condition's true yield {best_true:.1f} (best in the screen "
        f"{lab.best_value:.1f}). Report: {paths['html']} and {paths['png']} "
        f"({summary['seconds']:.0f} s)."
    )
    return summary


__all__ = ["run_demo"]
