"""Optimiser CPU time per evaluation, side by side, and the cost of one acquisition call.

Two measurements, both in CPU time (``time.process_time``, so other processes on a shared
machine inflate them far less than wall time) and both side by side in one process:

* ``runs``: each method of ``--methods`` on each problem of the noisy suite
  ([`lowswitch.benchmark.suite`][lowswitch.benchmark.suite]) for ``--budget`` evaluations and
  each seed, one after the other; reported per (problem, method): median CPU milliseconds
  per evaluation (everything but the objective: fits, acquisition, the harness's
  recommendation), switches, and the ratio to ``optuna-gp`` on the same problem and seed.
* ``acquisition``: a ``LogExpectedImprovement`` value and gradient at 4 points on a
  ``UniquePointGP`` with ``q`` unique points, through the model's single-point posterior
  and through BoTorch's general ``GPyTorchModel.posterior`` (the path it replaced), and on
  a ``SingleTaskGP`` with the same hyperparameters; medians of ``--reps`` blocks of 50 calls.

Prints two tables and writes ``opt_time.json`` in ``--out``.

Example:
    python -m lowswitch.benchmark opt-time --problems hartmann6 --budget 100 --seeds 1
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

DT = torch.float64


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lowswitch.benchmark opt-time", description=__doc__)
    p.add_argument("--problems", default="all", help="comma list of noisy-suite problems, or all")
    p.add_argument("--methods", default="ei-C2,ts-C2,ts-C2-vpathwise,optuna-gp")
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--q", type=int, default=50, help="unique points (acquisition part)")
    p.add_argument("--reps", type=int, default=7, help="blocks of 50 calls (acquisition part)")
    p.add_argument("--skip-runs", action="store_true", help="only the acquisition part")
    p.add_argument("--out", type=Path, default=Path("results/opt_time"))
    p.add_argument("--plot-from", action="append", default=[], metavar="LABEL=FILE:METHOD",
                   help="only draw opt_time.png in --out: one bar series per spec, the ratio "
                   "to GPSampler of METHOD in the summary of FILE (an opt_time.json); "
                   "repeatable, no timing is run")
    return p.parse_args(argv)


def parse_plot_spec(spec: str) -> tuple[str, Path, str]:
    """``"LABEL=FILE:METHOD"`` -> ``(LABEL, FILE, METHOD)`` (the last ``:`` splits).

    Example:
        >>> parse_plot_spec("TS now=results/a/opt_time.json:ts-C2")
        ('TS now', PosixPath('results/a/opt_time.json'), 'ts-C2')
    """
    label, sep, rest = spec.partition("=")
    path, sep2, method = rest.rpartition(":")
    if not (sep and sep2 and label.strip() and path.strip() and method.strip()):
        raise ValueError(f"--plot-from: expected LABEL=FILE:METHOD, got {spec!r}")
    return label.strip(), Path(path.strip()), method.strip()


def ratio_series(specs: list[str]) -> dict[str, dict[str, float]]:
    """``{label: {problem: ratio to GPSampler}}`` read from the summaries the specs name."""
    out: dict[str, dict[str, float]] = {}
    for spec in specs:
        label, path, method = parse_plot_spec(spec)
        rows = [r for r in json.loads(path.read_text()).get("summary", [])
                if r["method"] == method]
        if not rows:
            raise ValueError(f"--plot-from: no summary rows of {method!r} in {path}")
        out[label] = {r["problem"]: float(r["vs_reference"]) for r in rows}
    return out


def plot_ratios(series: dict[str, dict[str, float]], path: Path) -> None:
    """Grouped horizontal bars: per problem, each series' CPU time per evaluation over
    GPSampler's (log scale, a line at 1: right of it costs more than GPSampler)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = sorted({p for values in series.values() for p in values})
    height = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(problems) * max(1, len(series)) ** 0.5 + 2.2))
    for k, (label, values) in enumerate(series.items()):
        ys = [i + (k - (len(series) - 1) / 2) * height for i in range(len(problems))]
        ax.barh(ys, [values.get(p, float("nan")) for p in problems], height=height, label=label)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(problems)), problems)
    ax.invert_yaxis()
    ax.set_xlabel("optimiser CPU time per evaluation / Optuna GPSampler's (same run)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def time_runs(
    problems: list[str], methods: list[str], budget: int, seeds: int
) -> list[dict[str, Any]]:
    """CPU milliseconds per evaluation of each (problem, method, seed), run one after another."""
    from tqdm import tqdm

    from lowswitch.benchmark.bo import run_one
    from lowswitch.benchmark.suite import NOISY_SUITE

    jobs = [(p, s, m) for p in problems for s in range(seeds) for m in methods]
    out = []
    for p, seed, m in tqdm(jobs, desc="opt-time runs"):
        t0 = time.process_time()
        r = run_one(NOISY_SUITE[p].problem(), m, budget, seed)
        cpu = time.process_time() - t0
        out.append({"problem": p, "method": m, "seed": seed, "evaluations": r.evaluations,
                    "switches": r.switches, "simple_regret": r.simple_regret,
                    "cpu_ms_per_eval": 1e3 * cpu / max(1, r.evaluations)})
    return out


