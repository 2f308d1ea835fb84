"""``python -m lowswitch.benchmark paired``: seed-by-seed comparisons and the sign test."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowswitch.benchmark.bo import RunResult
from lowswitch.benchmark.paired import (
    load_rows,
    main,
    paired_rows,
    parse_comparison,
    sign_test_p,
)
from lowswitch.benchmark.suite import per_seed_rows
from lowswitch.errors import InputError


def _naive_sign_p(w: int, l: int) -> float:
    """Two-sided exact sign test by enumeration: P(split at least as uneven as observed)."""
    n = w + l
    if n == 0:
        return 1.0
    observed = math.comb(n, w)
    mass = sum(math.comb(n, k) for k in range(n + 1) if math.comb(n, k) <= observed)
    return min(1.0, mass / 2**n)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 70), st.integers(0, 70))
def test_sign_test_matches_enumeration(w: int, l: int) -> None:
    assert sign_test_p(w, l) == pytest.approx(_naive_sign_p(w, l), rel=1e-9, abs=1e-300)
    assert sign_test_p(w, l) == pytest.approx(sign_test_p(l, w), rel=1e-12)


def test_sign_test_refuses_negative_counts() -> None:
    with pytest.raises(InputError, match=">= 0"):
        sign_test_p(-1, 3)


def _row(problem: str, method: str, seed: int, regret: float, s10: float | None = None) -> dict:
    row = {"problem": problem, "method": method, "seed": seed, "simple_regret": regret}
    if s10 is not None:
        row["regret_at_cost_s10"] = s10
    return row


def test_counts_ties_missing_seeds_and_the_pooled_row() -> None:
    rows = [
        # p: seeds 0-3 both; A below on 0, 1; above on 2; tie on 3; seed 4 only A
        *[_row("p", "A", k, v, v) for k, v in enumerate([1.0, 2.0, 5.0, 4.0, 0.1])],
        *[_row("p", "B", k, v, v) for k, v in enumerate([3.0, 3.0, 1.0, 4.0])],
        # q: A's seed 1 is NaN at s = 10 (declared another cost): only seed 0 compared at 10
        _row("q", "A", 0, 1.0, 1.0), _row("q", "A", 1, 1.0, math.nan),
        _row("q", "B", 0, 2.0, 2.0), _row("q", "B", 1, 2.0, 2.0),
    ]
    at0 = paired_rows(rows, "A", "B", 0.0)
    p = at0[0]
    assert (p["problem"], p["seeds"], p["wins"], p["losses"], p["ties"]) == ("p", 4, 2, 1, 1)
    assert p["median_a"] == 3.0 and p["median_b"] == 3.0 and p["ratio"] == 1.0
    assert p["p"] == pytest.approx(_naive_sign_p(2, 1))
    assert at0[1]["seeds"] == 2 and at0[1]["wins"] == 2
    pooled = at0[-1]
    assert (pooled["problem"], pooled["wins"], pooled["losses"], pooled["ties"]) == ("all", 4, 1, 1)
    assert pooled["ratio"] == pytest.approx(math.sqrt(1.0 * 0.5))
    assert pooled["p"] == pytest.approx(_naive_sign_p(4, 1))
    at10 = paired_rows(rows, "A", "B", 10.0)
    assert at10[1]["seeds"] == 1 and at10[1]["wins"] == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5),
                          st.floats(0.01, 100), st.floats(0.01, 100)),
                min_size=1, max_size=30, unique_by=lambda t: (t[0], t[1])))
def test_swapping_the_methods_swaps_wins_and_losses(data: list) -> None:
    rows = []
    for prob, seed, a, b in data:
        rows += [_row(f"p{prob}", "A", seed, a), _row(f"p{prob}", "B", seed, b)]
    ab, ba = paired_rows(rows, "A", "B", 0.0), paired_rows(rows, "B", "A", 0.0)
    for x, y in zip(ab, ba, strict=True):
        assert (x["wins"], x["losses"], x["ties"]) == (y["losses"], y["wins"], y["ties"])
        assert x["ratio"] * y["ratio"] == pytest.approx(1.0)
        assert x["p"] == pytest.approx(y["p"])
        assert x["wins"] + x["losses"] + x["ties"] == x["seeds"]


@pytest.mark.parametrize(("text", "match"), [
    ("A", "A:B@s"), ("A:A@10", "two different"), (":B@1", "A:B@s"),
    ("A:B@ten", "must be a number"), ("A:B@-1", ">= 0"), ("A:B@inf", "finite"),
])
def test_parse_comparison_refuses(text: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse_comparison(text)


def test_unknown_method_and_nothing_shared_are_refused() -> None:
    rows = [_row("p", "A", 0, 1.0), _row("q", "B", 0, 1.0)]
    with pytest.raises(InputError, match=r"no per-seed rows for \['C'\]"):
        paired_rows(rows, "A", "C", 0.0)
    with pytest.raises(InputError, match="share no"):
        paired_rows(rows, "A", "B", 0.0)
    with pytest.raises(InputError, match="regret_at_cost_s10"):
        paired_rows(rows, "A", "B", 10.0)


def _runs() -> list[RunResult]:
    out = []
    for seed in range(3):
        for method, k, r in (("ei-C2", 4, 0.2 + seed), ("ei-C2-s10", 1, 0.5)):
            out.append(RunResult("p", method, 4, seed, evaluations=4, switches=k,
                                 simple_regret=r, trace=[[2, 1, 0.9, 0.0], [4, k, r, 0.0]]))
    return out


def test_results_files_are_read_through_per_seed_rows(tmp_path: Path) -> None:
    from dataclasses import asdict

    runs = _runs()
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"runs": [asdict(r) for r in runs]}))
    assert load_rows([str(path)]) == per_seed_rows(runs)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    with pytest.raises(InputError, match="per_seed"):
        load_rows([str(bad)])
    with pytest.raises(InputError, match="cannot read"):
        load_rows([str(tmp_path / "missing.json")])


def test_command_writes_table_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "suite.json"
    src.write_text(json.dumps({"per_seed": per_seed_rows(_runs())}))
    out = tmp_path / "out"
    assert main(["--json", str(src), "--compare", "ei-C2-s10:ei-C2@10", "--out", str(out)]) == 0
    stored = json.loads((out / "paired.json").read_text())
    (table,) = stored["comparisons"]
    # at s = 10 the comparison cost is 14: ei-C2 (cost 4 + 40) is still at its first row
    assert table[0]["wins"] == 3 and table[-1]["problem"] == "all"
    assert (out / "paired.png").stat().st_size > 10_000
    assert "all (pooled)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--json", str(src), "--compare", "ei-C2:nope@10", "--out", str(out)])
    assert exc.value.code == 2
    assert "nope" in capsys.readouterr().err
