"""``python -m lowswitch.benchmark gp --scale``: the unique-point GP at 1e4..1e8 evaluations.

Data: ``q`` distinct uniform inputs in 6 dimensions, noisy Hartmann-6 values (noise sd
0.5), ``t`` observations drawn uniformly over the ``q`` points. Up to ``--in-memory-max``
rows the model is built from one ``(t, 6)`` array; above it the rows are generated and
streamed through
[`lowswitch.UniquePointGP.from_chunks`][lowswitch.gp.model.UniquePointGP.from_chunks] in chunks of
``--chunk`` rows, so memory stays O(q + chunk).

Each ``(t, q)`` cell runs in a fresh subprocess (so its peak resident memory is its own)
and reports, median over ``--reps`` repetitions where in memory:

* ``construct``: ``UniquePointGP(X, Y)`` (validation + O(t) aggregation + model set-up);
  streamed: ``from_chunks`` minus the time spent generating the chunks;
* ``stats``: ``UniqueStats(X, Y)`` alone (the aggregation), in memory only;
* ``floor_xy``: a plain one-pass numpy reduction over the same arrays on *precomputed*
  group ids: ``bincount`` of counts, of every column of X and of y and y^2;
* ``floor_y``: the same over y only (counts, y, y^2): the cheapest conceivable pass;
* ``fit`` ([`lowswitch.fit_gp`][lowswitch.fit_gp]) and ``posterior`` (mean and variance at ``--m``
  points), which depend on q only;
* ``peak_rss_mb``: the cell's peak resident set size (``ru_maxrss``), and
  ``data_mb``, the size of the in-memory arrays (0 when streamed).

Construction and floors are timed side by side on the same arrays (alternating order).
Exactness is checked in every cell: the counts equal the precomputed group ids' counts
and the means equal the floor's sums divided by the counts (rel 1e-9); a streamed cell
also compares its first chunk (the ``--chunk``-row prefix of the stream) streamed in
ten pieces with the in-memory construction on that prefix.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from botorch.test_functions import Hartmann
from rich.console import Console
from rich.table import Table
from tqdm.auto import tqdm

from lowswitch.gp import UniquePointGP, fit_gp
from lowswitch.gp.stats import UniqueStats

D = 6
NOISE_SD = 0.5


def chunks(
    t: int, q: int, chunk: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(idx, X, y)`` chunks of the data set: group ids ``(k,)``, inputs ``(k, 6)``, ``(k,)``."""
    rng = np.random.default_rng(seed)
    U = rng.random((q, D))
    fU = Hartmann(dim=D, negate=True)(torch.from_numpy(U)).numpy()
    for start in range(0, t, chunk):
        k = min(chunk, t - start)
        idx = rng.integers(0, q, k)
        yield idx, U[idx], fU[idx] + NOISE_SD * rng.standard_normal(k)


def floor_y(idx: np.ndarray, y: np.ndarray, q: int) -> tuple[np.ndarray, ...]:
    """Counts, sums and sums of squares of y per precomputed group id (one pass each)."""
    return np.bincount(idx, minlength=q), np.bincount(idx, y, q), np.bincount(idx, y * y, q)


def floor_xy(idx: np.ndarray, X: np.ndarray, y: np.ndarray, q: int) -> tuple[np.ndarray, ...]:
    """``floor_y`` plus the per-group sums of every column of X."""
    cols = tuple(np.bincount(idx, X[:, j], q) for j in range(X.shape[1]))
    return (*floor_y(idx, y, q), *cols)


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def _check_exact(model: UniquePointGP, counts: np.ndarray, sums: np.ndarray, U: np.ndarray) -> None:
    # groups are numbered in first-seen order by the model, by the generator's ids here
    order = np.array([np.flatnonzero((row == U).all(1))[0] for row in model.unique_X.numpy()])
    if not np.array_equal(model.counts.numpy(), counts[order].astype(np.float64)):
        raise AssertionError("counts differ from the precomputed group ids' counts")
    ref = sums[order] / counts[order]
    if not np.allclose(model.means.numpy(), ref, rtol=1e-9, atol=0):
        raise AssertionError("means differ from the floor's sums / counts")


