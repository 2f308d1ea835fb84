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
    assert (tmp_path / "opt_time.png").stat().st_size > 0


def test_plot_from_draws_the_ratios_of_stored_summaries(tmp_path: Path) -> None:
    src = tmp_path / "a.json"
    src.write_text(json.dumps({"summary": [
        {"problem": p, "method": m, "vs_reference": v, "cpu_ms_per_eval": 1.0, "switches": 3}
        for p, m, v in [("branin", "ts-C2", 0.5), ("levy4", "ts-C2", 1.5),
                        ("branin", "optuna-gp", 1.0)]]}))
    from lowswitch.benchmark.opt_time import ratio_series

    assert ratio_series([f"TS={src}:ts-C2"]) == {"TS": {"branin": 0.5, "levy4": 1.5}}
    out = tmp_path / "plot"
    assert main(["--out", str(out), "--plot-from", f"TS={src}:ts-C2",
                 "--plot-from", f"GP={src}:optuna-gp"]) == 0
    assert (out / "opt_time.png").stat().st_size > 0
    assert not (out / "opt_time.json").exists()  # no timing ran


@pytest.mark.parametrize(("spec", "match"), [
    ("no-equals", "LABEL=FILE:METHOD"), ("TS=file-without-method", "LABEL=FILE:METHOD"),
    ("TS={src}:ucb-C2", "no summary rows"), ("TS=/nonexistent/x.json:ts-C2", "No such file"),
])
def test_plot_from_refuses_bad_specs(tmp_path: Path, spec: str, match: str) -> None:
    src = tmp_path / "a.json"
    src.write_text(json.dumps({"summary": [{"problem": "branin", "method": "ts-C2",
                                            "vs_reference": 0.5}]}))
    with pytest.raises(SystemExit, match=match):
        main(["--out", str(tmp_path / "plot"), "--plot-from", spec.format(src=src)])


def test_opt_time_refuses_unknown_problems(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown"):
        main(["--problems", "nope", "--out", str(tmp_path), "--skip-runs"])