def summarise_runs(
    rows: list[dict[str, Any]], reference: str = "optuna-gp"
) -> list[dict[str, Any]]:
    """Medians per (problem, method), with the per-seed ratio to ``reference``.

    Example:
        >>> rows = [{"problem": "p", "method": m, "seed": 0, "switches": 3,
        ...          "cpu_ms_per_eval": v} for m, v in [("a", 10.0), ("optuna-gp", 40.0)]]
        >>> [(r["method"], r["vs_reference"]) for r in summarise_runs(rows)]
        [('a', 0.25), ('optuna-gp', 1.0)]
    """
    ref = {
        (r["problem"], r["seed"]): r["cpu_ms_per_eval"] for r in rows if r["method"] == reference
    }
    out = []
    for key in dict.fromkeys((r["problem"], r["method"]) for r in rows):
        rs = [r for r in rows if (r["problem"], r["method"]) == key]
        ratios = [r["cpu_ms_per_eval"] / ref[r["problem"], r["seed"]] for r in rs
                  if (r["problem"], r["seed"]) in ref]
        out.append({
            "problem": key[0], "method": key[1],
            "cpu_ms_per_eval": statistics.median(r["cpu_ms_per_eval"] for r in rs),
            "switches": statistics.median(r["switches"] for r in rs),
            "vs_reference": statistics.median(ratios) if ratios else float("nan"),
        })
    return out


def time_acquisition(q: int, reps: int, d: int = 5) -> dict[str, float]:
    """Median ms per LogEI value-and-gradient (4 points): fast path, general path, SingleTaskGP."""
    from botorch.acquisition import LogExpectedImprovement
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.input import Normalize

    from lowswitch.gp.model import UniquePointGP

    g = torch.Generator().manual_seed(0)
    bounds = torch.tensor([[-5.0] * d, [5.0] * d], dtype=DT)
    X = (bounds[0] + 10 * torch.rand(q, d, generator=g, dtype=DT)).repeat(2, 1)
    Y = X.sin().sum(-1, keepdim=True) + 0.1 * torch.randn(2 * q, 1, generator=g, dtype=DT)
    ours = UniquePointGP(X, Y, input_transform=Normalize(d, bounds=bounds)).eval()
    ref = SingleTaskGP(X, Y, input_transform=Normalize(d, bounds=bounds)).eval()

    general = copy.deepcopy(ours)
    general._fast_single_point = False  # BoTorch's GPyTorchModel.posterior, as before
    acqs = {"unique_point_gp": LogExpectedImprovement(ours, best_f=0.5),
            "general_posterior_path": LogExpectedImprovement(general, best_f=0.5),
            "single_task_gp": LogExpectedImprovement(ref, best_f=0.5)}
    Z = (bounds[0] + 10 * torch.rand(4, 1, d, generator=g, dtype=DT)).requires_grad_(True)
    times: dict[str, list[float]] = {k: [] for k in acqs}
    for _ in range(reps):
        for name, acq in acqs.items():  # interleaved: the same load for each
            t0 = time.process_time()
            for _ in range(50):
                Z.grad = None
                acq(Z).sum().backward()
            times[name].append(1e3 * (time.process_time() - t0) / 50)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lowswitch.benchmark opt-time``."""
    from lowswitch.benchmark.suite import NOISY_SUITE

    args = parse_args(argv)
    if args.plot_from:
        try:
            series = ratio_series(args.plot_from)
        except (OSError, ValueError, KeyError) as err:
            raise SystemExit(f"error: {err}") from None
        plot_ratios(series, args.out / "opt_time.png")
        print(f"wrote {args.out / 'opt_time.png'}")
        return 0
    torch.set_num_threads(1)
    problems = list(NOISY_SUITE) if args.problems == "all" else args.problems.split(",")
    methods = [m for m in args.methods.split(",") if m]
    unknown = [p for p in problems if p not in NOISY_SUITE]
    if unknown:
        raise SystemExit(f"--problems: unknown {unknown}; expected some of {list(NOISY_SUITE)}")
    acq = time_acquisition(args.q, args.reps)
    print(f"LogEI value+gradient, q = {args.q} (CPU ms per call, median of {args.reps}):")
    for k, v in acq.items():
        print(f"  {k:24s} {v:7.3f}")
    payload: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()},
                               "acquisition_ms": acq}
    if not args.skip_runs:
        rows = time_runs(problems, methods, args.budget, args.seeds)
        summary = summarise_runs(rows)
        head = ("problem", "method", "CPU ms/eval", "switches", "vs optuna-gp")
        print("\n{:16s} {:18s} {:>11s} {:>8s} {:>12s}".format(*head))
        for r in summary:
            print(f"{r['problem']:16s} {r['method']:18s} {r['cpu_ms_per_eval']:11.1f} "
                  f"{r['switches']:8.0f} {r['vs_reference']:12.2f}")
        payload.update(runs=rows, summary=summary)
        plot_ratios({m: {r["problem"]: r["vs_reference"] for r in summary if r["method"] == m}
                     for m in methods if m != "optuna-gp"}, args.out / "opt_time.png")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "opt_time.json").write_text(json.dumps(payload, indent=1, default=float))
    print(f"wrote {args.out / 'opt_time.json'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
