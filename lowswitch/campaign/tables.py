"""CSV tables of a campaign: candidate tables in, results in, plates and exports out.

All validation of user files happens here, before anything touches the database, so that a
bad file raises [`InputError`][lowswitch.errors.InputError] naming the offending row and nothing of
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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lowswitch.campaign.csvio import (
    parse_integer,
    parse_number,
    read_csv_text,
    unescape_formula,
)
from lowswitch.errors import InputError
from lowswitch.validation import check_measurement

if TYPE_CHECKING:
    import pandas as pd

PLATE_COLUMNS = ("experiment_id", "plate", "block", "replicate")
"""Bookkeeping columns written by ``suggest`` before the input columns."""

RESERVED_COLUMNS = (
    "campaign", *PLATE_COLUMNS, "candidate", "status", "value", "failed", "measurement_id",
    "import_id", "voided", "void_reason",
)
"""Column names of plate files and exports; no input, descriptor or objective may use them."""

FAILED = "failed"
"""Cell text (case-insensitive) that marks a failed well in a results file."""

_CODE = re.compile(r"[+-]?0[0-9]")


def check_column_names(inputs: Sequence[str], descriptors: Sequence[str], objective: str) -> None:
    """Refuse column names that would clash in plate files and exports.

    Raises:
        InputError: a name is empty, reserved (``RESERVED_COLUMNS``), or used twice
            among the inputs, descriptors and objective.

    Example:
        >>> try:
        ...     check_column_names(["base", "plate"], [], "yield")
        ... except ValueError as err:
        ...     print(err)
        inputs: 'plate' is a reserved column name (reserved: campaign, experiment_id, plate, \
block, replicate, candidate, status, value, failed, measurement_id, import_id, voided, \
void_reason); rename the column
    """
    groups = (("inputs", inputs), ("descriptors", descriptors), ("objective", [objective]))
    for what, names in groups:
        for col in names:
            if not isinstance(col, str) or not col.strip() or col != col.strip():
                raise InputError(
                    f"{what}: expected non-empty names without surrounding spaces, got {col!r}"
                )
            if col.lower() in RESERVED_COLUMNS:
                raise InputError(
                    f"{what}: {col!r} is a reserved column name (reserved: "
                    f"{', '.join(RESERVED_COLUMNS)}); rename the column"
                )
    wanted = [*inputs, *descriptors, objective]
    repeated = sorted({c for c in wanted if wanted.count(c) > 1})
    if repeated:
        raise InputError(
            f"inputs/descriptors/objective: expected distinct column names, got {repeated} "
            "more than once"
        )


def _missing(value: Any) -> bool:
    """A blank cell of a DataFrame built in Python: ``None`` or a float NaN (``pd.NA`` too)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pd.NA cannot be compared
        return True


def _is_number(text: str) -> bool:
    value = parse_number(text)
    return value is not None and math.isfinite(value)


