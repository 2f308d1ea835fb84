"""CSV tables of a campaign: candidate tables in, results in, plates and exports out.

All validation of user files happens here, before anything touches the database, so that a
bad file raises :class:`~lowswitch.errors.InputError` naming the offending row and nothing of
it is stored. Row numbers in messages are 1-based data rows; ``line`` is the line of the CSV
file (the header is line 1).

Results files (``record``) have an ``experiment_id`` column and the objective column; a blank
objective cell means "not measured yet" (the row is skipped), ``failed`` marks a failed well.
They may also carry the columns that ``suggest`` wrote (``plate``, ``block``, ``replicate``
and the input columns); input values must then match the experiment they belong to.

Example:
    >>> import pandas as pd
    >>> rows = parse_results(
    ...     pd.DataFrame({"experiment_id": ["1", "2", "3"], "yield": ["41.5", "failed", ""]}),
    ...     objective="yield", inputs=["base"], experiments={1: {"base": "P2Et"},
    ...     2: {"base": "MTBD"}, 3: {"base": "MTBD"}}, allowed={"base": {"P2Et", "MTBD"}})
    >>> [(r.experiment, r.value, r.failed) for r in rows]
    [(1, 41.5, False), (2, None, True)]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lowswitch.errors import InputError

PLATE_COLUMNS = ("experiment_id", "plate", "block", "replicate")
"""Bookkeeping columns written by ``suggest`` before the input columns."""

FAILED = "failed"
"""Cell text (case-insensitive) that marks a failed well in a results file."""


def read_csv_text(path: str | os.PathLike[str], what: str) -> pd.DataFrame:
    """Read a CSV with every cell as text (blank cells stay ``''``).

    Args:
        path: file to read.
        what: argument name used in error messages.

    Returns:
        DataFrame of strings.

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
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{what}: {str(file)!r} is not a readable CSV file ({err})") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _is_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value)


def typed_column(values: Sequence[str]) -> list[Any]:
    """Values of a text column as floats when every cell is a finite number, else stripped text.

    Example:
        >>> typed_column(["1", "2.5"]), typed_column(["a", "2"])
        ([1.0, 2.5], ['a', '2'])
    """
    texts = [str(v).strip() for v in values]
    if texts and all(_is_number(t) for t in texts):
        return [float(t) for t in texts]
    return texts


