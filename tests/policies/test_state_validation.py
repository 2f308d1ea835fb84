"""Tampered policy state is refused at load with a clear error, the policy unchanged
(issue 13, item 9). Before, out-of-bounds rows, negative counters and rows of the wrong
width loaded silently (``reshape(-1, d)`` even re-cut a 3-wide table into 2-wide rows)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import torch

from lowswitch import InputError, LowSwitchGPEI, LowSwitchGPUCB
from lowswitch.policies.base import LowSwitchPolicy

DT = torch.float64
BOUNDS = torch.tensor([[0.0, -1.0], [1.0, 2.0]], dtype=DT)
CANDS = torch.tensor([[0.1, 0.0], [0.5, 1.0], [0.9, -0.5], [0.3, 1.5]], dtype=DT)


def _driven(cls: type[LowSwitchPolicy], candidates: torch.Tensor | None) -> LowSwitchPolicy:
    opt = cls(BOUNDS, candidates=candidates, seed=0, n_initial=2, num_restarts=2,
              raw_samples=16)
    for i in range(4):
        b = opt.ask()
        opt.tell(b.x, torch.tensor([0.1 * i, 0.2], dtype=DT))
    b = opt.ask()
    opt.tell(b.x, torch.tensor([0.3], dtype=DT))  # a told chunk after the last fit
    return opt


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(state: dict[str, Any]) -> None:
        node = state
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value(node[path[-1]]) if callable(value) else value
    return edit


TAMPER = {
    "X_fit row out of bounds": (_set(("data", "X_fit", 0, 0), 7.5), r"X_fit\[0\].*outside"),
    "X_fit wrong width": (_set(("data", "X_fit"), lambda X: [[*r, 0.0] for r in X]),
                          r"X_fit: expected shape \(t, 2\)"),
    "X_fit NaN": (_set(("data", "X_fit", 1, 1), float("nan")), "finite"),
    "Y_fit shorter": (_set(("data", "Y_fit"), lambda Y: Y[:-1]), "rows"),
    "Y_fit huge": (_set(("data", "Y_fit", 0), 1e160), r"\|value\| <= 1e\+100"),
    "chunk out of bounds": (_set(("data", "chunks", 0, 0), [0.5, 9.0]), "chunks.*outside"),
    "negative n_asks": (_set(("counters", "n_asks"), -1), "n_asks.*non-negative"),
    "negative design_cursor": (_set(("counters", "design_cursor"), -3), "design_cursor"),
    "float counter": (_set(("counters", "n_switches"), 2.5), "n_switches"),
    "n_evaluations off": (_set(("counters", "n_evaluations"), lambda n: n + 5),
                          "n_evaluations is"),
    "last_x out of bounds": (_set(("counters", "last_x"), [2.0, 0.0]), "last_x.*outside"),
    "last_x wrong shape": (_set(("counters", "last_x"), [0.5]), "last_x"),
    "switches without last_x": (_set(("counters", "last_x"), None), "inconsistent"),
    "hyper not a dict": (_set(("hyper",), [1, 2]), "hyper"),
}


@pytest.mark.parametrize("cls", [LowSwitchGPUCB, LowSwitchGPEI], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", sorted(TAMPER))
def test_tampered_state_is_refused_and_policy_unchanged(cls: type[LowSwitchPolicy],
                                                        name: str) -> None:
    opt = _driven(cls, None)
    good = json.loads(json.dumps(opt.state_dict()))
    edit, match = TAMPER[name]
    bad = copy.deepcopy(good)
    edit(bad)
    target = _driven(cls, None)
    before = json.dumps(target.state_dict())
    with pytest.raises(InputError, match=match):
        target.load_state_dict(bad)
    assert json.dumps(target.state_dict()) == before
    with pytest.raises(InputError, match=match):
        cls.from_state_dict(bad)


def test_row_that_is_not_a_candidate_is_refused() -> None:
    opt = _driven(LowSwitchGPEI, CANDS)
    state = json.loads(json.dumps(opt.state_dict()))
    state["data"]["X_fit"][0] = [0.2, 0.2]  # inside the box, not a candidate row
    with pytest.raises(InputError, match="not a row of candidates"):
        LowSwitchGPEI.from_state_dict(state)


def test_untampered_state_still_loads() -> None:
    opt = _driven(LowSwitchGPEI, CANDS)
    state = json.loads(json.dumps(opt.state_dict()))
    twin = LowSwitchGPEI.from_state_dict(state)
    assert json.dumps(twin.state_dict()) == json.dumps(opt.state_dict())
