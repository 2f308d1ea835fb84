"""Property: any results file either stores exactly what it means or stores nothing.

Hypothesis writes results files for a plate of pending wells: intended values (numbers,
``failed``, blanks) rendered in several number formats, with quoting, spaces and a
byte-order mark, and then possibly damaged: a row with an extra or a missing field,
numeric-looking text (``1_000``, ``0x10``, ``1,5``, Arabic-Indic digits, ``nan``, ``inf``),
values outside the measurement range, a file in UTF-16 or Latin-1. The oracle is computed
from the generation alone, not from the parser: a damaged file must be refused with an
``InputError`` naming a row or line and leave the campaign as it was; an intact one must
store exactly the intended values against the intended experiments (issue 13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowswitch.campaign import Campaign
from lowswitch.errors import InputError
from lowswitch.validation import MAX_ABS_MEASUREMENT

CODES = ["a", "\u00e9t\u00e9", "007", "7", "=1+1", "-3.5"]
SLOTS = 6

NOT_NUMBERS = ["1_000", "0x10", '"1,5"', "\u0661\u0662", "nan", "inf", "-Infinity", "1e400",
               "12 %", "1.2.3", "e5", "\uff17"]


@dataclass
class Case:
    """A generated results file and what it is meant to say."""

    data: bytes
    intended: dict[int, float | None]  # experiment -> value (None: failed well)
    damaged: bool


def render_number(value: float, style: int) -> str:
    text = [repr(value), f"{value:.17g}", f"{value:.17e}", f"{value:.17E}"][style % 4]
    return [text, f" {text}", f'"{text}"', f'" {text} "'][style // 4]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    ids = draw(st.lists(st.integers(1, SLOTS), min_size=1, max_size=SLOTS, unique=True))
    with_code = draw(st.booleans())
    header = ["experiment_id", *(["x"] if with_code else []), "yield"]
    intended: dict[int, float | None] = {}
    lines: list[list[str]] = []
    damaged = False
    for exp in ids:
        kind = draw(st.sampled_from(["number", "number", "number", "failed", "blank", "bad",
                                     "huge"]))
        if kind == "number":
            value = draw(st.floats(-MAX_ABS_MEASUREMENT, MAX_ABS_MEASUREMENT,
                                   allow_nan=False, allow_infinity=False))
            cell = render_number(value, draw(st.integers(0, 15)))
            intended[exp] = value
        elif kind == "huge":
            value = draw(st.floats(MAX_ABS_MEASUREMENT * 1.0001, 1e300)) * draw(
                st.sampled_from([1, -1]))
            cell = render_number(value, draw(st.integers(0, 15)))
            damaged = True
        elif kind == "failed":
            cell = draw(st.sampled_from(["failed", "FAILED", " Failed "]))
            intended[exp] = None
        elif kind == "blank":
            cell = draw(st.sampled_from(["", " ", '""']))
        else:
            cell = draw(st.sampled_from(NOT_NUMBERS))
            damaged = True
        row = [str(exp), *([f'"{plate_codes()[exp]}"'] if with_code else []), cell]
        lines.append(row)
    shape = draw(st.sampled_from(["intact", "intact", "extra", "missing"]))
    if shape != "intact":
        row = draw(st.integers(0, len(lines) - 1))
        lines[row] = [*lines[row], "77"] if shape == "extra" else lines[row][:-1]
        damaged = True
    text = "\n".join(",".join(r) for r in [header, *lines]) + draw(st.sampled_from(["", "\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    if encoding == "latin-1" and max(map(ord, text)) > 255:
        encoding = "utf-8"  # Latin-1 cannot hold the text at all
    if encoding == "utf-16" or (encoding == "latin-1" and not text.isascii()):
        damaged = True
    return Case(text.encode(encoding), intended, damaged)


def fresh_campaign() -> Campaign:
    camp = Campaign.create("sqlite://", "p", pd.DataFrame({"x": CODES}), inputs=["x"],
                           objective="yield", initial_conditions=SLOTS)
    camp.suggest(slots=SLOTS)
    return camp


@cache
def plate_codes() -> dict[int, str]:
    """Experiment -> condition of the (seeded, hence always identical) first plate."""
    hist = fresh_campaign().history()
    return dict(zip(hist["experiment_id"].astype(int), hist["x"], strict=True))


def stored(camp: Campaign) -> dict[int, float | None]:
    hist = camp.history()
    hist = hist[hist["measurement_id"].notna()]
    return {int(r["experiment_id"]): (None if r["failed"] else float(r["value"]))
            for _, r in hist.iterrows()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_results_file_is_stored_exactly_or_not_at_all(case: Case, tmp_path: Path) -> None:
    camp = fresh_campaign()
    path = tmp_path / "results.csv"
    path.write_bytes(case.data)
    before = camp.status()
    try:
        camp.record(path)
    except InputError as err:
        assert case.damaged, f"an intact file was refused: {err}\n{case.data!r}"
        assert re.search(r"(row|line) \d+", str(err)), str(err)
        assert camp.status() == before and stored(camp) == {}
        return
    assert not case.damaged, f"a damaged file was accepted:\n{case.data!r}"
    assert stored(camp) == case.intended
    assert camp.history().set_index("experiment_id")["x"].to_dict() == plate_codes()
