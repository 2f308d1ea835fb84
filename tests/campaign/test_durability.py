"""Durability: kill -9 a `record` mid-transaction, concurrent writers (SQLite and PostgreSQL).

Each `record` / `suggest` here is a separate ``lowswitch`` process. ``faults.py`` (next to
this file) runs it with a SQLAlchemy engine event that sleeps inside the open transaction,
right after the measurement rows (``record``) or the plate's experiments (``suggest``) are
inserted, and touches a mark file to tell the test it got there. The library itself has no
test hooks.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from campaign_helpers import INPUTS, cli_env, fault_command, run_cli

from lowswitch.campaign import Campaign, SimulatedLab


def snapshot(url: str, name: str) -> tuple[dict, list]:
    camp = Campaign.open(url, name)
    hist = camp.history().drop(columns=["measurement_id", "import_id"])
    return camp.status(), hist.astype(str).values.tolist()


def start_record(
    url: str, name: str, path: Path, pause: float, mark: str = "-", *extra: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        fault_command("record", pause, mark, "campaign", "record", "--storage", url,
                      "--name", name, "--results", str(path), *extra),
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else b""
            raise AssertionError(f"record exited early: {err!r}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("record never reached its transaction")
        time.sleep(0.05)


@pytest.fixture
def plate_file(storage_url: str, name: str, screen: pd.DataFrame, tmp_path: Path) -> Path:
    camp = Campaign.create(storage_url, name, screen.drop(columns="yield"), inputs=INPUTS,
                           objective="yield", initial_conditions=6)
    results = SimulatedLab(screen, INPUTS, "yield", seed=0).measure(camp.suggest(slots=24))
    path = tmp_path / "plate1.csv"
    results.to_csv(path, index=False)
    return path


def test_kill_9_inside_record_leaves_nothing_and_campaign_continues(
    storage_url: str, name: str, plate_file: Path, tmp_path: Path
) -> None:
    before = snapshot(storage_url, name)
    for attempt in range(4):
        mark = tmp_path / f"inside-{attempt}"
        proc = start_record(storage_url, name, plate_file, 120, str(mark))
        wait_for(mark, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert snapshot(storage_url, name) == before  # no partial rows
    run_cli("campaign", "record", "--storage", storage_url, "--name", name,
            "--results", str(plate_file))
    after = Campaign.open(storage_url, name).status()
    assert after["experiments"] == {"pending": 0, "done": 24, "failed": 0}
    assert after["measurements"] == 24
    plate2 = Campaign.open(storage_url, name).suggest(slots=6)
    assert len(plate2) == 6 and plate2["experiment_id"].min() == 25


def test_kill_9_at_random_moments_is_all_or_nothing(
    storage_url: str, name: str, plate_file: Path
) -> None:
    for delay in (0.2, 1.0, 2.0, 3.0, 4.0, 6.0):
        proc = start_record(storage_url, name, plate_file, 1, "-", "--allow-duplicate")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        info = Campaign.open(storage_url, name).status()
        # every record of this file stores 24 measurements (re-measurements) or none
        assert info["measurements"] % 24 == 0
        assert info["experiments"]["pending"] in (0, 24)
        assert info["experiments"]["pending"] == (24 if info["measurements"] == 0 else 0)


def test_concurrent_records_lose_nothing(
    storage_url: str, name: str, plate_file: Path, tmp_path: Path
) -> None:
    results = pd.read_csv(plate_file, dtype=str, keep_default_na=False)
    paths = []
    for k in range(3):
        path = tmp_path / f"part{k}.csv"
        results.iloc[k * 8:(k + 1) * 8].to_csv(path, index=False)
        paths.append(path)
    procs = [start_record(storage_url, name, p, 2) for p in paths]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    camp = Campaign.open(storage_url, name)
    assert camp.status()["experiments"] == {"pending": 0, "done": 24, "failed": 0}
    stored = camp.history().set_index("experiment_id")["value"].sort_index()
    expected = results.set_index(results["experiment_id"].astype(int))["yield"].astype(float)
    assert stored.tolist() == expected.sort_index().tolist()


def test_concurrent_suggests_are_serialised(
    storage_url: str, name: str, plate_file: Path, tmp_path: Path
) -> None:
    run_cli("campaign", "record", "--storage", storage_url, "--name", name,
            "--results", str(plate_file))
    outs = [tmp_path / f"s{k}.csv" for k in range(2)]
    procs = [
        subprocess.Popen(
            fault_command("suggest", 1, "-", "campaign", "suggest", "--storage", storage_url,
                          "--name", name, "--slots", "5", "--out", str(out)),
            env=cli_env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for out in outs
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    plates = [pd.read_csv(out) for out in outs]
    ids = sorted(i for p in plates for i in p["experiment_id"])
    assert ids == list(range(25, 35))
    assert sorted(int(p["plate"].iloc[0]) for p in plates) == [2, 3]
    assert Campaign.open(storage_url, name).status()["experiments"]["pending"] == 10
