"""Start-up cost of the ``lowswitch`` command, side by side with ``import torch``.

``python -m lowswitch.benchmark cli-start --storage results/demo/demo.db`` runs, interleaved
and ``--repeats`` times each, ``lowswitch --help``, ``lowswitch campaign status`` on the
given database (its first campaign unless ``--name``), and ``python -c "import torch"`` as
the yardstick, each as a fresh process. It prints median and max wall times, median CPU
times (user + system, less sensitive to a loaded machine than wall time) and their ratios
to the torch import, and writes ``results/cli_start/cli_start.json``.

The ``lowswitch`` command imports torch, the GP stack and matplotlib only inside the commands
that plan, fit or plot (tested in ``tests/campaign/test_cli_safety.py``); this benchmark shows
what that buys in wall time on the machine at hand.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lowswitch.benchmark cli-start")
    parser.add_argument("--storage", required=True, help="Campaign database (e.g. the demo's).")
    parser.add_argument("--name", default=None, help="Campaign (default: the first listed).")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("results/cli_start"))
    args = parser.parse_args(argv)
    cli = [sys.executable, "-m", "lowswitch.cli"]
    name = args.name
    if name is None:
        listed = subprocess.run([*cli, "campaign", "list", "--storage", args.storage],
                                check=True, capture_output=True, text=True).stdout.split()
        name = listed[0]
    commands = {
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "lowswitch --help": [*cli, "--help"],
        "lowswitch campaign status": [*cli, "campaign", "status", "--storage", args.storage,
                                      "--name", name],
    }
    walls: dict[str, list[float]] = {label: [] for label in commands}
    cpus: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.repeats):
        for label, command in commands.items():
            wall, cpu = _run(command)
            walls[label].append(wall)
            cpus[label].append(cpu)
    torch_label = "python -c 'import torch'"
    base, base_cpu = statistics.median(walls[torch_label]), statistics.median(cpus[torch_label])
    rows = []
    print(f"{'command':<28} {'wall median s':>14} {'wall max s':>11} {'/ torch':>8} "
          f"{'CPU median s':>13} {'/ torch':>8}")
    for label in commands:
        med, cpu = statistics.median(walls[label]), statistics.median(cpus[label])
        rows.append({"command": label, "wall_median_s": med, "wall_max_s": max(walls[label]),
                     "wall_ratio_to_import_torch": med / base, "cpu_median_s": cpu,
                     "cpu_ratio_to_import_torch": cpu / base_cpu,
                     "wall_runs_s": walls[label], "cpu_runs_s": cpus[label]})
        print(f"{label:<28} {med:>14.3f} {max(walls[label]):>11.3f} {med / base:>8.2f} "
              f"{cpu:>13.3f} {cpu / base_cpu:>8.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "cli_start.json"
    path.write_text(json.dumps({"storage": args.storage, "campaign": name,
                                "repeats": args.repeats, "rows": rows}, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
