"""Validation of candidate tables, results files and history imports."""

from __future__ import annotations

import pandas as pd
import pytest

from lowswitch.campaign.tables import (
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


def parse(frame: pd.DataFrame) -> list:
    return parse_results(frame, "yield", ["base", "T"], EXPS, ALLOWED)


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
        (results(experiment_id=["1"], **{"yield": ["nan"]}), "must be finite"),
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
    with pytest.raises(InputError, match="must be numeric"):
        validate_candidates(pd.DataFrame({"b": ["x", "y"], "d": ["1", "big"]}), ["b"], ["d"])


def test_parse_history() -> None:
    index = {("A", "20.0"): 0, ("B", "40.0"): 1}
    frame = pd.DataFrame({"base": ["A", "B", "A"], "T": ["20", "40", "20"],
                          "yield": ["3", "failed", ""]})
    assert parse_history(frame, "yield", ["base", "T"], index) == [(0, 3.0), (1, None)]
    bad = pd.DataFrame({"base": ["A", "C"], "T": ["20", "20"], "yield": ["1", "2"]})
    with pytest.raises(InputError, match=r"history row 2 \(line 3\).*outside"):
        parse_history(bad, "yield", ["base", "T"], index)
