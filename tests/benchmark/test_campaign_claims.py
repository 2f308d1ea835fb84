"""The campaign guide's switch-cost figures hold for ``docs/benchmarks/campaign-s10.json``."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

DATA = json.loads(
    (Path(__file__).parents[2] / "docs" / "benchmarks" / "campaign-s10.json").read_text()
)["plates"]
AWARE, ONE_SHOT = "low-switch C=2, s=10", "one-shot BO (C=1)"


def _runs(slots: str, method: str) -> list[dict]:
    runs = [r for r in DATA[slots]["per_seed"] if r["method"] == method]
    assert len(runs) == 10
    return runs


def _to_target(slots: str, method: str, key: str) -> list[float]:
    out = []
    for r in _runs(slots, method):
        hit = next((k for k, v in enumerate(r["rec_true"]) if v >= DATA[slots]["target"]), None)
        out.append(math.inf if hit is None else r[key][hit])
    return out


def test_plates_of_8() -> None:
    aware_sw, aware_w = _to_target("8", AWARE, "switches"), _to_target("8", AWARE, "wells")
    shot_sw, shot_w = _to_target("8", ONE_SHOT, "switches"), _to_target("8", ONE_SHOT, "wells")
    assert sum(w < math.inf for w in aware_w) == 8 and sum(w < math.inf for w in shot_w) == 10
    assert (statistics.median(aware_sw), statistics.median(aware_w)) == (16, 40)
    assert (statistics.median(shot_sw), statistics.median(shot_w)) == (36, 36)
    assert round(statistics.median(aware_sw) / statistics.median(shot_sw), 2) == 0.44
    assert round(statistics.median(aware_w) / statistics.median(shot_w), 2) == 1.11


def test_plates_of_24() -> None:
    aware_w, shot_w = _to_target("24", AWARE, "wells"), _to_target("24", ONE_SHOT, "wells")
    assert sum(w < math.inf for w in aware_w) == 4 and sum(w < math.inf for w in shot_w) == 9
    shot_sw = statistics.median(_to_target("24", ONE_SHOT, "switches"))
    assert statistics.median(shot_w) == 72 == shot_sw
    assert statistics.median(shot_w) + 10 * shot_sw == 792  # one-shot's cost to the target
    final_sw = statistics.median(r["switches"][-1] for r in _runs("24", AWARE))
    assert final_sw == 66.5
    plates = len(_runs("24", AWARE)[0]["wells"])
    assert round(DATA["24"]["wells"] / final_sw) == 3 and round(final_sw / plates) == 8
    assert DATA["24"]["wells"] + 10 * final_sw == 857  # what the cost-aware runs spent in all
    missed = [r for r in _runs("24", AWARE) if max(r["rec_true"]) < DATA["24"]["target"]]
    best = [max(r["best_tested_true"]) for r in missed]
    assert len(missed) == 6 and (round(min(best), 1), round(max(best), 1)) == (91.4, 96.1)
    assert sum(b >= 95 for b in best) == 2
