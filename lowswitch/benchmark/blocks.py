"""Where a low-switch policy spends its evaluations, block by block, up to a total cost.

For each method and seed on one problem of a suite, the policy is replayed exactly as
``bo`` runs it (same noise stream, same seed) until the next block would take the total
cost ``evaluations + s x switches`` above ``--cost`` (or the budget runs out). Each block
records its repeats and the true simple regret of its point. Per run:

* ``evaluations``, ``switches`` at the stop;
* ``evaluations_on_bad``: evaluations in model blocks (after the initial design) whose
  point has true regret above ``--bad-regret``, and ``repeats_on_bad``: those beyond the
  first evaluation of each visit to such a point (a visit is a run of consecutive blocks at
  one point: a policy that decides its stays look by look hands them out as several
  blocks), i.e. what second looks at poor points cost;
* ``stays`` and ``stay_evaluations``: model blocks at the point of the block before them
  (a cost rule's look-by-look stays, or an acquisition that picked the last point again),
  and their evaluations;
* ``best_evaluated``: the smallest true regret of any point evaluated so far;
* ``recommendation``: the true regret of the policy's recommendation at the stop.

Prints the medians per method and writes ``blocks.json`` (per-run figures and every
block as ``[repeats, true regret, 1 if it moved else 0]``) in ``--out``. It is the
diagnostic behind the BO benchmark page's look at the cost-aware EI on ``branin`` at
s = 10.

Example:
    python -m lowswitch.benchmark blocks --problem branin --methods ei-C2,ei-C2-s10 \\
        --seeds 10 --seed-offset 5 --s 10 --cost 450
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

FIELDS = ("evaluations", "switches", "evaluations_on_bad", "repeats_on_bad", "stays",
          "stay_evaluations", "best_evaluated", "recommendation")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lowswitch.benchmark blocks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default="noisy", help="noisy or heldout")
    p.add_argument("--problem", required=True, help="one problem of the suite")
    p.add_argument("--methods", default="ei-C2,ei-C2-s10",
                   help="comma list of low-switch methods, as for bo (e.g. ei-C2-s10)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seed-offset", type=int, default=0)
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--s", type=float, default=10.0, help="switch cost of the stopping rule")
    p.add_argument("--cost", type=float, default=None,
                   help="stop before the total cost would exceed this (default: no limit)")
    p.add_argument("--bad-regret", type=float, default=5.0,
                   help="a point with true regret above this counts as poor")
    p.add_argument("--out", type=Path, default=Path("results/blocks"))
    args = p.parse_args(argv)
    if args.seeds < 1 or args.seed_offset < 0 or args.budget < 1 or args.s < 0:
        p.error("--seeds and --budget must be >= 1, --seed-offset and --s >= 0")
    if args.cost is not None and args.cost <= 0:
        p.error("--cost must be > 0")
    return args


def replay(problem: Any, method: str, seed: int, budget: int, s: float,
           cost: float | None, bad_regret: float) -> dict[str, Any]:
    """One run of ``method`` (a low-switch method name) up to ``cost``; see the module doc."""
    from lowswitch.benchmark.bo import (
        NoisyObjective,
        build_lowswitch,
        parse_method,
        split_options,
    )

    kind, threshold = parse_method(method)
    if threshold is None:
        raise ValueError(f"method: {method!r} is not a low-switch policy (e.g. ei-C2-s10)")
    obj = NoisyObjective(problem, seed)
    opt = build_lowswitch(kind, threshold, obj, budget, seed, split_options(method)[1])
    blocks: list[tuple[int, float, int]] = []
    while opt.n_evaluations < budget:
        block = opt.ask()
        moves = obj.would_switch(block.x)
        after = obj.n_evaluations + block.repeats + s * (obj.n_switches + int(moves))
        if cost is not None and blocks and after > cost:
            break
        opt.tell(block.x, obj(block.x, block.repeats))
        blocks.append((int(block.repeats), obj.regret(block.x), int(moves)))
    model = blocks[min(opt.n_initial, len(blocks)):]
    first_looks = sum(moved for _, g, moved in model if g > bad_regret)
    return {
        "method": method, "seed": seed, "evaluations": obj.n_evaluations,
        "switches": obj.n_switches,
        "evaluations_on_bad": sum(r for r, g, _ in model if g > bad_regret),
        "repeats_on_bad": sum(r for r, g, _ in model if g > bad_regret) - first_looks,
        "stays": sum(1 - moved for _, _, moved in model),
        "stay_evaluations": sum(r for r, _, moved in model if not moved),
        "best_evaluated": min(g for _, g, _ in blocks),
        "recommendation": obj.regret(opt.recommend()),
        "blocks": [list(b) for b in blocks],
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{method: {field: median over its runs}}`` for the ``FIELDS``."""
    out: dict[str, dict[str, float]] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        rows = [r for r in runs if r["method"] == method]
        out[method] = {f: float(statistics.median(r[f] for r in rows)) for f in FIELDS}
    return out


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from lowswitch.benchmark.suite import SUITES

    args = parse_args(argv)
    if args.suite not in SUITES or args.problem not in SUITES[args.suite]:
        known = sorted(SUITES.get(args.suite, {}))
        print(f"error: --problem: expected one of {known} (suite {args.suite!r}), "
              f"got {args.problem!r}")
        return 2
    problem = SUITES[args.suite][args.problem].problem()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    jobs = [(m, s) for m in methods
            for s in range(args.seed_offset, args.seed_offset + args.seeds)]
    runs = [replay(problem, m, s, args.budget, args.s, args.cost, args.bad_regret)
            for m, s in tqdm(jobs, desc="blocks")]
    table = medians(runs)
    stop = "the budget" if args.cost is None else f"cost {args.cost:g} at s = {args.s:g}"
    print(f"\n{args.problem}, medians over {args.seeds} seeds, up to {stop}")
    print("method".ljust(22) + "".join(f.rjust(20) for f in FIELDS))
    for method, row in table.items():
        print(method.ljust(22) + "".join(f"{row[f]:20.4g}" for f in FIELDS))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "blocks.json"
    path.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                "medians": table, "runs": runs}, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
