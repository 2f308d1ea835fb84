"""PolicyConfig: checks, JSON round trip, keyword convenience, warm start, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lowswitch.errors import InputError, StateError
from lowswitch.policies import LowSwitchGPTS, LowSwitchGPUCB, PolicyConfig, derive_seed
from lowswitch.policies.config import facade_config

BOX = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
GRID = torch.cartesian_prod(*[torch.linspace(0, 1, 5, dtype=torch.float64)] * 2)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("switch_threshold", math.inf, "finite number >= 1"),
    ("switch_threshold", 0.5, ">= 1"),
    ("seed", -1, "non-negative int"),
    ("seed", True, "non-negative int"),
    ("max_repeats", 0, "int >= 1 or None"),
    ("num_restarts", 0, "int >= 1"),
    ("refit_growth", math.nan, "finite number >= 1"),
    ("fit_tolerance", 0.0, r"in \(0, 1\)"),
    ("fit_tolerance", 1.0, r"in \(0, 1\)"),
    ("fit_tolerance", math.nan, r"in \(0, 1\)"),
    ("fit_tolerance", True, r"in \(0, 1\)"),
    ("switch_cost", -1.0, "switch_cost"),
    ("maximize", 1, "bool"),
    ("options", {1: 2}, "str keys"),
])
def test_every_field_is_checked(field: str, value: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        PolicyConfig(**{field: value})  # type: ignore[arg-type]


def test_json_round_trip_and_immutability() -> None:
    cfg = PolicyConfig(switch_threshold=3, seed=None, switch_cost=[1.0, 2.0],
                       options={"n_local": 4})
    assert cfg.switch_cost == (1.0, 2.0) and cfg.switch_threshold == 3.0
    assert PolicyConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(TypeError):
        cfg.options["n_local"] = 5  # type: ignore[index]
    with pytest.raises(InputError, match="unknown settings"):
        PolicyConfig.from_dict({"switch_treshold": 2.0})
    with pytest.raises(InputError, match="JSON-safe"):
        PolicyConfig(options={"beta": object()}).to_json()


def test_keywords_build_the_same_config_and_conflicts_are_refused() -> None:
    a = LowSwitchGPUCB(BOX, switch_threshold=3.0, seed=2, beta=2.0, budget=10)
    b = LowSwitchGPUCB(BOX, config=PolicyConfig(switch_threshold=3.0, seed=2, budget=10,
                                                options={"beta": 2.0}))
    assert a.config == b.config and a.state_dict() == b.state_dict()
    with pytest.raises(InputError, match="give it in one place"):
        LowSwitchGPUCB(BOX, switch_threshold=4.0, config=PolicyConfig())
    with pytest.raises(InputError, match="takes no option"):
        LowSwitchGPTS(BOX, beta=2.0)
    with pytest.raises(InputError, match="not both"):
        facade_config(PolicyConfig(), {"seed": 3})


def test_policy_config_rebuilds_an_identical_policy() -> None:
    a = LowSwitchGPTS(BOX, GRID, seed=5, n_local=8)
    b = LowSwitchGPTS(BOX, GRID, config=a.config)
    for opt in (a, b):
        for _ in range(4):
            blk = opt.ask()
            opt.tell(blk.x, torch.full((blk.repeats,), float(blk.x.sum())))
    assert a.state_dict() == b.state_dict()


def test_warm_start_with_a_stored_fit_equals_the_restored_policy() -> None:
    live = LowSwitchGPUCB(BOX, GRID, seed=1)
    for _ in range(5):
        blk = live.ask()
        live.tell(blk.x, torch.full((blk.repeats,), -float((blk.x - 0.4).square().sum())))
    live.ask()  # fits
    state = live.state_dict()
    X = torch.tensor(state["data"]["X_fit"], dtype=torch.float64)
    y = torch.tensor(state["data"]["Y_fit"], dtype=torch.float64)
    warm = LowSwitchGPUCB(BOX, GRID, seed=1)
    warm.warm_start(X, y, hyper=live.hyperparameters)
    assert warm.hyperparameters == live.hyperparameters and warm.n_evaluations == X.shape[0]
    restored = LowSwitchGPUCB(BOX, GRID, seed=1)
    state["counters"].update(n_asks=0, n_switches=0, design_cursor=0, last_x=None)
    restored.load_state_dict(state)
    assert torch.equal(warm.ask().x, restored.ask().x)
    with pytest.raises(StateError, match="fresh"):
        warm.warm_start(X, y)
    with pytest.raises(InputError, match="hyper"):
        LowSwitchGPUCB(BOX, GRID).warm_start(X, y, hyper={"no.such": [1.0]})


def test_one_seed_recipe() -> None:
    words = np.random.SeedSequence([7, 2, 1]).generate_state(2)
    assert derive_seed(7, 2, 1) == int(words[0])
    assert derive_seed(7, 2, 1, bits=31) == int(words[0]) & 0x7FFFFFFF
    assert derive_seed(7, 2, 1, bits=63) == int(words[0]) << 31 ^ int(words[1])
