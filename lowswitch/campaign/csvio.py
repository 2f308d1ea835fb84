"""Strict CSV in and safe CSV out for campaign files (candidates, results, plates, exports).

Reading ([`read_csv_text`][lowswitch.campaign.csvio.read_csv_text]) is deliberately strict, because
a lab's results file that is read "leniently" can file a yield against the wrong well:

* the file must be UTF-8 (a byte-order mark is allowed); otherwise the error names the line;
* every data row must have exactly as many fields as the header (a row with one field too
  many is *not* re-read with its first field as an index, the way ``pandas.read_csv`` does);
* quotes must be well formed; blank lines are skipped; cells are kept as text.

Numbers are read by one rule, [`parse_number`][lowswitch.campaign.csvio.parse_number]: optional
sign, ASCII digits, optional decimal point and exponent. ``1_000``, ``0x10``, ``1,5``, ``nan``,
``inf`` and non-ASCII digits are not numbers.

Writing ([`write_csv`][lowswitch.campaign.csvio.write_csv]) is atomic (a temporary file in the
target folder, then a rename) and, by default, neutralises spreadsheet formulas (CWE-1236): a text
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and is not a plain
number, is written with a leading apostrophe, which spreadsheet programs show as text instead of
evaluating. Numbers such as ``-3.5`` stay numbers. Whole floats are written without ``.0`` (``90``).

Example:
    >>> parse_number("1e3"), parse_number("1_000"), escape_formula("=1+1"), escape_formula("-3.5")
    (1000.0, None, "'=1+1", '-3.5')
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowswitch.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet evaluate a cell as a formula."""


def parse_number(text: str) -> float | None:
    """The number a cell denotes (``None`` when it is not a plain decimal number).

    Surrounding spaces are ignored. The result may be infinite for literals such as
    ``1e999``; callers that need a finite value check it.

    Example:
        >>> parse_number(" -2.5e1 "), parse_number("1_000"), parse_number("nan")
        (-25.0, None, None)
    """
    stripped = text.strip()
    return float(stripped) if _NUMBER.fullmatch(stripped) else None


def parse_integer(text: str) -> int | None:
    """The integer a cell denotes (``None`` unless it is optional sign and ASCII digits).

    Example:
        >>> parse_integer("12"), parse_integer("1.0"), parse_integer("1_2")
        (12, None, None)
    """
    stripped = text.strip()
    return int(stripped) if _INTEGER.fullmatch(stripped) else None


def escape_formula(text: str) -> str:
    """Prefix ``'`` to a text cell a spreadsheet would evaluate (plain numbers are kept).

    Example:
        >>> escape_formula("@SUM(A1)"), escape_formula("XPhos"), escape_formula("+7")
        ("'@SUM(A1)", 'XPhos', '+7')
    """
    if text.startswith(FORMULA_STARTS) and parse_number(text) is None:
        return "'" + text
    return text


def unescape_formula(text: str) -> str:
    """Inverse of [`escape_formula`][lowswitch.campaign.csvio.escape_formula] on its outputs (other
    text is returned unchanged).

    Example:
        >>> unescape_formula("'=1+1"), unescape_formula("'quoted")
        ('=1+1', "'quoted")
    """
    if text.startswith("'") and escape_formula(text[1:]) == text:
        return text[1:]
    return text


