"""Cost of ``fantasize`` on UniquePointGP as t grows at fixed q, against SingleTaskGP.

For each t (rows, ``t / q`` replicates of each of q unique inputs in ``[0, 1]^d``) both
models get the same fixed hyperparameters and a warm cache (one posterior call), then
one timed repetition is: ``model.fantasize(X, SobolQMCNormalSampler(F))`` at ``k`` new
points and the fantasy model's posterior at ``m`` test points (what qKG does per
forward call). SingleTaskGP runs on all t rows up to ``--stgp-max-t``. Medians of
``--reps`` repetitions, measured side by side in one run. Prints a table and writes
``fantasize.json`` in ``--out`` (default ``results/fantasize``).

Example:
    python -m lowswitch.benchmark fantasize --t 1000 10000 100000 --q 100 --fantasies 64
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from lowswitch.gp.model import UniquePointGP

DT = torch.float64


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lowswitch.benchmark fantasize", description=__doc__)
    p.add_argument("--t", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    p.add_argument("--q", type=int, default=100, help="unique inputs")
    p.add_argument("--d", type=int, default=4)
    p.add_argument("--fantasies", type=int, default=64)
    p.add_argument("--k", type=int, default=1, help="fantasised points per call")
    p.add_argument("--m", type=int, default=256, help="test points of the fantasy posterior")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument(
        "--stgp-max-t",
        type=int,
        default=1_000,
        help="largest t for SingleTaskGP (its fantasy caches are F x t x t)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/fantasize"))
    return p.parse_args(argv)


def _set_hypers(model: Any, d: int) -> Any:
    with torch.no_grad():
        model.covar_module.lengthscale = torch.full((1, d), 0.4, dtype=DT)
        model.likelihood.noise = torch.tensor([0.1], dtype=DT)
    return model.eval()


def _time(model: Any, X: Tensor, Xt: Tensor, fantasies: int, reps: int) -> float:
    model.posterior(Xt)  # warm cache (factor / gpytorch prediction strategy)
    times = []
    for r in range(-1, reps):  # r = -1: untimed warm-up (first-call costs)
        start = time.perf_counter()
        with torch.no_grad():
            fant = model.fantasize(X, SobolQMCNormalSampler(torch.Size([fantasies]), seed=r + 1))
            fant.posterior(Xt).mean.sum().item()  # force the computation
        if r >= 0:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(args.seed)
    U = torch.rand(args.q, args.d, generator=g, dtype=DT)
    X = torch.rand(args.k, args.d, generator=g, dtype=DT)
    Xt = torch.rand(args.m, args.d, generator=g, dtype=DT)
    records = []
    for t in args.t:
        rows = U.repeat(t // args.q, 1)
        Y = rows.sin().sum(-1, keepdim=True) + 0.3 * torch.randn(
            rows.shape[0], 1, generator=g, dtype=DT
        )
        model = _set_hypers(UniquePointGP(rows, Y), args.d)
        rec: dict[str, Any] = {"t": rows.shape[0], "q": args.q, "fantasies": args.fantasies}
        rec["unique_point_gp_s"] = _time(model, X, Xt, args.fantasies, args.reps)
        rec["single_task_gp_s"] = None
        if rows.shape[0] <= args.stgp_max_t:
            ref = _set_hypers(SingleTaskGP(rows, Y), args.d)
            rec["single_task_gp_s"] = _time(ref, X, Xt, args.fantasies, args.reps)
        records.append(rec)
    base = records[0]["unique_point_gp_s"]
    for rec in records:
        rec["vs_smallest_t"] = rec["unique_point_gp_s"] / base
        stgp = rec["single_task_gp_s"]
        rec["stgp_over_upgp"] = None if stgp is None else stgp / rec["unique_point_gp_s"]
    return records


def _fmt(value: float | None, spec: str) -> str:
    width = int(spec.split(".")[0])
    return "-".rjust(width) if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    records = run(args)
    print(
        f"fantasize: q={args.q}, d={args.d}, {args.fantasies} fantasies at k={args.k} "
        f"points, posterior at m={args.m}; medians of {args.reps}"
    )
    print(
        f"{'t':>9} {'UniquePointGP s':>16} {'x smallest t':>13} "
        f"{'SingleTaskGP s':>15} {'STGP/UPGP':>10}"
    )
    for r in records:
        print(
            f"{r['t']:>9} {r['unique_point_gp_s']:>16.4f} {r['vs_smallest_t']:>13.2f} "
            f"{_fmt(r['single_task_gp_s'], '15.4f')} {_fmt(r['stgp_over_upgp'], '10.1f')}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"args": {k: str(v) for k, v in vars(args).items()}, "records": records}
    (args.out / "fantasize.json").write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out / 'fantasize.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
