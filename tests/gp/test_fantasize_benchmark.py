"""The fantasize benchmark runs end to end on a tiny grid and writes its JSON."""

from __future__ import annotations

import json

from lowswitch.benchmark import BENCHMARKS
from lowswitch.benchmark.fantasize import main


def test_fantasize_benchmark_tiny(tmp_path, capsys):
    assert BENCHMARKS["fantasize"] == "lowswitch.benchmark.fantasize"
    argv = ["--t", "40", "400", "--q", "20", "--d", "2", "--fantasies", "4", "--m", "8"]
    argv += ["--reps", "1", "--stgp-max-t", "40", "--out", str(tmp_path)]
    assert main(argv) == 0
    records = json.loads((tmp_path / "fantasize.json").read_text())["records"]
    assert [r["t"] for r in records] == [40, 400]
    assert records[0]["single_task_gp_s"] > 0 and records[1]["single_task_gp_s"] is None
    assert "UniquePointGP s" in capsys.readouterr().out
