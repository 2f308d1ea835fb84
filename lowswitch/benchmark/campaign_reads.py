"""Cost of the read commands (``best``, ``status``, ``report``) next to ``suggest``.

A campaign on the bundled aryl halide screen (4,599 candidates) with an imported history of
``--conditions`` distinct conditions (two replicates each, the screen's yield plus noise),
then one ``suggest`` + ``record`` round so that a GP fit is stored. Each command then runs
``--repeats`` times as its own ``lowswitch`` process (what a user waits for); the table gives
the median and the maximum wall seconds per call, and the ratio to ``suggest`` measured in the
same run. Writes ``results/campaign_reads/reads.json``::

    python -m lowswitch.benchmark.campaign_reads --conditions 1700 --repeats 5
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


def time_command(args: list[str], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` runs of ``lowswitch ARGS``, each a new process."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lowswitch.cli", *args], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conditions", type=int, default=1700)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/campaign_reads")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="lowswitch-reads-"))
    storage = str(work / "screen.db")
    build(storage, args.conditions, args.seed)
    base = ["--storage", storage, "--name", "screen"]
    commands = {
        "suggest": ["campaign", "suggest", *base, "--slots", "24", "--out", str(work / "p.csv")],
        "best": ["campaign", "best", *base],
        "status": ["campaign", "status", *base],
        "report": ["campaign", "report", *base, "--out", str(work / "report")],
    }
    rows: dict[str, Any] = {}
    for _ in range(args.repeats):  # interleaved, so that machine load hits every command alike
        for name, cmd in commands.items():
            if name == "report":
                for old in (work / "report").glob("*"):
                    old.unlink()
            rows.setdefault(name, []).extend(time_command(cmd, 1))
    ref = statistics.median(rows["suggest"])
    print(f"{'command':>8} {'median s':>9} {'max s':>7} {'/ suggest':>9}")
    summary = {}
    for name, times in rows.items():
        med = statistics.median(times)
        summary[name] = {"median_s": med, "max_s": max(times), "ratio_to_suggest": med / ref,
                         "times_s": times}
        print(f"{name:>8} {med:9.2f} {max(times):7.2f} {med / ref:9.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reads.json").write_text(json.dumps(
        {"conditions": args.conditions, "repeats": args.repeats, "commands": summary}, indent=2
    ))
    print(f"wrote {out / 'reads.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