def validate_candidates(
    frame: pd.DataFrame, inputs: Sequence[str], descriptors: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Check a candidate table and return its rows as JSON-safe dicts.

    Args:
        frame: candidate table (any dtypes; cells are read as text and re-typed per column).
        inputs: columns that identify a condition (what the chemist sets).
        descriptors: numeric columns used as features (e.g. a ligand's cone angle).

    Returns:
        One dict per row with the ``inputs`` and ``descriptors`` values; a column whose cells
        are all numbers is numeric (float), any other column is categorical (text).

    Raises:
        InputError: missing or repeated column, empty cell, text in a descriptor column,
            duplicate condition (same input values twice).

    Example:
        >>> validate_candidates(pd.DataFrame({"base": ["A", "B"], "T": [20, 40]}), ["base", "T"])
        [{'base': 'A', 'T': 20.0}, {'base': 'B', 'T': 40.0}]
    """
    inputs = list(inputs)
    descriptors = list(descriptors)
    if not inputs:
        raise InputError("inputs: expected at least one input column, got none")
    wanted = inputs + descriptors
    if len(set(wanted)) != len(wanted):
        raise InputError(f"inputs/descriptors: expected distinct column names, got {wanted}")
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InputError(
            f"candidates: missing column(s) {missing}; the file has {list(frame.columns)}"
        )
    if len(frame) == 0:
        raise InputError("candidates: expected at least one candidate row, got an empty table")
    columns: dict[str, list[Any]] = {}
    for col in wanted:
        cells = ["" if pd.isna(v) else str(v).strip() for v in frame[col].tolist()]
        for i, cell in enumerate(cells):
            if cell == "":
                raise InputError(f"candidates row {i + 1} (line {i + 2}): column {col!r} is empty")
        typed = typed_column(cells)
        if col in descriptors and typed and isinstance(typed[0], str):
            bad = next(i for i, t in enumerate(cells) if not _is_number(t))
            raise InputError(
                f"candidates row {bad + 1} (line {bad + 2}): descriptor column {col!r} must be "
                f"numeric, got {cells[bad]!r}"
            )
        columns[col] = typed
    rows = [{c: columns[c][i] for c in wanted} for i in range(len(frame))]
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(rows):
        key = tuple(row[c] for c in inputs)
        if key in seen:
            shown = dict(zip(inputs, key, strict=True))
            raise InputError(
                f"candidates row {i + 1} (line {i + 2}): condition {shown} "
                f"repeats row {seen[key] + 1}"
            )
        seen[key] = i
    return rows


@dataclass(frozen=True)
class ResultRow:
    """One usable row of a results file.

    Attributes:
        experiment: experiment number (the ``experiment_id`` column).
        value: measured objective, or ``None`` for a failed well.
        failed: True when the well failed.
        row: 1-based data row in the file (for messages).
    """

    experiment: int
    value: float | None
    failed: bool
    row: int


def _where(i: int) -> str:
    return f"results row {i + 1} (line {i + 2})"


def same_value(cell: str, expected: Any) -> bool:
    """Whether a text cell denotes a stored candidate value (numbers compared as floats).

    Example:
        >>> same_value("40", 40.0), same_value(" XPhos", "XPhos"), same_value("x", 1.0)
        (True, True, False)
    """
    if isinstance(expected, float):
        return _is_number(cell) and float(cell) == expected
    return cell.strip() == str(expected)


def parse_results(
    frame: pd.DataFrame,
    objective: str,
    inputs: Sequence[str],
    experiments: Mapping[int, Mapping[str, Any]],
    allowed: Mapping[str, set[Any]],
) -> list[ResultRow]:
    """Validate a results table against the campaign and return its measured rows.

    Args:
        frame: results table, cells as text (see :func:`read_csv_text`).
        objective: name of the objective column.
        inputs: the campaign's input columns (optional in the file; checked when present).
        experiments: experiment number -> its condition (input column -> value).
        allowed: input column -> set of values allowed by the campaign's space.

    Returns:
        The rows with a value or ``failed`` (blank rows are skipped), in file order.

    Raises:
        InputError: unknown or missing column, text in a numeric column, duplicate or
            unknown experiment id, input values outside the space or not matching the
            experiment; the message names the row.
    """
    known = {*PLATE_COLUMNS, objective, *inputs}
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise InputError(
            f"results: unknown column(s) {unknown}; expected experiment_id, {objective!r} and "
            f"optionally {[*PLATE_COLUMNS[1:], *inputs]}"
        )
    if len(set(frame.columns)) != len(frame.columns):
        raise InputError(f"results: repeated column names in {list(frame.columns)}")
    for col in ("experiment_id", objective):
        if col not in frame.columns:
            raise InputError(f"results: missing column {col!r}; the file has {list(frame.columns)}")
    texts = frame.astype(str).map(lambda v: v.strip())
    rows: list[ResultRow] = []
    first_row: dict[int, int] = {}
    for i, record in enumerate(texts.to_dict("records")):
        raw_id = record["experiment_id"]
        if raw_id == "":
            raise InputError(f"{_where(i)}: experiment_id is empty")
        try:
            number = int(raw_id)
        except ValueError:
            raise InputError(
                f"{_where(i)}: experiment_id must be an integer, got {raw_id!r}"
            ) from None
        if number in first_row:
            raise InputError(
                f"{_where(i)}: duplicate experiment_id {number} "
                f"(also in row {first_row[number] + 1})"
            )
        first_row[number] = i
        if number not in experiments:
            raise InputError(f"{_where(i)}: unknown experiment_id {number} in this campaign")
        for col in ("plate", "block", "replicate"):
            cell = record.get(col, "")
            if cell != "" and not cell.lstrip("-").isdigit():
                raise InputError(f"{_where(i)}: column {col!r} must be an integer, got {cell!r}")
        condition = experiments[number]
        for col in inputs:
            if col not in record or record[col] == "":
                continue
            cell = record[col]
            if not any(same_value(cell, v) for v in allowed[col]):
                raise InputError(
                    f"{_where(i)}: {col} = {cell!r} is outside the campaign's space"
                )
            if not same_value(cell, condition[col]):
                raise InputError(
                    f"{_where(i)}: {col} = {cell!r} does not match experiment {number} "
                    f"({col} = {condition[col]!r})"
                )
        cell = record[objective]
        if cell == "":
            continue
        if cell.lower() == FAILED:
            rows.append(ResultRow(number, None, True, i + 1))
            continue
        try:
            value = float(cell)
        except ValueError:
            raise InputError(
                f"{_where(i)}: {objective} must be a number, blank or 'failed', got {cell!r}"
            ) from None
        if not math.isfinite(value):
            raise InputError(f"{_where(i)}: {objective} must be finite, got {cell!r}")
        rows.append(ResultRow(number, value, False, i + 1))
    return rows


def parse_history(
    frame: pd.DataFrame,
    objective: str,
    inputs: Sequence[str],
    index: Mapping[tuple[str, ...], int],
) -> list[tuple[int, float | None]]:
    """Validate a table of past measurements (input columns + objective) for import.

    Args:
        frame: table, cells as text.
        objective: objective column (a number or ``failed``; blank rows are skipped).
        inputs: the campaign's input columns (all required).
        index: condition key (input values as stripped text, numbers via ``repr(float)``)
            -> candidate index.

    Returns:
        (candidate index, value or None for a failed well) per usable row, in file order.

    Raises:
        InputError: unknown or missing column, condition outside the campaign's candidates,
            text in the objective column; the message names the row.

    Example:
        >>> parse_history(pd.DataFrame({"x": ["a", "b"], "y": ["1.5", "failed"]}), "y", ["x"],
        ...               {("a",): 0, ("b",): 1})
        [(0, 1.5), (1, None)]
    """
    unknown = [c for c in frame.columns if c not in {objective, *inputs}]
    missing = [c for c in (*inputs, objective) if c not in frame.columns]
    if unknown or missing:
        raise InputError(
            f"history: expected exactly the columns {[*inputs, objective]}; unknown {unknown}, "
            f"missing {missing}"
        )
    out: list[tuple[int, float | None]] = []
    texts = frame.astype(str).map(lambda v: v.strip())
    for i, record in enumerate(texts.to_dict("records")):
        key = tuple(condition_key(record[c]) for c in inputs)
        if key not in index:
            raise InputError(
                f"history row {i + 1} (line {i + 2}): condition "
                f"{ {c: record[c] for c in inputs} } is outside the campaign's candidates"
            )
        cell = record[objective]
        if cell == "":
            continue
        if cell.lower() == FAILED:
            out.append((index[key], None))
            continue
        if not _is_number(cell):
            raise InputError(
                f"history row {i + 1} (line {i + 2}): {objective} must be a finite number, "
                f"blank or 'failed', got {cell!r}"
            )
        out.append((index[key], float(cell)))
    return out


def condition_key(value: Any) -> str:
    """Text key of one input value: numbers as ``repr(float)``, text stripped.

    Example:
        >>> condition_key("40"), condition_key(40.0), condition_key(" XPhos ")
        ('40.0', '40.0', 'XPhos')
    """
    if isinstance(value, float):
        return repr(value)
    text = str(value).strip()
    return repr(float(text)) if _is_number(text) else text


__all__ = [
    "FAILED",
    "PLATE_COLUMNS",
    "ResultRow",
    "condition_key",
    "parse_history",
    "parse_results",
    "read_csv_text",
    "same_value",
    "typed_column",
    "validate_candidates",
]
