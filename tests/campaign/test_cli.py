"""The chemist's loop through the command line only, every command a new process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from campaign_helpers import INPUTS, run_cli, small_screen

from lowswitch.campaign import SimulatedLab, aryl_halide_table


def chemist_loop(tmp_path: Path, screen: pd.DataFrame, rounds: int, slots: int) -> str:
    """create -> rounds x (suggest -> simulated measurement -> record), all via the CLI."""
    cands = tmp_path / "conditions.csv"
    screen.drop(columns="yield").to_csv(cands, index=False)
    db = str(tmp_path / "lab.db")
    run_cli("campaign", "create", "--storage", db, "--name", "screen", "--candidates", str(cands),
            "--inputs", ",".join(INPUTS), "--objective", "yield", "--direction", "maximize",
            "--seed", "7", "--initial-conditions", "6", "--max-conditions", "6")
    lab = SimulatedLab(screen, INPUTS, "yield", noise_sd=5.0, failure_rate=0.05, seed=11)
    for r in range(1, rounds + 1):
        plate_path = tmp_path / f"plate{r}.csv"
        run_cli("campaign", "suggest", "--storage", db, "--name", "screen", "--slots", str(slots),
                "--out", str(plate_path))
        plate = pd.read_csv(plate_path, dtype=str, keep_default_na=False)
        assert len(plate) == slots and (plate["plate"] == str(r)).all()
        lab.measure(plate).to_csv(tmp_path / f"results{r}.csv", index=False)
        run_cli("campaign", "record", "--storage", db, "--name", "screen",
                "--results", str(tmp_path / f"results{r}.csv"))
    return db


def status(db: str) -> dict:
    return json.loads(run_cli("campaign", "status", "--storage", db, "--name", "screen",
                              "--json").stdout)


def check_resume_and_report(tmp_path: Path, db: str, rounds: int, slots: int) -> None:
    info = status(db)
    assert info["plates"] == rounds
    assert sum(info["experiments"].values()) == rounds * slots
    assert info["experiments"]["pending"] == 0
    # Resume anywhere: a copy of the database continues exactly like the original.
    copy = str(tmp_path / "copy.db")
    shutil.copy(db, copy)
    outs = []
    for k, path in enumerate((db, copy)):
        out = tmp_path / f"next{k}.csv"
        run_cli("campaign", "suggest", "--storage", path, "--name", "screen", "--slots",
                str(slots), "--out", str(out))
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    best = json.loads(run_cli("campaign", "best", "--storage", db, "--name", "screen", "--json",
                              "--k", "3").stdout)
    assert len(best) == 3 and best[0]["mean"] >= best[1]["mean"] >= best[2]["mean"]
    report = tmp_path / "report"
    run_cli("campaign", "report", "--storage", db, "--name", "screen", "--out", str(report))
    png = (report / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    page = (report / "report.html").read_text()
    assert "data:image/png;base64," in page and "<table>" in page and "src=\"http" not in page
    exported = tmp_path / "all.csv"
    run_cli("campaign", "export", "--storage", db, "--name", "screen", "--out", str(exported))
    assert len(pd.read_csv(exported)) >= rounds * slots


def test_cli_loop_resume_and_report(tmp_path: Path) -> None:
    db = chemist_loop(tmp_path, small_screen(), rounds=3, slots=12)
    check_resume_and_report(tmp_path, db, rounds=3, slots=12)


@pytest.mark.slow
def test_cli_twenty_rounds_on_the_full_screen(tmp_path: Path) -> None:
    """The acceptance run: 4,599 candidates, 20 rounds of 24 wells, each command a process."""
    db = chemist_loop(tmp_path, aryl_halide_table(), rounds=20, slots=24)
    check_resume_and_report(tmp_path, db, rounds=20, slots=24)


def test_cli_bad_results_file_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    db = chemist_loop(tmp_path, small_screen(), rounds=1, slots=6)
    before = status(db)
    plate = tmp_path / "p.csv"
    run_cli("campaign", "suggest", "--storage", db, "--name", "screen", "--slots", "4",
            "--out", str(plate))
    after_suggest = status(db)
    frame = pd.read_csv(plate, dtype=str, keep_default_na=False)
    frame["yield"] = ["50", "60", "70", "lots"]
    frame["operator"] = "me"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    proc = run_cli("campaign", "record", "--storage", db, "--name", "screen", "--results",
                   str(bad), check=False)
    assert proc.returncode == 2 and "unknown column(s) ['operator']" in proc.stderr
    frame = frame.drop(columns="operator")
    frame.to_csv(bad, index=False)
    proc = run_cli("campaign", "record", "--storage", db, "--name", "screen", "--results",
                   str(bad), check=False)
    assert proc.returncode == 2 and "results row 4 (line 5)" in proc.stderr
    assert status(db) == after_suggest != before
    proc = run_cli("campaign", "status", "--storage", db, "--name", "nope", check=False)
    assert proc.returncode == 2 and "no campaign called 'nope'" in proc.stderr