def format_cell(value: Any, escape_formulas: bool = True) -> str:
    """Text written to a CSV for one value.

    Missing values (``None``, NaN) become empty cells, whole floats are written as integers
    (``90.0`` -> ``90``), other floats with ``repr`` (exact round trip), text is escaped with
    [`escape_formula`][lowswitch.campaign.csvio.escape_formula] when ``escape_formulas``.

    Example:
        >>> [format_cell(v) for v in (90.0, 0.1, None, float("nan"), "=A1", True)]
        ['90', '0.1', '', '', "'=A1", 'True']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return ""
        if number.is_integer() and abs(number) < 2.0**53:
            return str(int(number))
        return repr(number)
    text = str(value)
    return escape_formula(text) if escape_formulas else text


def _decode(data: bytes, what: str, file: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{what}: {str(file)!r} line {line} is not UTF-8 text (byte "
            f"0x{data[err.start]:02x}); save the file as 'CSV UTF-8'"
        ) from None


def parse_csv_text(text: str, what: str) -> pd.DataFrame:
    """Parse CSV text strictly into a DataFrame of strings (see the module docstring).

    Args:
        text: the file's content.
        what: name used in error messages (``results``, ``candidates``, ...).

    Returns:
        One row per data row, every cell a string; ``frame.attrs["lines"]`` holds the file
        line on which each data row starts (the header is on the first non-blank line).

    Raises:
        InputError: no header, an empty or repeated column name, a row whose field count
            differs from the header's, or malformed quoting; the message names the line.

    Example:
        >>> parse_csv_text("id,y\\n1,2\\n\\n3,4\\n", "results").attrs["lines"]
        [2, 4]
        >>> try:
        ...     parse_csv_text("id,y\\n2,5,77\\n", "results")
        ... except ValueError as err:
        ...     print(err)
        results row 1 (line 2): expected 2 fields as in the header ['id', 'y'], got 3
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    last_line = 0
    try:
        for fields in reader:
            start, last_line = last_line + 1, reader.line_num
            if not fields:
                continue
            if header is None:
                header = [f.strip() for f in fields]
                if "" in header:
                    raise InputError(
                        f"{what} line {start}: empty column name in the header {header}"
                    )
                if len(set(header)) != len(header):
                    raise InputError(f"{what} line {start}: repeated column names in {header}")
                continue
            if len(fields) != len(header):
                raise InputError(
                    f"{what} row {len(rows) + 1} (line {start}): expected {len(header)} fields "
                    f"as in the header {header}, got {len(fields)}"
                )
            rows.append(fields)
            lines.append(start)
    except csv.Error as err:
        raise InputError(f"{what} line {reader.line_num}: malformed CSV ({err})") from None
    if header is None:
        raise InputError(f"{what}: expected a header row, got an empty file")
    import pandas as pd

    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame.attrs["lines"] = lines
    return frame


def read_csv_text(path: str | os.PathLike[str], what: str) -> pd.DataFrame:
    """Read a CSV file strictly, every cell as text (see
    [`parse_csv_text`][lowswitch.campaign.csvio.parse_csv_text]).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
        >>> _ = p.write_text("experiment_id,yield\\n1,\\n")
        >>> read_csv_text(p, "results").to_dict("records")
        [{'experiment_id': '1', 'yield': ''}]
    """
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{what}: expected an existing CSV file, got {str(file)!r}")
    return parse_csv_text(_decode(file.read_bytes(), what, file), what)


def check_writable(path: str | os.PathLike[str], what: str, overwrite: bool) -> Path:
    """Check that a file can be created at ``path`` before any work is done.

    Raises:
        InputError: the folder does not exist, ``path`` is a folder, or the file exists and
            ``overwrite`` is False.
    """
    out = Path(path)
    if out.is_dir():
        raise InputError(f"{what}: expected a file name, got the folder {str(out)!r}")
    if not out.parent.is_dir():
        raise InputError(f"{what}: the folder {str(out.parent)!r} does not exist")
    if out.exists() and not overwrite:
        raise InputError(
            f"{what}: {str(out)!r} exists already; choose another name or pass --force"
        )
    return out


def write_csv(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    escape_formulas: bool = True,
    what: str = "out",
    overwrite: bool = True,
) -> Path:
    """Write ``frame`` (no index) atomically, cells formatted by
    [`format_cell`][lowswitch.campaign.csvio.format_cell].

    Args:
        frame: table to write.
        path: target file; its folder must exist.
        escape_formulas: neutralise formula cells (see the module docstring).
        what: name used in error messages.
        overwrite: replace an existing file.

    Returns:
        The written path.
    """
    out = check_writable(path, what, overwrite)
    staged = stage_csv(frame, out, escape_formulas)
    os.replace(staged, out)
    return out


def stage_csv(frame: pd.DataFrame, path: Path, escape_formulas: bool = True) -> Path:
    """Write ``frame`` to a new temporary file next to ``path`` (flushed to disk).

    Rename it onto ``path`` with ``os.replace`` to publish it atomically.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([format_cell(c, escape_formulas) for c in frame.columns])
            for row in frame.itertuples(index=False):
                writer.writerow([format_cell(v, escape_formulas) for v in row])
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


__all__ = [
    "FORMULA_STARTS",
    "check_writable",
    "escape_formula",
    "format_cell",
    "parse_csv_text",
    "parse_integer",
    "parse_number",
    "read_csv_text",
    "stage_csv",
    "unescape_formula",
    "write_csv",
]
