"""``python -m lowswitch.benchmark gp``: UniquePointGP vs BoTorch SingleTaskGP, fit + posterior.

Data: noisy Hartmann-6 (noise sd 0.5) evaluated at ``q`` distinct uniform inputs, ``t``
observations spread evenly over them. For each ``(t, q)`` and each method the benchmark
times, side by side in one process, the median over ``--reps`` repetitions of

* ``build``: constructing the model from the t rows (for us: exact aggregation),
* ``fit``: MAP fit of kernel hyperparameters (and noise),
* ``posterior``: mean and variance at ``--m`` test points,

for three methods:

* ``unique``: [`lowswitch.UniquePointGP`][lowswitch.UniquePointGP] +
  [`lowswitch.fit_gp`][lowswitch.fit_gp];
* ``botorch_all_rows``: ``SingleTaskGP`` on all t rows (only where ``t <= --full-max-t``);
* ``botorch_dedup``: ``SingleTaskGP`` on the q means with fixed ``train_Yvar = s2 / n_i``,
  ``s2`` the pooled within-point variance (what an expert would do by hand).

Ratios are reported against ``unique`` measured in the same run. Output: a table, JSON and
a PNG in ``--out`` (default ``results/gp``).

``--scale`` runs ``lowswitch.benchmark.gp_scale`` instead (t up to 1e8, streamed in
chunks, against a one-pass numpy reduction; see its ``--help``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.test_functions import Hartmann
from gpytorch.mlls import ExactMarginalLogLikelihood
from rich.console import Console
from rich.table import Table
from tqdm.auto import tqdm

from lowswitch.gp import UniquePointGP, fit_gp

DT = torch.float64
NOISE_SD = 0.5
METHODS = ("unique", "botorch_dedup", "botorch_all_rows")


def make_data(t: int, q: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(t, 6)`` inputs over ``q`` distinct points and ``(t, 1)`` noisy Hartmann-6 values."""
    g = torch.Generator().manual_seed(seed)
    U = torch.rand(q, 6, generator=g, dtype=DT)
    idx = torch.arange(t) % q
    X = U[idx[torch.randperm(t, generator=g)]]
    f = Hartmann(dim=6, negate=True)
    Y = f(X).unsqueeze(-1) + NOISE_SD * torch.randn(t, 1, generator=g, dtype=DT)
    return X, Y


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def run_unique(X: torch.Tensor, Y: torch.Tensor, Xtest: torch.Tensor) -> dict[str, float]:
    t_build, model = _timed(lambda: UniquePointGP(X, Y))
    t_fit, _ = _timed(lambda: fit_gp(model))
    t_post, _ = _timed(lambda: _posterior(model, Xtest))
    return {"build": t_build, "fit": t_fit, "posterior": t_post}


def run_dedup(X: torch.Tensor, Y: torch.Tensor, Xtest: torch.Tensor) -> dict[str, float]:
    def build() -> SingleTaskGP:
        U, inv, n = torch.unique(X, dim=0, return_inverse=True, return_counts=True)
        n = n.to(DT)
        mean = torch.zeros(U.shape[0], dtype=DT).index_add_(0, inv, Y[:, 0]) / n
        resid = Y[:, 0] - mean[inv]
        dof = max(X.shape[0] - U.shape[0], 1)
        s2 = float((resid * resid).sum()) / dof
        return SingleTaskGP(U, mean.unsqueeze(-1), train_Yvar=(s2 / n).unsqueeze(-1))

    t_build, model = _timed(build)
    t_fit, _ = _timed(lambda: _fit_botorch(model))
    t_post, _ = _timed(lambda: _posterior(model, Xtest))
    return {"build": t_build, "fit": t_fit, "posterior": t_post}


def run_all_rows(X: torch.Tensor, Y: torch.Tensor, Xtest: torch.Tensor) -> dict[str, float]:
    t_build, model = _timed(lambda: SingleTaskGP(X, Y))
    t_fit, _ = _timed(lambda: _fit_botorch(model))
    t_post, _ = _timed(lambda: _posterior(model, Xtest))
    return {"build": t_build, "fit": t_fit, "posterior": t_post}


def _fit_botorch(model: SingleTaskGP) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))


def _posterior(model: Any, Xtest: torch.Tensor) -> None:
    with torch.no_grad():
        post = model.posterior(Xtest)
        post.mean, post.variance  # noqa: B018 (force evaluation)


