"""switch_cost through the tuning façades: Tuner and minimize pass it to the policy."""

from __future__ import annotations

import pytest

from lowswitch.errors import InputError
from lowswitch.space import Float, Space
from lowswitch.tune import Tuner, minimize

SPACE = Space({"x": Float(-2.0, 2.0)})


def noisy(config: dict, repeat: int) -> float:
    return (config["x"] - 0.5) ** 2 + 0.2 * (((repeat * 7919) % 13) / 6.0 - 1.0)


def test_tuner_hands_switch_cost_to_the_policy_and_keeps_it_in_its_state() -> None:
    tuner = Tuner(SPACE, switch_cost=12.0, seed=2)
    assert tuner.switch_cost == 12.0 and tuner._policy.switch_cost == 12.0
    state = tuner.state_dict()
    assert state["switch_cost"] == 12.0
    Tuner(SPACE, switch_cost=12.0, seed=2).load_state_dict(state)
    with pytest.raises(InputError, match="switch_cost"):
        Tuner(SPACE, switch_cost=0.0, seed=2).load_state_dict(state)
    old = {k: v for k, v in Tuner(SPACE, seed=2).state_dict().items() if k != "switch_cost"}
    Tuner(SPACE, seed=2).load_state_dict(old)  # a state saved before switch_cost: cost 0


@pytest.mark.parametrize("bad", [-1.0, float("inf"), [1.0], "a lot", True])
def test_bad_switch_cost_is_refused(bad: object) -> None:
    with pytest.raises(InputError, match="switch_cost"):
        Tuner(SPACE, switch_cost=bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="switch_cost"):
        Tuner(SPACE, policy_kwargs={"switch_cost": 3.0})


def test_minimize_with_a_costly_switch_switches_less() -> None:
    cheap = minimize(noisy, SPACE, budget=40, progress=False, seed=1)
    dear = minimize(noisy, SPACE, budget=40, progress=False, seed=1, switch_cost=50.0)
    assert dear.n_switches < cheap.n_switches