def run_cell(
    t: int, q: int, chunk: int, in_memory_max: int, reps: int, m: int, seed: int
) -> dict[str, Any]:
    """One ``(t, q)`` cell (call in a fresh process for a meaningful peak memory)."""
    torch.set_num_threads(1)
    warm = next(chunks(2_000, 20, 2_000, seed + 1))
    UniquePointGP(torch.from_numpy(warm[1]), torch.from_numpy(warm[2]))  # first-call set-up
    rec: dict[str, Any] = {"t": t, "q": q, "streamed": t > in_memory_max, "chunk": chunk}
    rec["base_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    U = np.random.default_rng(seed).random((q, D))  # the same draw as chunks()
    if t <= in_memory_max:
        idx, X, y = next(chunks(t, q, t, seed))
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(-1)
        rec["data_mb"] = (X.nbytes + y.nbytes + idx.nbytes) / 2**20
        times: dict[str, list[float]] = {
            k: [] for k in ("construct", "stats", "floor_xy", "floor_y")
        }
        model = None
        for r in range(reps):
            jobs = [
                ("construct", lambda: UniquePointGP(Xt, Yt)),
                ("stats", lambda: UniqueStats(Xt, Yt[:, 0])),
                ("floor_xy", lambda: floor_xy(idx, X, y, q)),
                ("floor_y", lambda: floor_y(idx, y, q)),
            ]
            for name, fn in jobs if r % 2 == 0 else jobs[::-1]:
                dt, out = _timed(fn)
                times[name].append(dt)
                if name == "construct":
                    model = out
        rec.update({k: statistics.median(v) for k, v in times.items()})
        assert model is not None
        counts, sums = floor_y(idx, y, q)[:2]
        _check_exact(model, counts, sums, U)
        del X, Xt, Yt, idx, y
    else:
        spent = {"gen": 0.0, "floor_xy": 0.0, "floor_y": 0.0}
        counts = np.zeros(q, dtype=np.int64)
        sums = np.zeros(q)
        n_chunks = -(-t // chunk)

        def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            nonlocal counts, sums
            it = chunks(t, q, chunk, seed)
            for _ in tqdm(range(n_chunks), desc=f"t={t:.0e} q={q}", unit="chunk", leave=False):
                start = time.perf_counter()
                idx, X, y = next(it)
                spent["gen"] += time.perf_counter() - start
                fy, _ = _timed(floor_y, idx, y, q)
                fxy, out = _timed(floor_xy, idx, X, y, q)
                spent["floor_y"] += fy
                spent["floor_xy"] += fxy
                counts += out[0]
                sums += out[1]
                start = time.perf_counter()
                item = (torch.from_numpy(X), torch.from_numpy(y).unsqueeze(-1))
                spent["gen"] += time.perf_counter() - start
                yield item

        total, model = _timed(lambda: UniquePointGP.from_chunks(stream()))
        rec["construct"] = total - sum(spent.values())
        rec.update(floor_xy=spent["floor_xy"], floor_y=spent["floor_y"], data_mb=0.0)
        rec["generate"] = spent["gen"]
        _check_exact(model, counts, sums, U)
    rec["ratio_xy"] = rec["construct"] / rec["floor_xy"]
    rec["ratio_y"] = rec["construct"] / rec["floor_y"]
    Xtest = torch.rand(m, D, generator=torch.Generator().manual_seed(999), dtype=torch.float64)
    rec["fit"], _ = _timed(lambda: fit_gp(model))
    rec["posterior"], _ = _timed(lambda: _posterior(model, Xtest))
    rec["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if rec["streamed"]:  # after the peak memory: this builds the prefix in memory
        rec["prefix_exact"] = _prefix_check(q, chunk, seed)
    return rec


def _prefix_check(q: int, chunk: int, seed: int) -> bool:
    """The stream's first chunk (its ``chunk``-row prefix) in 10 pieces == built at once."""
    _, X, y = next(chunks(chunk, q, chunk, seed))
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(y).unsqueeze(-1)
    whole = UniquePointGP(Xt, Yt)
    piece = -(-chunk // 10)
    parts = UniquePointGP.from_chunks(
        (Xt[s : s + piece], Yt[s : s + piece]) for s in range(0, chunk, piece)
    )
    return (
        torch.equal(whole.unique_X, parts.unique_X)
        and torch.equal(whole.counts, parts.counts)
        and bool(torch.allclose(whole.means, parts.means, rtol=1e-12, atol=0))
        and bool(torch.allclose(whole.stats.m2, parts.stats.m2, rtol=1e-10, atol=0))
    )


def _posterior(model: UniquePointGP, Xtest: torch.Tensor) -> None:
    with torch.no_grad():
        post = model.posterior(Xtest)
        post.mean, post.variance  # noqa: B018 (force evaluation)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m lowswitch.benchmark gp --scale", description=__doc__
    )
    p.add_argument("--t", type=float, nargs="+", default=[1e4, 1e5, 1e6, 1e7, 1e8])
    p.add_argument("--q", type=int, nargs="+", default=[50, 200, 1000])
    p.add_argument("--chunk", type=float, default=1e6, help="rows per streamed chunk")
    p.add_argument("--in-memory-max", type=float, default=1e7, help="larger t is streamed")
    p.add_argument("--reps", type=int, default=5, help="repetitions in memory (median)")
    p.add_argument("--m", type=int, default=1_000, help="test points for the posterior")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("results/gp_scale"))
    p.add_argument("--quick", action="store_true", help="tiny grid for smoke tests")
    p.add_argument("--cell", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _cell_in_subprocess(args: argparse.Namespace, t: int, q: int) -> dict[str, Any]:
    cmd = [
        sys.executable, "-m", "lowswitch.benchmark.gp_scale", "--cell",
        "--t", str(t), "--q", str(q), "--chunk", str(int(args.chunk)),
        "--in-memory-max", str(int(args.in_memory_max)), "--reps", str(args.reps),
        "--m", str(args.m), "--seed", str(args.seed),
    ]  # fmt: skip
    done = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        args.t, args.q, args.chunk, args.in_memory_max, args.reps, args.m = (
            [2e3, 2e4], [20], 5e3, 5e3, 1, 50,
        )  # fmt: skip
    if args.cell:
        t, q = int(args.t[0]), args.q[0]
        rec = run_cell(t, q, int(args.chunk), int(args.in_memory_max), args.reps, args.m, args.seed)
        print(json.dumps(rec))
        return 0
    grid = [(int(t), q) for t in args.t for q in args.q if q <= t]
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    for t, q in tqdm(grid, desc="gp --scale", unit="cell"):
        records.append(_cell_in_subprocess(args, t, q))
        (args.out / "gp_scale.json").write_text(json.dumps(records, indent=2))  # so far
    plot(records, args.out / "gp_scale.png")
    print_table(records)
    print(f"wrote {args.out / 'gp_scale.json'} and {args.out / 'gp_scale.png'}")
    return 0


def print_table(records: list[dict[str, Any]]) -> None:
    table = Table(title="UniquePointGP at scale (seconds; ratio = construct / numpy floor)")
    cols = ("t", "q", "mode", "construct", "stats", "floor_xy", "floor_y", "x floor_xy",
            "x floor_y", "fit", "posterior", "peak MB")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="right")
    for r in records:
        table.add_row(
            f"{r['t']:.0e}",
            str(r["q"]),
            "streamed" if r["streamed"] else "in memory",
            f"{r['construct']:.3f}",
            f"{r['stats']:.3f}" if "stats" in r else "-",
            f"{r['floor_xy']:.3f}",
            f"{r['floor_y']:.4f}",
            f"{r['ratio_xy']:.2f}",
            f"{r['ratio_y']:.1f}",
            f"{r['fit']:.2f}",
            f"{r['posterior']:.3f}",
            f"{r['peak_rss_mb']:.0f}",
        )
    Console(width=200).print(table)


def plot(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for q in sorted({r["q"] for r in records}):
        rs = sorted((r for r in records if r["q"] == q), key=lambda r: r["t"])
        ax.plot([r["t"] for r in rs], [r["construct"] for r in rs], "o-", label=f"construct, q={q}")
        ax.plot(
            [r["t"] for r in rs], [r["floor_xy"] for r in rs], "x:", label=f"numpy floor, q={q}"
        )
    ax.set(xscale="log", yscale="log", xlabel="observations t", ylabel="seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
