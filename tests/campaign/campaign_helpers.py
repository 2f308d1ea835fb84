"""Helpers of the campaign tests (importable: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd

from lowswitch.campaign.simulate import ARYL_HALIDE_INPUTS, aryl_halide_table

PG_URL = os.environ.get("LOWSWITCH_TEST_POSTGRES_URL", "")
INPUTS = list(ARYL_HALIDE_INPUTS)


def small_screen() -> pd.DataFrame:
    """144 conditions of the aryl halide screen (3 bases x 4 ligands x 3 halides x 4 additives)."""
    table = aryl_halide_table()
    halides = sorted(table["aryl_halide"].unique())[:3]
    additives = sorted(table["additive"].unique())[:4]
    keep = table["aryl_halide"].isin(halides) & table["additive"].isin(additives)
    return table[keep].reset_index(drop=True)


def cli_command(*args: str) -> list[str]:
    """Command line of ``lowswitch ARGS`` run as a new Python process."""
    return [sys.executable, "-m", "lowswitch.cli", *args]


def fault_command(stage: str, seconds: float, mark: str, *args: str) -> list[str]:
    """Command line of ``lowswitch ARGS`` that pauses ``seconds`` inside its ``stage``
    transaction (``record`` / ``suggest``; see ``faults.py``), touching ``mark`` first."""
    script = os.path.join(os.path.dirname(__file__), "faults.py")
    return [sys.executable, script, stage, str(seconds), mark, "--", *args]


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``lowswitch ARGS`` in a new process and return it (raise on failure if ``check``)."""
    proc = subprocess.run(
        cli_command(*args), capture_output=True, text=True, env=cli_env(**(env or {})),
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"lowswitch {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
