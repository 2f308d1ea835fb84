"""Cost of the read commands (``best``, ``status``, ``report``) next to ``suggest``.

A campaign on the bundled aryl halide screen (4,599 candidates) with an imported history of
``--conditions`` distinct conditions (two replicates each, the screen's yield plus noise),
then one ``suggest`` + ``record`` round so that a GP fit is stored. Each command then runs
``--repeats`` times as its own ``lowswitch`` process (what a user waits for); the table gives
the median and the maximum wall seconds per call, and the ratio to ``suggest`` measured in the
same run. ``--baseline-tree DIR`` also times another checkout of lowswitch (e.g. the
previous commit, unpacked with ``git archive``), on its own database built the same way,
command by command interleaved with this one so that machine load hits both alike (copy
this module into that checkout first: its database is built by its own code). Writes
``results/campaign_reads/reads.json``::

    python -m lowswitch.benchmark campaign-reads --conditions 1700 --repeats 5
    git archive HEAD~1 | tar -x -C /tmp/base
    python -m lowswitch.benchmark campaign-reads --baseline-tree /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def build(storage: str, conditions: int, seed: int) -> None:
    """Create the campaign ``screen`` with ``conditions`` imported conditions and one plate."""
    import numpy as np

    from lowswitch.campaign import Campaign, SimulatedLab
    from lowswitch.campaign.simulate import ARYL_HALIDE_INPUTS, aryl_halide_table

    table = aryl_halide_table()
    inputs = list(ARYL_HALIDE_INPUTS)
    camp = Campaign.create(storage, "screen", table.drop(columns="yield"), inputs=inputs,
                           objective="yield", seed=seed, max_conditions=8)
    rng = np.random.default_rng(seed)
    picked = table.iloc[rng.choice(len(table), size=conditions, replace=False)]
    past = picked.loc[picked.index.repeat(2), [*inputs, "yield"]].reset_index(drop=True)
    past["yield"] = (past["yield"] + rng.normal(0.0, 5.0, len(past))).round(3)
    camp.import_history(past)
    lab = SimulatedLab(table, inputs, "yield", seed=seed)
    camp.record(lab.measure(camp.suggest(24)))


def _env(tree: str | None) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if tree is not None:  # and run from there: `python -m` puts the working folder first
        env["PYTHONPATH"] = tree
    return env


def time_command(args: list[str], repeats: int, tree: str | None = None) -> list[float]:
    """Wall seconds of ``repeats`` runs of ``lowswitch ARGS``, each a new process (run from
    the checkout ``tree`` when given)."""
    env = _env(tree)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lowswitch.cli", *args], check=True, env=env,
                       stdout=subprocess.DEVNULL, cwd=tree)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conditions", type=int, default=1700)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/campaign_reads")
    parser.add_argument("--baseline-tree", default=None,
                        help="another lowswitch checkout to time side by side")
    args = parser.parse_args(argv)
    trees: dict[str, str | None] = {"this": None}
    if args.baseline_tree:
        trees["baseline"] = str(Path(args.baseline_tree).resolve())
    commands: dict[tuple[str, str], tuple[list[str], Path]] = {}
    for label, tree in trees.items():
        work = Path(tempfile.mkdtemp(prefix=f"lowswitch-reads-{label}-"))
        storage = str(work / "screen.db")
        subprocess.run(  # built by that checkout's own code
            [sys.executable, "-c", "import sys; from lowswitch.benchmark.campaign_reads "
             "import build; build(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))",
             storage, str(args.conditions), str(args.seed)], check=True, env=_env(tree), cwd=tree)
        base = ["--storage", storage, "--name", "screen"]
        commands[label, "suggest"] = (
            ["campaign", "suggest", *base, "--slots", "24", "--out", str(work / "p.csv")], work)
        commands[label, "best"] = (["campaign", "best", *base], work)
        commands[label, "status"] = (["campaign", "status", *base], work)
        commands[label, "report"] = (
            ["campaign", "report", *base, "--out", str(work / "report")], work)
    rows: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):  # interleaved, so that machine load hits every command alike
        for (label, name), (cmd, work) in commands.items():
            for old in [work / "p.csv", *(work / "report").glob("*")]:
                old.unlink(missing_ok=True)  # fresh outputs (suggest refuses to overwrite)
            rows.setdefault((label, name), []).extend(time_command(cmd, 1, trees[label]))
    print(f"{'tree':>8} {'command':>8} {'median s':>9} {'max s':>7} {'/ suggest':>9}")
    summary: dict[str, Any] = {}
    for (label, name), times in rows.items():
        ref = statistics.median(rows[label, "suggest"])
        med = statistics.median(times)
        summary.setdefault(label, {})[name] = {
            "median_s": med, "max_s": max(times), "ratio_to_suggest": med / ref,
            "times_s": times}
        print(f"{label:>8} {name:>8} {med:9.2f} {max(times):7.2f} {med / ref:9.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reads.json").write_text(json.dumps(
        {"conditions": args.conditions, "repeats": args.repeats, "trees": trees,
         "commands": summary}, indent=2
    ))
    print(f"wrote {out / 'reads.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
