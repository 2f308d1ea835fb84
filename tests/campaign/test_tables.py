"""Validation of candidate tables, results files and history imports."""

from __future__ import annotations

import pandas as pd
import pytest

from lowswitch.campaign.tables import (
    check_column_names,
    parse_history,
    parse_results,
    read_csv_text,
    validate_candidates,
)
from lowswitch.errors import InputError

EXPS = {1: {"base": "A", "T": 20.0}, 2: {"base": "B", "T": 40.0}, 3: {"base": "A", "T": 40.0}}
ALLOWED = {"base": {"A", "B"}, "T": {20.0, 40.0}}


def results(**cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame(cols)


PLACES = {1: (1, 1, 1), 2: (1, 2, 1), 3: (1, 3, 1)}


def parse(frame: pd.DataFrame) -> list:
    return parse_results(frame, "yield", ["base", "T"], EXPS, ALLOWED, PLACES)


def test_results_values_failed_and_blank() -> None:
    rows = parse(results(experiment_id=["1", "2", "3"], **{"yield": ["12.5", "FAILED", ""]}))
    assert [(r.experiment, r.value, r.failed, r.row) for r in rows] == [
        (1, 12.5, False, 1), (2, None, True, 2)
    ]


def test_results_with_matching_input_columns() -> None:
    frame = results(experiment_id=["1", "2"], plate=["1", "1"], base=["A", "B"], T=["20", "40.0"],
                    **{"yield": ["1", "2"]})
    assert [r.value for r in parse(frame)] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (results(experiment_id=["1"], **{"yield": ["1"]}, notes=["x"]), "unknown column"),
        (results(experiment_id=["1"]), "missing column 'yield'"),
        (results(experiment_id=["1", "x"], **{"yield": ["1", "2"]}), "must be an integer, got .x"),
        (results(experiment_id=["1", "1"], **{"yield": ["1", "2"]}), "duplicate experiment_id 1"),
        (results(experiment_id=["1", "9"], **{"yield": ["1", "2"]}), "unknown experiment_id 9"),
        (results(experiment_id=["1", "2"], **{"yield": ["1", "high"]}), "must be a number"),
        (results(experiment_id=["1"], **{"yield": ["nan"]}), "must be a number"),
        (results(experiment_id=["1"], **{"yield": ["1e160"]}), r"yield: expected a finite"),
        (results(experiment_id=["1"], **{"yield": ["1_000"]}), "must be a number"),
        (results(experiment_id=["1_0"], **{"yield": ["1"]}), "must be an integer"),
        (results(experiment_id=["1"], plate=["2"], **{"yield": ["1"]}), "plate = 2 does not"),
        (results(experiment_id=["3"], block=["1"], **{"yield": ["1"]}), "block = 1 does not"),
        (results(experiment_id=["1"], replicate=["٢"], **{"yield": ["1"]}), "integer"),
        (results(experiment_id=["1"], base=["Z"], **{"yield": ["1"]}), "outside the campaign"),
        (results(experiment_id=["1"], T=["30"], **{"yield": ["1"]}), "outside the campaign"),
        (results(experiment_id=["1"], base=["B"], **{"yield": ["1"]}), "does not match"),
        (results(experiment_id=["1"], plate=["one"], **{"yield": ["1"]}), "must be an integer"),
        (results(experiment_id=[""], **{"yield": ["1"]}), "experiment_id is empty"),
    ],
)
def test_results_bad_input_names_the_problem(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(frame)


def test_bad_row_is_named_with_its_line() -> None:
    frame = results(experiment_id=["1", "2", "3"], **{"yield": ["1", "2", "oops"]})
    with pytest.raises(InputError, match=r"results row 3 \(line 4\)"):
        parse(frame)


def test_read_csv_text_keeps_blanks_and_text(tmp_path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("experiment_id, yield\n1,\n2,failed\n3,4.5\n")
    frame = read_csv_text(path, "results")
    assert list(frame.columns) == ["experiment_id", "yield"]
    assert frame["yield"].tolist() == ["", "failed", "4.5"]
    with pytest.raises(InputError, match="existing CSV"):
        read_csv_text(tmp_path / "missing.csv", "results")


def test_validate_candidates_types_and_errors() -> None:
    rows = validate_candidates(pd.DataFrame({"b": ["x", "y"], "T": ["1", "2.5"], "d": [3, 4]}),
                               ["b", "T"], ["d"])
    assert rows == [{"b": "x", "T": 1.0, "d": 3.0}, {"b": "y", "T": 2.5, "d": 4.0}]
    with pytest.raises(InputError, match="missing column"):
        validate_candidates(pd.DataFrame({"b": ["x"]}), ["b", "c"])
    with pytest.raises(InputError, match="repeats row 1"):
        validate_candidates(pd.DataFrame({"b": ["x", "x"]}), ["b"])
    with pytest.raises(InputError, match="is empty"):
        validate_candidates(pd.DataFrame({"b": ["x", ""]}), ["b"])
    with pytest.raises(InputError, match="must be a finite number"):
        validate_candidates(pd.DataFrame({"b": ["x", "y"], "d": ["1", "big"]}), ["b"], ["d"])


CANDIDATES = [{"base": "A", "T": 20.0}, {"base": "B", "T": 40.0}]


def test_parse_history() -> None:
    frame = pd.DataFrame({"base": ["A", "B", "A"], "T": ["20", "40", "20"],
                          "yield": ["3", "failed", ""]})
    assert parse_history(frame, "yield", ["base", "T"], CANDIDATES) == [(0, 3.0), (1, None)]
    bad = pd.DataFrame({"base": ["A", "C"], "T": ["20", "20"], "yield": ["1", "2"]})
    with pytest.raises(InputError, match=r"history row 2 \(line 3\).*outside"):
        parse_history(bad, "yield", ["base", "T"], CANDIDATES)


# ---- issue 13 regressions -------------------------------------------------------------------


def test_shifted_row_is_refused_not_read_with_an_index(tmp_path) -> None:
    """Item 1: `2,5,77` under `experiment_id,yield` used to store 77 against experiment 5."""
    path = tmp_path / "r.csv"
    path.write_text("experiment_id,yield\n1,10\n2,5,77\n")
    with pytest.raises(InputError, match=r"results row 2 \(line 3\): expected 2 fields"):
        read_csv_text(path, "results")
    path.write_text("experiment_id,yield\n1\n")
    with pytest.raises(InputError, match=r"results row 1 \(line 2\): expected 2 fields.*got 1"):
        read_csv_text(path, "results")


def test_lines_in_messages_follow_the_file(tmp_path) -> None:
    path = tmp_path / "r.csv"
    path.write_text('experiment_id,yield\n\n1,"1"\n2,oops\n')
    frame = read_csv_text(path, "results")
    with pytest.raises(InputError, match=r"results row 2 \(line 4\)"):
        parse(frame)


def test_codes_that_look_like_numbers_stay_text() -> None:
    """Item 2: a history row for `007` was filed under `7`."""
    rows = validate_candidates(pd.DataFrame({"code": ["007", "7", "12"]}), ["code"])
    assert [r["code"] for r in rows] == ["007", "7", "12"]
    history = pd.DataFrame({"code": ["007", "7"], "y": ["1", "2"]})
    assert parse_history(history, "y", ["code"], rows) == [(0, 1.0), (1, 2.0)]
    results_frame = results(experiment_id=["1"], code=["7"], y=["1"])
    with pytest.raises(InputError, match="does not match experiment 1"):
        parse_results(results_frame, "y", ["code"], {1: rows[0]}, {"code": {"007", "7", "12"}})


def test_history_values_are_range_checked_and_name_the_row() -> None:
    """Item 3 (campaign side): imported history goes through check_measurement."""
    frame = pd.DataFrame({"base": ["A", "B"], "T": ["20", "40"], "yield": ["1", "-2e160"]})
    with pytest.raises(InputError, match=r"history row 2 \(line 3\): yield: expected a finite"):
        parse_history(frame, "yield", ["base", "T"], CANDIDATES)


def test_underscore_and_unicode_digits_are_not_numbers() -> None:
    """Item 9: `1_000` was read as 1000 (Python's float accepts underscores)."""
    assert validate_candidates(pd.DataFrame({"T": ["1_000", "2"]}), ["T"]) == [
        {"T": "1_000"}, {"T": "2"}
    ]
    frame = pd.DataFrame({"base": ["A"], "T": ["2_0"], "yield": ["1"]})
    with pytest.raises(InputError, match="outside the campaign's candidates"):
        parse_history(frame, "yield", ["base", "T"], CANDIDATES)


@pytest.mark.parametrize("name", ["plate", "experiment_id", "status", "Value", "candidate"])
def test_reserved_names_are_refused(name: str) -> None:
    """Item 4: reserved names gave duplicate plate headers or `pending` as an input value."""
    with pytest.raises(InputError, match=f"{name!r} is a reserved column name"):
        check_column_names(["base", name], [], "yield")
    with pytest.raises(InputError, match="reserved"):
        check_column_names(["base"], [], name)
    with pytest.raises(InputError, match="distinct"):
        check_column_names(["base"], ["base"], "yield")


def test_formula_cells_from_an_export_match_their_candidate() -> None:
    """Item 6: a plate file written with neutralised formulas records back unchanged."""
    rows = [{"x": "=1+1"}, {"x": "'=1+1"}]
    frame = results(experiment_id=["1"], x=["'=1+1"], y=["3"])
    assert [r.value for r in parse_results(frame, "y", ["x"], {1: rows[0]},
                                           {"x": {"=1+1", "'=1+1"}})] == [3.0]
    history = pd.DataFrame({"x": ["'=1+1"], "y": ["1"]})
    with pytest.raises(InputError, match="ambiguous"):
        parse_history(history, "y", ["x"], rows)
    assert parse_history(history, "y", ["x"], rows[:1]) == [(0, 1.0)]
