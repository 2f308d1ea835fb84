"""switch_cost through the tuning façades: Tuner and minimize pass it to the policy."""

from __future__ import annotations

import time

import pytest

from lowswitch.errors import InputError
from lowswitch.space import Float, Space
from lowswitch.tune import PolicyConfig, Tuner, minimize

SPACE = Space({"x": Float(-2.0, 2.0)})


def noisy(config: dict, repeat: int) -> float:
    return (config["x"] - 0.5) ** 2 + 0.2 * (((repeat * 7919) % 13) / 6.0 - 1.0)


def test_tuner_hands_switch_cost_to_the_policy_and_keeps_it_in_its_state() -> None:
    tuner = Tuner(SPACE, switch_cost=12.0, seed=2)
    assert tuner.switch_cost == 12.0 and tuner._policy.switch_cost == 12.0
    state = tuner.state_dict()
    assert state["switch_cost"] == 12.0
    restored = Tuner(SPACE, seed=2)  # the saved cost wins (it may have been measured)
    restored.load_state_dict(state)
    assert restored.switch_cost == 12.0 and restored._policy.switch_cost == 12.0
    old = {k: v for k, v in Tuner(SPACE, seed=2).state_dict().items() if k != "switch_cost"}
    plain = Tuner(SPACE, seed=2)
    plain.load_state_dict(old)  # a state saved before switch_cost: cost 0
    assert plain.switch_cost == 0.0
    tuner.set_switch_cost(3)
    assert tuner._policy.switch_cost == 3.0 and tuner.state_dict()["switch_cost"] == 3.0
    with pytest.raises(InputError, match="switch_cost"):
        tuner.set_switch_cost(-1.0)
    assert tuner.switch_cost == 3.0


@pytest.mark.parametrize("bad", [-1.0, float("inf"), [1.0], "a lot", True])
def test_bad_switch_cost_is_refused(bad: object) -> None:
    with pytest.raises(InputError, match="switch_cost"):
        Tuner(SPACE, switch_cost=bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="switch_cost"):  # a PolicyConfig field: same check
        Tuner(SPACE, policy_kwargs={"switch_cost": bad})


def test_switch_cost_in_policy_kwargs_or_config_is_the_same_setting() -> None:
    a = Tuner(SPACE, policy_kwargs={"switch_cost": 3.0})
    b = Tuner(SPACE, config=PolicyConfig(switch_cost=3.0))
    assert a.switch_cost == b.switch_cost == a.policy.switch_cost == 3.0  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="given twice"):
        Tuner(SPACE, switch_cost=1.0, policy_kwargs={"switch_cost": 3.0})
    with pytest.raises(InputError, match="not both"):
        Tuner(SPACE, switch_cost=1.0, config=PolicyConfig())


def test_minimize_with_a_costly_switch_switches_less() -> None:
    cheap = minimize(noisy, SPACE, budget=40, progress=False, seed=1)
    dear = minimize(noisy, SPACE, budget=40, progress=False, seed=1, switch_cost=50.0)
    assert dear.n_switches < cheap.n_switches


def setup_slowly(config: dict) -> dict:
    time.sleep(0.2)
    return {"x": config["x"]}


def evaluate_quickly(config: dict, repeat: int, context: dict) -> float:
    time.sleep(0.01)
    return noisy(config, repeat)


def test_auto_switch_cost_is_measured_from_setup_and_objective_times() -> None:
    res = minimize(evaluate_quickly, SPACE, budget=12, setup=setup_slowly, progress=False,
                   seed=0, switch_cost="auto")
    assert res.switch_cost == res.tuner.switch_cost == res.tuner._policy.switch_cost
    # 0.2 s set-up over 0.01 s evaluations: about 20 (wide bounds: a loaded machine)
    assert 4.0 < res.switch_cost < 100.0
    with pytest.raises(InputError, match="switch_cost"):
        minimize(noisy, SPACE, budget=4, progress=False, switch_cost="auto")  # no setup
    with pytest.raises(InputError, match="switch_cost"):
        minimize(noisy, SPACE, budget=4, progress=False, switch_cost="often")


def test_cost_up_front_reaches_the_policy_through_policy_kwargs() -> None:
    """Tuning guide: ``policy_kwargs={"cost_up_front": True}`` commits the extra repeats."""
    look = Tuner(SPACE, switch_cost=10.0, seed=2)
    front = Tuner(SPACE, switch_cost=10.0, seed=2, policy_kwargs={"cost_up_front": True})
    assert (look._policy.cost_up_front, front._policy.cost_up_front) == (False, True)
    with pytest.raises(InputError, match="cost_up_front"):
        Tuner(SPACE, switch_cost=10.0, policy_kwargs={"cost_up_front": "yes"})
