"""The command line's error paths and start-up cost (issue 13, items 5, 8 and the fast CLI).

Every failure must be one ``error: ...`` line with exit status 2, never a traceback, and must
store nothing. The commands run in-process through Typer's runner (the same code path as the
console script, and fast); the start-up test runs a separate process to see its imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from campaign_helpers import cli_env
from typer.testing import CliRunner

from lowswitch.campaign import Campaign
from lowswitch.cli import app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails with it
    return result.exit_code, result.stdout, result.stderr


def make_db(tmp_path: Path) -> str:
    db = str(tmp_path / "lab.db")
    Campaign.create(db, "c", pd.DataFrame({"x": list("abcdef"), "T": [90, 120] * 3}),
                    inputs=["x", "T"], objective="y", initial_conditions=3).storage.dispose()
    return db


def status(db: str) -> dict:
    code, out, err = run("campaign", "status", "--storage", db, "--name", "c", "--json")
    assert code == 0, err
    return json.loads(out)


def refused(*args: str, match: str) -> None:
    code, _, err = run(*args)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert match in err, err


def test_storage_problems_print_one_error_line(tmp_path: Path) -> None:
    """Item 8: each of these printed a traceback; a mistyped path created an empty database."""
    csv_file = tmp_path / "results.csv"
    csv_file.write_text("experiment_id,yield\n1,2\n")
    typo = tmp_path / "lab-typo.db"
    cases = [
        (str(tmp_path / "no-such-dir" / "lab.db"), "does not exist"),
        (str(csv_file), "as a lowswitch database"),
        ("postgresql://u:pw@127.0.0.1:1/db", "as a lowswitch database"),
        ("postgresql+asyncpg://u@localhost/db", "asyncpg"),
        (str(typo), "no database at"),
    ]
    for storage, match in cases:
        refused("campaign", "status", "--storage", storage, "--name", "c", match=match)
    refused("campaign", "list", "--storage", str(typo), match="no database at")
    assert not typo.exists()
    good = make_db(tmp_path)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(Path(good).read_bytes()[:1500])
    refused("campaign", "status", "--storage", str(truncated), "--name", "c",
            match="as a lowswitch database")


def test_output_paths_are_checked_before_anything_is_stored(tmp_path: Path) -> None:
    """Items 5 and 8: --out into a missing folder stored a plate nobody received; an existing
    plate file was overwritten; report/export onto a file/folder printed tracebacks."""
    db = make_db(tmp_path)
    before = status(db)
    refused("campaign", "suggest", "--storage", db, "--name", "c", "--slots", "3", "--out",
            str(tmp_path / "missing" / "plate.csv"), match="does not exist")
    typed_in = tmp_path / "plate1.csv"
    typed_in.write_text("experiment_id,y\n1,55\n")
    refused("campaign", "suggest", "--storage", db, "--name", "c", "--slots", "3", "--out",
            str(typed_in), match="exists already")
    assert typed_in.read_text() == "experiment_id,y\n1,55\n"
    refused("campaign", "report", "--storage", db, "--name", "c", "--out", str(typed_in),
            match="expected a folder")
    refused("campaign", "export", "--storage", db, "--name", "c", "--out", str(tmp_path),
            match="got the folder")
    refused("campaign", "best", "--storage", db, "--name", "c", "--k", "-1",
            match="k: expected an integer >= 1")
    assert status(db) == before
    assert run("campaign", "suggest", "--storage", db, "--name", "c", "--slots", "3", "--out",
               str(typed_in), "--force")[0] == 0
    plate = pd.read_csv(typed_in, dtype=str)
    assert len(plate) == 3 and set(plate["T"]) <= {"90", "120"}
    assert status(db)["experiments"]["pending"] == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_help_and_status_do_not_import_torch(tmp_path: Path) -> None:
    """Fast start: `lowswitch --help`, `status` and `list` stay off torch, botorch,
    matplotlib, and also pandas and numpy."""
    db = make_db(tmp_path)
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lowswitch.cli import app\n"
        "for args in (['--help'], ['campaign', 'status', '--storage', sys.argv[1], '--name', 'c'],"
        " ['campaign', 'list', '--storage', sys.argv[1]]):\n"
        "    result = CliRunner().invoke(app, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        "heavy = ('torch', 'botorch', 'gpytorch', 'matplotlib', 'scipy', 'pandas', 'numpy')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, db], capture_output=True, text=True,
                          env=cli_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("flag", [[], ["--no-escape-formulas"]])
def test_plate_file_formula_cells(tmp_path: Path, flag: list[str]) -> None:
    """Item 6 from the command line: plate files neutralise formulas unless told not to."""
    db = str(tmp_path / "lab.db")
    Campaign.create(db, "c", pd.DataFrame({"x": ["=1+2", "-3.5", "@A1"]}), inputs=["x"],
                    objective="y", initial_conditions=3).storage.dispose()
    out = tmp_path / "plate.csv"  # 6 wells: the 3 design conditions x 2 replicates
    assert run("campaign", "suggest", "--storage", db, "--name", "c", "--slots", "6", "--out",
               str(out), *flag)[0] == 0
    cells = set(pd.read_csv(out, dtype=str)["x"])
    assert cells == ({"=1+2", "-3.5", "@A1"} if flag else {"'=1+2", "-3.5", "'@A1"})


def test_a_failed_commit_leaves_no_plate_file_and_no_plate(tmp_path: Path) -> None:
    """Item 5: the plate file is staged inside the transaction; if the commit fails, the
    staged file is removed, no file appears at --out, and no well is pending."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.exc import OperationalError

    db = make_db(tmp_path)
    before = status(db)
    out = tmp_path / "plate.csv"

    def fail_commit(conn: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error (injected)"))

    event.listen(Engine, "commit", fail_commit)
    try:
        refused("campaign", "suggest", "--storage", db, "--name", "c", "--slots", "3", "--out",
                str(out), match="disk I/O error (injected)")
    finally:
        event.remove(Engine, "commit", fail_commit)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert status(db) == before
