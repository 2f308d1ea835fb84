"""MoPPS at scale: ``python -m mopps.scale`` (select 256 of 1e6 / 1e7 prompts, update).

For each pool size ``n`` (one fresh subprocess each, so the peak memory is its own) and
each posterior state

* ``prior``: every prompt at the uniform prior (a fresh pool),
* ``10%``: a tenth of the prompts updated once (k ~ U{1..16} rollouts, binomial
  successes), the rest at the prior (a large pool early in training),
* ``all``: every prompt updated once (varied ``alpha, beta``),

it times, median over ``--reps`` repetitions and side by side in alternating order:

* ``select``: [`mopps.PromptSelector.select`][mopps.selector.PromptSelector.select] of ``--batch``
  prompts (``topk``);
* ``update``: [`mopps.PromptSelector.update`][mopps.selector.PromptSelector.update] of ``--batch``
  prompts;
* ``floor_beta``: ``numpy.random.Generator.beta(alpha, beta)`` over the same ``n`` arms,
  the plain numpy way of drawing the Thompson samples (the floor the selection is
  compared with; selection itself is extra work on top);
* ``floor_gamma``: numpy's Gamma-ratio ``X / (X + Y)`` over the same arms (the fastest
  numpy Beta construction we know at varied shapes).

Memory: ``nbytes`` of the posterior state, the resident-memory growth when the selector
is created, and the peak resident memory of the cell. ``--float32`` adds a float32 state
([`lowswitch.bandit.BetaArms`][lowswitch.bandit.BetaArms] with ``dtype=torch.float32``, half the
memory): its draw + selection time, and its drift from the float64 state after ``--drift-steps``
discounted updates with fractional rewards.

Writes ``results/mopps_scale/scale.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from lowswitch.bandit import BetaArms, closest_k, numpy_generator
from mopps.selector import PromptSelector

__all__ = ["float32_drift", "main", "run_cell"]

STATES = ("prior", "10%", "all")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _feedback(rng: np.random.Generator, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    trials = rng.integers(1, 17, idx.size).astype(np.float64)
    return rng.binomial(trials.astype(np.int64), rng.random(idx.size)).astype(np.float64), trials


def _put_in_state(sel: PromptSelector, state: str, rng: np.random.Generator) -> None:
    n = sel.n_prompts
    if state == "prior":
        return
    idx = np.arange(n) if state == "all" else rng.choice(n, n // 10, replace=False)
    s, k = _feedback(rng, idx)
    sel.update(torch.from_numpy(idx), torch.from_numpy(s), torch.from_numpy(k))


def _median_ms(fns: dict[str, Any], reps: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(reps):
        for name in list(fns) if r % 2 == 0 else list(fns)[::-1]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(v) for name, v in times.items()}


def _gamma_ratio(g: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = g.standard_gamma(a)
    return x / (x + g.standard_gamma(b))


def _draw_and_pick(arms: BetaArms, g: np.random.Generator, batch: int) -> torch.Tensor:
    """What ``select`` does for ``topk``: one Thompson draw per arm, the closest to 0.5."""
    return closest_k(arms.sample(g)[0], 0.5, batch)


def run_cell(
    n: int, batch: int, reps: int, with_float32: bool, seed: int = 0
) -> list[dict[str, Any]]:
    """All states at one pool size (call in a fresh process for a meaningful peak memory)."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    rows = []
    for state in STATES:
        before = _current_rss_mb()
        sel = PromptSelector(n, seed=seed)
        grown = _current_rss_mb() - before
        _put_in_state(sel, state, rng)
        a, b = sel.alpha.numpy(), sel.beta.numpy()
        g = np.random.default_rng(seed + 1)
        fb_idx = rng.choice(n, batch, replace=False)
        fb_s, fb_k = _feedback(rng, fb_idx)
        fns = {
            "select": partial(sel.select, batch),
            "update": partial(sel.update, fb_idx, fb_s, fb_k),
            "floor_beta": partial(g.beta, a, b),
            "floor_gamma": partial(_gamma_ratio, g, a, b),
        }
        rec: dict[str, Any] = {"n": n, "batch": batch, "state": state, "reps": reps}
        rec.update({f"{k}_ms": v for k, v in _median_ms(fns, reps).items()})
        if with_float32:
            arms32 = BetaArms(sel.alpha.float(), sel.beta.float())
            job = partial(_draw_and_pick, arms32, numpy_generator(seed + 2), batch)
            rec["select_float32_ms"] = _median_ms({"f32": job}, reps)["f32"]
            rec["nbytes_float32"] = arms32.nbytes
            del arms32, job
        rec["ratio_select_floor_beta"] = rec["select_ms"] / rec["floor_beta_ms"]
        rec["ratio_select_floor_gamma"] = rec["select_ms"] / rec["floor_gamma_ms"]
        rec["nbytes"] = sel.nbytes
        rec["bytes_per_prompt"] = sel.nbytes / n
        rec["rss_growth_mb"] = grown
        rec["peak_rss_mb"] = _rss_mb()
        rows.append(rec)
        del sel, a, b
    return rows


