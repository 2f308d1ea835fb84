"""``python -m lowswitch.benchmark campaign``: simulated plate campaigns on the aryl halide screen.

Setting (stated in every output): the 4,599 conditions of the Buchwald-Hartwig screen are the
candidates (one-hot encoded, 47 features); a well returns the screen's yield plus Gaussian
replicate noise (sd ``--noise-sd``, default 5 yield points), clipped to [0, 100]. Each run
fills ``--plates`` plates of ``--slots`` wells with the campaign planner
([`lowswitch.campaign.planner.plan_plate`][lowswitch.campaign.planner.plan_plate], the code behind
``Campaign.suggest``, here without the database) and records the plate before planning the next.

Methods:

* ``low-switch C=2`` / ``C=4``: GP-UCB low-switch policy, the switch rule decides the
  replicates; initial plate: ``max(4, slots // 3)`` random conditions sharing the wells;
* ``low-switch C=2, cap``: the same with at most ``max(2, slots // 4)`` conditions per plate
  (spare wells become replicates, as a lab would run it);
* ``low-switch C=2, s=10``: the same as ``C=2`` with a switch cost of 10 wells per new
  condition (the planner repeats a condition while one more well there yields more
  information than setting up a fresh one would);
* ``one-shot BO (C=1)``: the same GP-UCB with C = 1, i.e. one well per condition (GP-BUCB
  batches); initial plate: ``slots`` random conditions;
* ``random``: ``slots`` random distinct conditions per plate.

After every plate the recommendation is the measured condition with the best GP posterior
mean (hyperparameters from the last fit); reported: its *true* yield, the best true yield
among tested conditions, wells, switches (one per condition per plate) and planning time.
"Reaching the target" means the recommendation's true yield is within ``--target-gap``
(default 5) of the best yield in the screen. Cost models: wells + s x switches.

Example:
    >>> main(["--quick", "--out", "bench-campaign", "--no-plot"])
    target: recommendation's true yield >= ...
    wrote bench-campaign/results.json
    0
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lowswitch.campaign.encoding import encode_rows, table_space
from lowswitch.campaign.planner import Fit, PlanConfig, plan_plate
from lowswitch.campaign.posterior import fit_hyper, posterior_at_measured
from lowswitch.campaign.simulate import ARYL_HALIDE_INPUTS, aryl_halide_table
from lowswitch.campaign.tables import validate_candidates
from lowswitch.policies.beta import IGPUCBBeta
from lowswitch.policies.config import PolicyConfig

METHODS: dict[str, dict[str, Any]] = {
    "low-switch C=2": {"policy": "ucb", "switch_threshold": 2.0},
    "low-switch C=4": {"policy": "ucb", "switch_threshold": 4.0},
    "low-switch C=2, cap": {"policy": "ucb", "switch_threshold": 2.0, "cap": True},
    "low-switch C=2, s=10": {"policy": "ucb", "switch_threshold": 2.0, "switch_cost": 10.0},
    "one-shot BO (C=1)": {"policy": "ucb", "switch_threshold": 1.0},
    "random": {"policy": "random"},
}
COST_MODELS = (0.0, 1.0, 10.0)


def screen(quick: bool) -> tuple[torch.Tensor, np.ndarray]:
    """Encoded candidates (m, 47) and true yields (m,); ``quick``: a 144-condition slice."""
    table = aryl_halide_table()
    if quick:
        halides = sorted(table["aryl_halide"].unique())[:3]
        additives = sorted(table["additive"].unique())[:4]
        table = table[table["aryl_halide"].isin(halides) & table["additive"].isin(additives)]
    inputs = list(ARYL_HALIDE_INPUTS)
    rows = validate_candidates(table, inputs)
    X = encode_rows(rows, table_space(rows, inputs))
    return X, table["yield"].to_numpy(dtype=np.float64)


def plan_config(
    method: str, slots: int, seed: int, ucb_scale: float | None = None
) -> PlanConfig:
    """The planner settings of a method for plates of ``slots`` wells.

    ``ucb_scale``: the IGP-UCB shrink factor the UCB methods plan with (None: the
    planner's default, ``PLATE_UCB_SCALE``); other methods ignore it.
    """
    spec = METHODS[method]
    one_per_well = spec["policy"] == "random" or spec["switch_threshold"] == 1.0
    options = {}
    if ucb_scale is not None and spec["policy"] == "ucb":
        options["beta"] = IGPUCBBeta(scale=float(ucb_scale))
    return PlanConfig(
        policy=spec["policy"],
        config=PolicyConfig(
            switch_threshold=float(spec.get("switch_threshold", 2.0)),
            seed=seed,
            switch_cost=float(spec.get("switch_cost", 0.0)),
            options=options,
        ),
        max_conditions=max(2, slots // 4) if spec.get("cap") else None,
        initial_conditions=slots if one_per_well else max(4, slots // 3),
    )


def simulate(
    method: str, slots: int, plates: int, seed: int, noise_sd: float, quick: bool,
    ucb_scale: float | None = None,
) -> dict[str, Any]:
    """One simulated campaign; curves are per plate (after recording it)."""
    torch.set_num_threads(1)
    X, truth = screen(quick)
    cfg = plan_config(method, slots, seed, ucb_scale)
    box = torch.stack([torch.zeros(X.shape[1]), torch.ones(X.shape[1])]).to(X)
    lab = np.random.default_rng([seed, slots, 12345])
    idx: list[int] = []
    ys: list[float] = []
    fit: Fit | None = None
    rec_fit: tuple[int, dict[str, Any]] | None = None
    curve: dict[str, list[float]] = {k: [] for k in (
        "wells", "switches", "rec_true", "best_tested_true", "plan_s", "max_replicates")}
    switches = 0
    expected: int | None = None
    for plate in range(1, plates + 1):
        t0 = time.perf_counter()
        blocks, new_fit = plan_plate(X, idx, ys, {}, slots, cfg, plate, handed_out=set(idx),
                                     bounds=box, fit=fit, expected_blocks=expected)
        curve["plan_s"].append(time.perf_counter() - t0)
        fit = new_fit or fit
        for b in blocks:
            noise = noise_sd * lab.standard_normal(b.replicates)
            values = np.clip(truth[b.candidate] + noise, 0.0, 100.0)
            idx.extend([b.candidate] * b.replicates)
            ys.extend(values.tolist())
        switches += len(blocks)
        expected = len(blocks) + 1
        # recommendation: best posterior mean among measured conditions
        q = len(set(idx))
        if fit is not None:
            hyper = fit.hyper
        else:
            if rec_fit is None or q >= 1.2 * rec_fit[0]:
                rec_fit = (q, fit_hyper(X, idx, ys))
            hyper = rec_fit[1]
        cand, mean, _ = posterior_at_measured(X, idx, ys, hyper)
        rec = cand[int(np.argmax(mean))]
        curve["wells"].append(len(idx))
        curve["switches"].append(switches)
        curve["rec_true"].append(float(truth[rec]))
        curve["best_tested_true"].append(float(truth[sorted(set(idx))].max()))
        curve["max_replicates"].append(max(b.replicates for b in blocks))
    return {"method": method, "slots": slots, "seed": seed, "curve": curve,
            "seconds": sum(curve["plan_s"])}


def first_reach(run: dict[str, Any], target: float, key: str) -> float:
    """``key`` (wells / switches / a cost) at the first plate whose recommendation hits target."""
    for t, value in enumerate(run["curve"]["rec_true"]):
        if value >= target:
            return float(run["curve"][key][t]) if key in run["curve"] else float(
                run["curve"]["wells"][t] + float(key) * run["curve"]["switches"][t])
    return math.inf


def summarise(runs: list[dict[str, Any]], target: float) -> list[dict[str, Any]]:
    """Median over seeds per (method, slots)."""
    rows = []
    keys = sorted({(r["slots"], r["method"]) for r in runs},
                  key=lambda k: (k[0], list(METHODS).index(k[1])))
    for slots, method in keys:
        group = [r for r in runs if r["slots"] == slots and r["method"] == method]
        reached = [first_reach(r, target, "rec_true") < math.inf for r in group]

        def med(values: Sequence[float]) -> float:
            return float(statistics.median(values))

        row = {
            "slots": slots,
            "method": method,
            "seeds": len(group),
            "reached": f"{sum(reached)}/{len(group)}",
            "switches_to_target": med([first_reach(r, target, "switches") for r in group]),
            "wells_to_target": med([first_reach(r, target, "wells") for r in group]),
            **{f"cost_to_target_s{s:g}": med([first_reach(r, target, str(s)) for r in group])
               for s in COST_MODELS},
            "final_rec_true": med([r["curve"]["rec_true"][-1] for r in group]),
            "final_best_tested": med([r["curve"]["best_tested_true"][-1] for r in group]),
            "final_switches": med([r["curve"]["switches"][-1] for r in group]),
            "final_wells": med([r["curve"]["wells"][-1] for r in group]),
            "plan_s_median": med([statistics.median(r["curve"]["plan_s"]) for r in group]),
        }
        rows.append(row)
    return rows


def speed_check(n_experiments: int = 2000, slots: int = 24, seed: int = 0) -> dict[str, float]:
    """Time ``Campaign.suggest`` on a stored campaign with ``n_experiments`` recorded wells.

    The history (about 4 replicates per condition, noise sd 5) is imported in one file; the
    first suggest fits the GP from scratch, the next (after recording that plate) reuses or
    warm-starts the stored fit, as every later plate of a real campaign does.
    """
    import tempfile

    import pandas as pd

    from lowswitch.campaign.campaign import Campaign
    from lowswitch.campaign.simulate import SimulatedLab

    torch.set_num_threads(1)
    table = aryl_halide_table()
    inputs = list(ARYL_HALIDE_INPUTS)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(table), size=n_experiments // 4, replace=False)
    hist = table.iloc[np.repeat(picks, 4)].reset_index(drop=True)
    hist["yield"] = np.clip(hist["yield"] + 5.0 * rng.standard_normal(len(hist)), 0, 100)
    with tempfile.TemporaryDirectory() as tmp:
        camp = Campaign.create(Path(tmp) / "speed.db", "speed", table.drop(columns="yield"),
                               inputs=inputs, objective="yield", seed=seed)
        camp.import_history(hist.astype({"yield": str}))
        lab = SimulatedLab(table, inputs, "yield", seed=seed)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            plate = camp.suggest(slots)
            times.append(time.perf_counter() - t0)
            camp.record(lab.measure(plate))
        n = camp.status()["measurements"]
        del pd
    return {"experiments": float(n_experiments), "first_suggest_s": times[0],
            "next_suggest_s": float(statistics.median(times[1:])), "final_measurements": n}


def plot(runs: list[dict[str, Any]], best: float, target: float, path: Path) -> None:
    """Best true yield (median over seeds) vs wells, vs switches and vs cost (s = 10)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slot_sizes = sorted({r["slots"] for r in runs})
    fig, axes = plt.subplots(len(slot_sizes), 3, figsize=(15, 4.2 * len(slot_sizes)),
                             squeeze=False, layout="constrained")
    for row, slots in enumerate(slot_sizes):
        for k, method in enumerate(METHODS):
            group = [r for r in runs if r["slots"] == slots and r["method"] == method]
            if not group:
                continue
            rec = np.median([r["curve"]["rec_true"] for r in group], axis=0)
            for col, xkey in enumerate(("wells", "switches", "cost")):
                if xkey == "cost":
                    xs = np.median([np.asarray(r["curve"]["wells"]) + 10.0 * np.asarray(
                        r["curve"]["switches"]) for r in group], axis=0)
                else:
                    xs = np.median([r["curve"][xkey] for r in group], axis=0)
                axes[row, col].plot(xs, rec, "-o", ms=3, color=f"C{k}", label=method)
        for col, label in enumerate(("wells (experiments)", "switches (condition set-ups)",
                                     "cost = wells + 10 x switches")):
            ax = axes[row, col]
            ax.axhline(best, color="k", lw=0.8, ls=":")
            ax.axhline(target, color="0.5", lw=0.8, ls="--")
            ax.set(xlabel=label, ylabel="true yield of recommendation",
                   title=f"plates of {slots} wells (median over seeds)")
            if col == 1:
                ax.set_xscale("log")
        axes[row, 0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Aryl halide screen, replicate noise sd 5: recommended condition's true yield")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(rows: list[dict[str, Any]]) -> str:
    cols = ["slots", "method", "seeds", "reached", "switches_to_target", "wells_to_target",
            *[f"cost_to_target_s{s:g}" for s in COST_MODELS], "final_rec_true",
            "final_switches", "plan_s_median"]
    lines = [" | ".join(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.1f}" if isinstance(v, float) and math.isfinite(v) else
                         ("never" if isinstance(v, float) else str(v)))
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lowswitch.benchmark campaign",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, nargs="+", default=[8, 24])
    parser.add_argument("--wells", type=int, default=192, help="wells per run (budget)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--noise-sd", type=float, default=5.0)
    parser.add_argument("--target-gap", type=float, default=5.0)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--speed-experiments", type=int, default=2000,
                        help="campaign size for the suggest timing (0: skip)")
    parser.add_argument("--quick", action="store_true",
                        help="144-condition slice, 1 seed, 3 plates of 8, no timing (tests)")
    parser.add_argument("--out", type=Path, default=Path("results/campaign"))
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--ucb-scale", type=float, default=None,
                        help="IGP-UCB shrink factor for the UCB methods (default: the "
                             "planner's, 0.2)")
    args = parser.parse_args(argv)
    if args.ucb_scale is not None and not (math.isfinite(args.ucb_scale) and args.ucb_scale > 0):
        parser.error(f"--ucb-scale: expected a number > 0, got {args.ucb_scale}")
    if args.quick:
        args.slots, args.wells, args.seeds, args.speed_experiments = [8], 24, 1, 0
    args.out.mkdir(parents=True, exist_ok=True)
    _, truth = screen(args.quick)
    best = float(truth.max())
    target = best - args.target_gap
    jobs = [(m, s, max(1, args.wells // s), seed, args.noise_sd, args.quick, args.ucb_scale)
            for s in args.slots for m in args.methods for seed in range(args.seeds)]
    from tqdm import tqdm

    t0 = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(simulate, *job) for job in jobs]
            for f in tqdm(as_completed(futures), total=len(futures), desc="campaigns"):
                f.result()
            runs = [f.result() for f in futures]
    else:
        runs = [simulate(*job) for job in tqdm(jobs, desc="campaigns")]
    rows = summarise(runs, target)
    speed = speed_check(args.speed_experiments) if args.speed_experiments else None
    result = {
        "setting": {"screen": "aryl halide (Ahneman et al. 2018)", "candidates": len(truth),
                    "noise": f"Gaussian sd {args.noise_sd:g}, clipped to [0, 100]",
                    "best_yield": best, "target": target, "wells_per_run": args.wells,
                    "slots": args.slots, "seeds": args.seeds, "quick": args.quick,
                    "ucb_scale": args.ucb_scale,
                    "cost_models": "cost = wells + s * switches, s in " + str(COST_MODELS),
                    "seconds": time.perf_counter() - t0},
        "summary": rows,
        "speed": speed,
        "runs": runs,
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=1, default=float))
    print(f"target: recommendation's true yield >= {target:.1f} (best {best:.1f}); medians over "
          f"{args.seeds} seed(s); 'never' = not within {args.wells} wells")
    print(_table(rows))
    if speed:
        print(f"suggest on a {int(speed['experiments'])}-experiment campaign: first (fit from "
              f"scratch) {speed['first_suggest_s']:.2f} s, next {speed['next_suggest_s']:.2f} s")
    if not args.no_plot:
        plot(runs, best, target, args.out / "campaign.png")
    print(f"wrote {args.out / 'results.json'}" + ("" if args.no_plot else
                                                   f" and {args.out / 'campaign.png'}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