def is_numeric_value(value: Any) -> bool:
    """Whether a stored candidate value is a number (``bool`` is not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def typed_column(values: Sequence[str]) -> list[Any]:
    """Values of a text column as floats when every cell is a plain finite number, else text.

    A cell with a leading zero (``007``) is a code, not a number: its column stays text, so
    ``007`` and ``7`` are different categories.

    Example:
        >>> typed_column(["1", "2.5"]), typed_column(["a", "2"]), typed_column(["007", "7"])
        ([1.0, 2.5], ['a', '2'], ['007', '7'])
    """
    texts = [str(v).strip() for v in values]
    if texts and all(_is_number(t) and not _CODE.match(t) for t in texts):
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
        >>> import pandas as pd
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
    lines = _lines(frame)
    columns: dict[str, list[Any]] = {}
    for col in wanted:
        cells = ["" if _missing(v) else str(v).strip() for v in frame[col].tolist()]
        for i, cell in enumerate(cells):
            where = f"candidates row {i + 1} (line {lines[i]})"
            if cell == "":
                raise InputError(f"{where}: column {col!r} is empty")
            if col in descriptors and not _is_number(cell):
                raise InputError(
                    f"{where}: descriptor column {col!r} must be a finite number, got {cell!r}"
                )
        columns[col] = [float(c) for c in cells] if col in descriptors else typed_column(cells)
    rows = [{c: columns[c][i] for c in wanted} for i in range(len(frame))]
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(rows):
        key = tuple(row[c] for c in inputs)
        if key in seen:
            shown = dict(zip(inputs, key, strict=True))
            raise InputError(
                f"candidates row {i + 1} (line {lines[i]}): condition {shown} "
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


def _lines(frame: pd.DataFrame) -> list[int]:
    lines = frame.attrs.get("lines")
    if isinstance(lines, list) and len(lines) == len(frame):
        return lines
    return [i + 2 for i in range(len(frame))]


def _texts(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [
        {str(k): ("" if v is None else str(v).strip()) for k, v in record.items()}
        for record in frame.to_dict("records")
    ]


def same_value(cell: str, expected: Any) -> bool:
    """Whether a text cell denotes a stored candidate value.

    Numbers are compared as numbers (``40`` is ``40.0``); text is compared as text, so
    ``007`` is not ``7``; a formula cell neutralised on export (``'=x``) denotes ``=x``.

    Example:
        >>> same_value("40", 40.0), same_value(" XPhos", "XPhos"), same_value("007", "7")
        (True, True, False)
    """
    if is_numeric_value(expected):
        number = parse_number(cell)
        return number is not None and number == float(expected)
    text = cell.strip()
    return text == str(expected) or unescape_formula(text) == str(expected)


def measured_value(cell: str, objective: str, where: str) -> float | None:
    """The objective of one row: a checked number, ``None`` for ``failed``.

    Raises:
        InputError: text that is neither a plain number nor ``failed``, or a number outside
            the measurement range of ``lowswitch.validation.check_measurement``.
    """
    if cell.lower() == FAILED:
        return None
    number = parse_number(cell)
    if number is None:
        raise InputError(
            f"{where}: {objective} must be a number, blank or 'failed', got {cell!r}"
        )
    return check_measurement(number, f"{where}: {objective}")


def parse_results(
    frame: pd.DataFrame,
    objective: str,
    inputs: Sequence[str],
    experiments: Mapping[int, Mapping[str, Any]],
    allowed: Mapping[str, set[Any]],
    placement: Mapping[int, tuple[int, int, int]] | None = None,
) -> list[ResultRow]:
    """Validate a results table against the campaign and return its measured rows.

    Args:
        frame: results table, cells as text (see
            [`read_csv_text`][lowswitch.campaign.tables.read_csv_text]).
        objective: name of the objective column.
        inputs: the campaign's input columns (optional in the file; checked when present).
        experiments: experiment number -> its condition (input column -> value).
        allowed: input column -> set of values allowed by the campaign's space.
        placement: experiment number -> (plate, block, replicate); when given, those
            columns of the file are checked against it.

    Returns:
        The rows with a value or ``failed`` (blank rows are skipped), in file order.

    Raises:
        InputError: unknown or missing column, text in a numeric column, a measurement
            outside the accepted range, duplicate or unknown experiment id, input values
            outside the space or not matching the experiment, plate/block/replicate not
            those of the experiment; the message names the row.
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
    lines = _lines(frame)
    rows: list[ResultRow] = []
    first_row: dict[int, int] = {}
    for i, record in enumerate(_texts(frame)):
        where = f"results row {i + 1} (line {lines[i]})"
        raw_id = record["experiment_id"]
        if raw_id == "":
            raise InputError(f"{where}: experiment_id is empty")
        number = parse_integer(raw_id)
        if number is None or raw_id.startswith(("+", "-")):
            raise InputError(f"{where}: experiment_id must be an integer, got {raw_id!r}")
        if number in first_row:
            raise InputError(
                f"{where}: duplicate experiment_id {number} (also in row {first_row[number] + 1})"
            )
        first_row[number] = i
        if number not in experiments:
            raise InputError(f"{where}: unknown experiment_id {number} in this campaign")
        for pos, col in enumerate(PLATE_COLUMNS[1:]):
            cell = record.get(col, "")
            if cell == "":
                continue
            given = parse_integer(cell)
            if given is None:
                raise InputError(f"{where}: column {col!r} must be an integer, got {cell!r}")
            if placement is not None and given != placement[number][pos]:
                raise InputError(
                    f"{where}: {col} = {given} does not match experiment {number} "
                    f"({col} = {placement[number][pos]}); is this the right file?"
                )
        condition = experiments[number]
        for col in inputs:
            if col not in record or record[col] == "":
                continue
            cell = record[col]
            if not any(same_value(cell, v) for v in allowed[col]):
                raise InputError(f"{where}: {col} = {cell!r} is outside the campaign's space")
            if not same_value(cell, condition[col]):
                raise InputError(
                    f"{where}: {col} = {cell!r} does not match experiment {number} "
                    f"({col} = {condition[col]!r})"
                )
        cell = record[objective]
        if cell == "":
            continue
        value = measured_value(cell, objective, where)
        rows.append(ResultRow(number, value, value is None, i + 1))
    return rows


def _resolve(cell: str, choices: Sequence[Any], col: str, where: str) -> Any:
    """The candidate value of one input cell of a history row (see ``same_value``)."""
    matches = {v for v in choices if same_value(cell, v)}
    if len(matches) > 1:
        raise InputError(
            f"{where}: {col} = {cell!r} is ambiguous (it could be any of "
            f"{sorted(map(str, matches))})"
        )
    if not matches:
        raise InputError(f"{where}: {col} = {cell!r} is outside the campaign's candidates")
    return matches.pop()


def parse_history(
    frame: pd.DataFrame,
    objective: str,
    inputs: Sequence[str],
    candidates: Sequence[Mapping[str, Any]],
) -> list[tuple[int, float | None]]:
    """Validate a table of past measurements (input columns + objective) for import.

    Input cells are matched to the candidates' values column by column with
    ``same_value``: numbers as numbers, text as text (``007`` is not ``7``).

    Args:
        frame: table, cells as text.
        objective: objective column (a number or ``failed``; blank rows are skipped).
        inputs: the campaign's input columns (all required).
        candidates: the campaign's candidate rows (input column -> value).

    Returns:
        (candidate index, value or None for a failed well) per usable row, in file order.

    Raises:
        InputError: unknown or missing column, condition outside the campaign's candidates,
            text or an out-of-range number in the objective column; the message names the row.

    Example:
        >>> import pandas as pd
        >>> parse_history(pd.DataFrame({"x": ["a", "b"], "y": ["1.5", "failed"]}), "y", ["x"],
        ...               [{"x": "a"}, {"x": "b"}])
        [(0, 1.5), (1, None)]
    """
    unknown = [c for c in frame.columns if c not in {objective, *inputs}]
    missing = [c for c in (*inputs, objective) if c not in frame.columns]
    if unknown or missing:
        raise InputError(
            f"history: expected exactly the columns {[*inputs, objective]}; unknown {unknown}, "
            f"missing {missing}"
        )
    if len(set(frame.columns)) != len(frame.columns):
        raise InputError(f"history: repeated column names in {list(frame.columns)}")
    choices = {c: list(dict.fromkeys(row[c] for row in candidates)) for c in inputs}
    index = {tuple(row[c] for c in inputs): i for i, row in enumerate(candidates)}
    lines = _lines(frame)
    out: list[tuple[int, float | None]] = []
    for i, record in enumerate(_texts(frame)):
        where = f"history row {i + 1} (line {lines[i]})"
        key = tuple(_resolve(record[c], choices[c], c, where) for c in inputs)
        if key not in index:
            shown = {c: record[c] for c in inputs}
            raise InputError(f"{where}: condition {shown} is outside the campaign's candidates")
        cell = record[objective]
        if cell == "":
            continue
        out.append((index[key], measured_value(cell, objective, where)))
    return out


__all__ = [
    "FAILED",
    "PLATE_COLUMNS",
    "RESERVED_COLUMNS",
    "ResultRow",
    "check_column_names",
    "is_numeric_value",
    "measured_value",
    "parse_history",
    "parse_results",
    "read_csv_text",
    "same_value",
    "typed_column",
    "validate_candidates",
]