def float32_drift(n: int, steps: int, batch: int, decay: float, seed: int = 0) -> dict[str, float]:
    """Largest relative gap between float32 and float64 states after ``steps`` updates.

    Both states get the same feedback: ``batch`` prompts per step out of ``n`` with
    fractional rewards (summed over 1-16 rollouts), forgetting factor ``decay``.

    Example:
        >>> gap = float32_drift(100, steps=20, batch=10, decay=0.9)
        >>> 0 <= gap["alpha_rel"] < 1e-5
        True
    """
    rng = np.random.default_rng(seed)
    a64 = BetaArms.uniform(n, decay=decay)
    a32 = BetaArms.uniform(n, decay=decay, dtype=torch.float32)
    for _ in range(steps):
        idx = rng.choice(n, batch, replace=False)
        k = rng.integers(1, 17, batch).astype(np.float64)
        s = k * rng.random(batch)
        a64.update(idx, s, k)
        a32.update(idx, s, k)
    rel = (a32.alpha.double() - a64.alpha).abs() / a64.alpha
    mean_gap = (a32.mean.double() - a64.mean).abs()
    return {"alpha_rel": float(rel.max()), "mean_abs": float(mean_gap.max())}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m mopps.scale", description=__doc__)
    p.add_argument("--n", type=float, nargs="+", default=[1e6, 1e7])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--float32", action="store_true", help="also time a float32 state")
    p.add_argument("--drift-steps", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/mopps_scale"))
    p.add_argument("--quick", action="store_true", help="tiny sizes for smoke tests")
    p.add_argument("--cell", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.n, args.reps, args.drift_steps = [2e4], 3, 50
    if args.cell:
        print(json.dumps(run_cell(int(args.n[0]), args.batch, args.reps, args.float32, args.seed)))
        return 0
    rows: list[dict[str, Any]] = []
    for n in args.n:
        cmd = [sys.executable, "-m", "mopps.scale", "--cell", "--n", str(int(n)),
               "--batch", str(args.batch), "--reps", str(args.reps),
               "--seed", str(args.seed)]  # fmt: skip
        if args.float32:
            cmd.append("--float32")
        done = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
        rows.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    drift = {
        f"decay={d}": float32_drift(100_000, args.drift_steps, args.batch, d, args.seed)
        for d in (1.0, 0.9)
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = {"rows": rows, "float32_drift": drift, "drift_steps": args.drift_steps}
    (args.out / "scale.json").write_text(json.dumps(out, indent=2))
    table = Table(title=f"MoPPS select({args.batch}) / update at scale (median ms)")
    cols = ("n", "state", "select", "update", "np beta", "np gamma", "x beta", "x gamma",
            "select f32", "B/prompt", "RSS +MB", "peak MB")  # fmt: skip
    for c in cols:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(
            f"{r['n']:.0e}", r["state"], f"{r['select_ms']:.1f}", f"{r['update_ms']:.2f}",
            f"{r['floor_beta_ms']:.1f}", f"{r['floor_gamma_ms']:.1f}",
            f"{r['ratio_select_floor_beta']:.2f}", f"{r['ratio_select_floor_gamma']:.2f}",
            f"{r['select_float32_ms']:.1f}" if "select_float32_ms" in r else "-",
            f"{r['bytes_per_prompt']:.0f}", f"{r['rss_growth_mb']:.0f}", f"{r['peak_rss_mb']:.0f}",
        )  # fmt: skip
    Console(width=200).print(table)
    print(f"float32 state after {args.drift_steps} updates of {args.batch} prompts:", drift)
    print(f"wrote {args.out / 'scale.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
