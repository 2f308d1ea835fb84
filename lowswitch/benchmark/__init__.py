"""Benchmarks, run as ``python -m lowswitch.benchmark <name> [options]``.

Each sub-command lives in its own module ``lowswitch.benchmark.<name>`` exposing
``main(argv: list[str] | None) -> int``; it prints a table and writes JSON (and a plot
where one helps). Timings are compared as ratios measured side by side in one run, as
medians of several repetitions.
"""

from __future__ import annotations

BENCHMARKS: dict[str, str] = {
    "gp": "lowswitch.benchmark.gp",
    "bo": "lowswitch.benchmark.bo",
    "tune": "lowswitch.benchmark.tune",
    "campaign": "lowswitch.benchmark.campaign",
    "cli-start": "lowswitch.benchmark.cli_start",
    "campaign-reads": "lowswitch.benchmark.campaign_reads",
    "fantasize": "lowswitch.benchmark.fantasize",
    "gp-batched": "lowswitch.benchmark.gp_batched",
    "opt-time": "lowswitch.benchmark.opt_time",
    "suite-append": "lowswitch.benchmark.suite_append",
    "blocks": "lowswitch.benchmark.blocks",
    "paired": "lowswitch.benchmark.paired",
}

__all__ = ["BENCHMARKS"]