RUNNERS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, float]]] = {
    "unique": run_unique,
    "botorch_dedup": run_dedup,
    "botorch_all_rows": run_all_rows,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lowswitch.benchmark gp", description=__doc__)
    p.add_argument("--t", type=int, nargs="+", default=[1_000, 4_000, 100_000, 1_000_000])
    p.add_argument("--q", type=int, nargs="+", default=[50, 200])
    p.add_argument("--m", type=int, default=1_000, help="test points for the posterior")
    p.add_argument("--reps", type=int, default=3, help="repetitions (median reported)")
    p.add_argument(
        "--full-max-t",
        type=int,
        default=1_000,
        help="largest t for SingleTaskGP on all rows (t=4000 takes minutes)",
    )
    p.add_argument(
        "--full-reps", type=int, default=1, help="repetitions for SingleTaskGP on all rows"
    )
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for every method (1: stable timings on a shared machine)",
    )
    p.add_argument("--out", type=Path, default=Path("results/gp"))
    p.add_argument("--quick", action="store_true", help="tiny grid for smoke tests")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run the grid; one record per (t, q, method) with median timings."""
    grid = [(t, q) for t in args.t for q in args.q if q <= t]
    jobs = [(t, q, m) for t, q in grid for m in args.methods]
    jobs = [j for j in jobs if j[2] != "botorch_all_rows" or j[0] <= args.full_max_t]
    records = []
    Xtest = torch.rand(args.m, 6, generator=torch.Generator().manual_seed(999), dtype=DT)
    warm_X, warm_Y = make_data(40, 8, args.seed + 1)
    for method in args.methods:  # one untimed run each: imports and first-call set-up
        RUNNERS[method](warm_X, warm_Y, Xtest[:10])
    data: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
    for t, q, method in tqdm(jobs, desc="gp benchmark", unit="cell"):
        if (t, q) not in data:
            data = {(t, q): make_data(t, q, args.seed)}
        X, Y = data[(t, q)]
        reps = min(args.reps, args.full_reps) if method == "botorch_all_rows" else args.reps
        runs = [RUNNERS[method](X, Y, Xtest) for _ in range(reps)]
        rec: dict[str, Any] = {"t": t, "q": q, "method": method, "reps": reps}
        for key in ("build", "fit", "posterior"):
            rec[key] = statistics.median(r[key] for r in runs)
        rec["fit_posterior"] = statistics.median(r["fit"] + r["posterior"] for r in runs)
        rec["total"] = statistics.median(sum(r.values()) for r in runs)
        records.append(rec)
    base = {(r["t"], r["q"]): r for r in records if r["method"] == "unique"}
    for r in records:
        ref = base.get((r["t"], r["q"]))
        if ref is not None:
            r["ratio_fit_posterior_vs_unique"] = r["fit_posterior"] / ref["fit_posterior"]
            r["ratio_total_vs_unique"] = r["total"] / ref["total"]
    return records


def print_table(records: list[dict[str, Any]]) -> None:
    table = Table(title="GP fit + posterior (median seconds; ratio = method / unique)")
    for col in ("t", "q", "method", "build", "fit", "posterior", "fit+post", "ratio"):
        table.add_column(col, justify="right")
    for r in records:
        table.add_row(
            f"{r['t']:,}",
            str(r["q"]),
            r["method"],
            f"{r['build']:.3f}",
            f"{r['fit']:.3f}",
            f"{r['posterior']:.4f}",
            f"{r['fit_posterior']:.3f}",
            f"{r.get('ratio_fit_posterior_vs_unique', float('nan')):.1f}x",
        )
    Console().print(table)


def plot(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    qs = sorted({r["q"] for r in records})
    fig, axes = plt.subplots(1, len(qs), figsize=(5 * len(qs), 4), squeeze=False)
    for ax, q in zip(axes[0], qs, strict=True):
        for method in METHODS:
            rs = sorted(
                (r for r in records if r["q"] == q and r["method"] == method), key=lambda r: r["t"]
            )
            if rs:
                ax.plot([r["t"] for r in rs], [r["total"] for r in rs], "o-", label=method)
        ax.set(
            xscale="log", yscale="log", xlabel="observations t", ylabel="build+fit+posterior (s)"
        )
        ax.set_title(f"q = {q} unique points")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--scale" in argv:  # t up to 1e8, streamed: lowswitch.benchmark.gp_scale
        from lowswitch.benchmark import gp_scale

        return gp_scale.main([a for a in argv if a != "--scale"])
    args = parse_args(argv)
    if args.quick:
        args.t, args.q, args.m, args.reps, args.full_max_t = [200, 2_000], [20], 100, 1, 200
    torch.set_num_threads(args.threads)
    records = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gp.json").write_text(json.dumps(records, indent=2))
    plot(records, args.out / "gp.png")
    print_table(records)
    print(f"wrote {args.out / 'gp.json'} and {args.out / 'gp.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
