"""The gp-batched benchmark runs end to end on a tiny problem and writes its JSON."""

from __future__ import annotations

import json

from lowswitch.benchmark import BENCHMARKS
from lowswitch.benchmark.gp_batched import main, make_data


def test_make_data_has_q_unique_inputs_per_set():
    X, Y = make_data(b=3, t=12, q=4, d=2, seed=0)
    assert X.shape == (3, 12, 2) and Y.shape == (3, 12, 1)
    assert [int(X[j].unique(dim=0).shape[0]) for j in range(3)] == [4, 4, 4]


def test_gp_batched_benchmark_tiny(tmp_path, capsys):
    assert BENCHMARKS["gp-batched"] == "lowswitch.benchmark.gp_batched"
    argv = ["--b", "2", "--t", "40", "--q", "8", "--d", "2", "--m", "5", "--reps", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    rec = json.loads((tmp_path / "gp_batched.json").read_text())["record"]
    for stage in ("build", "fit", "posterior"):
        assert rec[f"{stage}_batched_s"] > 0 and rec[f"{stage}_loop_s"] > 0
    # the joint fit reaches each set's own optimum (to the optimiser's tolerance)
    assert rec["joint_minus_separate_objective_max_abs"] < 1e-2
    assert "loop/batched" in capsys.readouterr().out
