"""Campaign input safety through the Python API (issue 13, items 1-6, 8, 9).

Every test checks both halves of the contract: the bad input is refused with a message
naming the problem, and nothing of it reaches the database.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from lowswitch.campaign import Campaign, write_report
from lowswitch.campaign.storage import Storage
from lowswitch.errors import InputError

CANDIDATES = pd.DataFrame({
    "code": ["007", "7", "=HYPERLINK(\"http://x\")", "-3.5", "007", "7"],
    "T": ["90", "90", "90", "90", "120", "120"],
})


def make(tmp_path: Path, name: str = "c", **kw) -> Campaign:
    kw.setdefault("initial_conditions", 2)
    return Campaign.create(f"sqlite:///{tmp_path / 'lab.db'}", name, CANDIDATES,
                           inputs=["code", "T"], objective="yield", **kw)


def snapshot(camp: Campaign) -> tuple[dict, list]:
    return camp.status(), camp.history().to_dict("records")


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_shifted_row_in_a_results_file_stores_nothing(tmp_path: Path) -> None:
    camp = make(tmp_path)
    camp.suggest(slots=4)
    before = snapshot(camp)
    bad = tmp_path / "results.csv"
    bad.write_text("experiment_id,yield\n1,40\n2,3,77\n")
    with pytest.raises(InputError, match=r"results row 2 \(line 3\): expected 2 fields"):
        camp.record(bad)
    assert snapshot(camp) == before


def test_codes_007_and_7_are_different_conditions(tmp_path: Path) -> None:
    camp = make(tmp_path)
    assert [c["code"] for c in camp.candidates[:2]] == ["007", "7"]
    history = tmp_path / "past.csv"
    history.write_text("code,T,yield\n007,90,11\n7,120,22\n")
    assert camp.import_history(history)["measured"] == 2
    stored = camp.history()[["code", "T", "value"]].to_dict("records")
    assert stored == [{"code": "007", "T": 90.0, "value": 11.0},
                      {"code": "7", "T": 120.0, "value": 22.0}]


@pytest.mark.parametrize("value", ["1e160", "-1e101", "nan", "inf", "1_000"])
def test_out_of_range_values_are_refused_by_record_and_import(tmp_path: Path, value: str) -> None:
    camp = make(tmp_path)
    plate = camp.suggest(slots=2)
    before = snapshot(camp)
    plate["yield"] = ["50", value]
    with pytest.raises(InputError, match=r"results row 2 \(line 3\): yield"):
        camp.record(plate)
    history = pd.DataFrame({"code": ["007", "7"], "T": ["90", "90"], "yield": ["1", value]})
    with pytest.raises(InputError, match=r"history row 2 \(line 3\): yield"):
        camp.import_history(history)
    assert snapshot(camp) == before


@pytest.mark.parametrize(("inputs", "objective"), [(["code", "plate"], "yield"),
                                                   (["code", "T"], "status"),
                                                   (["code", "experiment_id"], "yield")])
def test_reserved_names_are_refused_at_create(tmp_path: Path, inputs: list[str],
                                              objective: str) -> None:
    frame = CANDIDATES.assign(plate=range(6), experiment_id=range(6))
    with pytest.raises(InputError, match="reserved column name"):
        Campaign.create(f"sqlite:///{tmp_path / 'lab.db'}", "c", frame, inputs=inputs,
                        objective=objective)


def test_a_failed_delivery_stores_no_plate(tmp_path: Path) -> None:
    camp = make(tmp_path)
    before = snapshot(camp)

    def deliver(plate: pd.DataFrame) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        camp.suggest(slots=4, deliver=deliver)
    assert snapshot(camp) == before
    seen: list[pd.DataFrame] = []
    plate = camp.suggest(slots=4, deliver=seen.append)
    assert seen[0] is plate and camp.status()["experiments"]["pending"] == 4


def test_exports_neutralise_formulas_keep_numbers_and_record_back(tmp_path: Path) -> None:
    from lowswitch.campaign.csvio import write_csv

    camp = make(tmp_path, initial_conditions=6)
    plate = camp.suggest(slots=12)  # the initial design: all six conditions, 2 wells each
    plate["yield"] = [10 * (i + 1) for i in range(12)]
    # The plate file, written with neutralised cells, records back against the right wells.
    written = rows_of(write_csv(plate, tmp_path / "plate.csv"))
    assert "'=HYPERLINK(\"http://x\")" in {r[written[0].index("code")] for r in written[1:]}
    assert camp.record(tmp_path / "plate.csv")["measured"] == 12
    table = rows_of(camp.export_csv(tmp_path / "all.csv"))
    codes = {r[table[0].index("code")] for r in table[1:]}
    assert codes == {"007", "7", "'=HYPERLINK(\"http://x\")", "-3.5"}
    assert {r[table[0].index("T")] for r in table[1:]} == {"90", "120"}  # not 90.0
    raw = rows_of(camp.export_csv(tmp_path / "raw.csv", escape_formulas=False))
    assert "=HYPERLINK(\"http://x\")" in {r[raw[0].index("code")] for r in raw[1:]}
    hist = rows_of(write_report(camp, tmp_path / "report")["csv"])
    assert "'=HYPERLINK(\"http://x\")" in {r[hist[0].index("code")] for r in hist[1:]}


def test_plate_and_block_columns_are_checked(tmp_path: Path) -> None:
    camp = make(tmp_path)
    plate = camp.suggest(slots=4)
    before = snapshot(camp)
    plate["yield"] = [1, 2, 3, 4]
    plate.loc[3, "plate"] = 2
    with pytest.raises(InputError, match=r"results row 4 \(line 5\): plate = 2 does not match"):
        camp.record(plate)
    plate.loc[3, "plate"] = 1
    plate.loc[0, "block"] = 9
    with pytest.raises(InputError, match=r"results row 1 \(line 2\): block = 9 does not match"):
        camp.record(plate)
    assert snapshot(camp) == before


def test_best_refuses_k_below_one(tmp_path: Path) -> None:
    camp = make(tmp_path)
    with pytest.raises(InputError, match="k: expected an integer >= 1, got -1"):
        camp.best(k=-1)


def test_integer_levels_come_back_as_integers_in_plate_files(tmp_path: Path) -> None:
    from lowswitch.campaign.csvio import write_csv

    camp = make(tmp_path)
    table = rows_of(write_csv(camp.suggest(slots=4), tmp_path / "p.csv"))
    assert {r[table[0].index("T")] for r in table[1:]} <= {"90", "120"}


def test_levels_closer_than_the_encoding_are_refused_at_create(tmp_path: Path) -> None:
    frame = pd.DataFrame({"T": ["20", "20.000000000001", "40"]})
    with pytest.raises(InputError, match="too close to tell apart"):
        Campaign.create(f"sqlite:///{tmp_path / 'lab.db'}", "c", frame, inputs=["T"],
                        objective="yield")


# ---- storage problems: one error path, nothing created by readers ----------------------------


def test_storage_problems_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"storage: the folder .* does not exist"):
        Storage(tmp_path / "missing" / "lab.db")
    text_file = tmp_path / "results.csv"
    text_file.write_text("experiment_id,yield\n" + "1,2\n" * 200)
    with pytest.raises(InputError, match=r"storage: cannot use .* as a lowswitch database"):
        Storage(text_file)
    good = tmp_path / "good.db"
    make(tmp_path).storage.dispose()
    (tmp_path / "lab.db").replace(good)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(good.read_bytes()[:1500])
    with pytest.raises(InputError, match="storage: cannot use"):
        Campaign.open(truncated, "c")
    with pytest.raises(InputError, match=r"storage: cannot use .*\+asyncpg.*asyncpg"):
        Storage("postgresql+asyncpg://u@localhost/db")
    with pytest.raises(InputError, match="storage: cannot use 'postgresql"):
        Storage("postgresql://nobody:secret@127.0.0.1:1/db")
    with pytest.raises(InputError) as info:
        Storage("postgresql://nobody:secret@127.0.0.1:1/db")
    assert "secret" not in str(info.value)


def test_readers_never_create_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "lab-typo.db"
    with pytest.raises(InputError, match="no database at"):
        Campaign.open(typo, "c")
    with pytest.raises(InputError, match="no database at"):
        Storage(typo, create=False)
    assert not typo.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(InputError, match="holds no lowswitch campaigns"):
        Campaign.open(empty, "c")
