"""Smoke test of ``python -m lowswitch.benchmark opt-time`` (seconds)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lowswitch.benchmark.opt_time import main


def test_opt_time_writes_runs_summary_and_acquisition_timings(tmp_path: Path) -> None:
    argv = ["--problems", "branin", "--methods", "ei-C2,optuna-gp", "--budget", "8",
            "--seeds", "1", "--q", "10", "--reps", "1", "--out", str(tmp_path)]
    assert main(argv) == 0
    data = json.loads((tmp_path / "opt_time.json").read_text())
    assert set(data["acquisition_ms"]) == {
        "unique_point_gp", "general_posterior_path", "single_task_gp"}
    assert all(v > 0 for v in data["acquisition_ms"].values())
    by = {r["method"]: r for r in data["summary"]}
    assert by["optuna-gp"]["vs_reference"] == 1.0
    assert math.isfinite(by["ei-C2"]["vs_reference"]) and by["ei-C2"]["cpu_ms_per_eval"] > 0
    assert {r["evaluations"] for r in data["runs"]} == {8}


def test_opt_time_refuses_unknown_problems(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown"):
        main(["--problems", "nope", "--out", str(tmp_path), "--skip-runs"])
