"""Strict CSV reading and safe CSV writing of campaign files (issue 13, items 1, 6, 8, 9)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from lowswitch.campaign.csvio import (
    check_writable,
    escape_formula,
    format_cell,
    parse_csv_text,
    parse_number,
    read_csv_text,
    unescape_formula,
    write_csv,
)
from lowswitch.errors import InputError


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1.0), (" -2.5 ", -2.5), ("+.5", 0.5), ("1e3", 1000.0), ("1E-2", 0.01), ("7.", 7.0),
     ("1_000", None), ("nan", None), ("inf", None), ("0x10", None), ("1,5", None),
     ("\u0661\u0662", None), ("\uff11", None), ("", None), ("1e", None), ("--1", None)],
)
def test_parse_number_accepts_plain_decimals_only(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "escaped"),
    [("=1+1", "'=1+1"), ("+A1", "'+A1"), ("-A1", "'-A1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("-3.5", "-3.5"), ("+7", "+7"), ("XPhos", "XPhos"),
     ("a=b", "a=b"), ("'x", "'x")],
)
def test_escape_formula(text: str, escaped: str) -> None:
    assert escape_formula(text) == escaped
    assert unescape_formula(escaped) == text


def test_text_that_looks_escaped_is_left_alone_on_write() -> None:
    # "'=x" is not a formula; reading it back could mean "'=x" or "=x", which is why
    # history imports refuse a cell that matches two candidates (see test_tables).
    assert escape_formula("'=x") == "'=x" and unescape_formula("'=x") == "=x"


def test_format_cell_writes_whole_numbers_as_integers() -> None:
    """Item 9: integer inputs came back as `90.0` in plate files."""
    assert [format_cell(v) for v in (90.0, -3.0, 2.5, 1e20, 0.1, float("nan"), None, 7)] == [
        "90", "-3", "2.5", "1e+20", "0.1", "", "", "7"
    ]
    assert format_cell("=cmd", escape_formulas=False) == "=cmd"


def test_write_csv_neutralises_formulas_keeps_numbers_and_is_atomic(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\")", "-3.5", "@x"],
                          "T": [90.0, -3.5, 1.25]})
    out = write_csv(frame, tmp_path / "f.csv")
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["name", "T"], ["'=HYPERLINK(\"http://x\")", "90"], ["-3.5", "-3.5"],
                    ["'@x", "1.25"]]
    write_csv(frame, out, escape_formulas=False)
    assert out.read_text().splitlines()[1] == '"=HYPERLINK(""http://x"")",90'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv"]  # no temporary left


def test_check_writable(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text("x\n")
    with pytest.raises(InputError, match=r"exists already.*--force"):
        check_writable(tmp_path / "old.csv", "out", overwrite=False)
    with pytest.raises(InputError, match="does not exist"):
        check_writable(tmp_path / "missing" / "p.csv", "out", overwrite=False)
    with pytest.raises(InputError, match="got the folder"):
        check_writable(tmp_path, "out", overwrite=True)
    assert check_writable(tmp_path / "old.csv", "out", overwrite=True) == tmp_path / "old.csv"


def test_strict_reading_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("experiment_id,base\n1,caf\u00e9\n2,na\u00efve\n".encode("latin-1"))
    with pytest.raises(InputError, match="line 2 is not UTF-8"):
        read_csv_text(path, "results")
    path.write_bytes("\ufeffexperiment_id,base\n1,caf\u00e9\n".encode())
    assert read_csv_text(path, "results").to_dict("records") == [
        {"experiment_id": "1", "base": "caf\u00e9"}
    ]
    with pytest.raises(InputError, match="line 3: malformed CSV"):
        parse_csv_text('a,b\n1,2\n3,"4"x\n', "results")
    with pytest.raises(InputError, match="repeated column names"):
        parse_csv_text("a,a\n1,2\n", "results")
    with pytest.raises(InputError, match="empty column name"):
        parse_csv_text("a,\n1,2\n", "results")
    with pytest.raises(InputError, match="empty file"):
        parse_csv_text("\n\n", "results")
    frame = parse_csv_text('a,b\n"1\n2",3\n4,5\n', "results")
    assert frame.attrs["lines"] == [2, 4] and frame["a"].tolist() == ["1\n2", "4"]
