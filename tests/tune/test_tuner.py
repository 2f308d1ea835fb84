"""Tests for lowswitch.tune.Tuner: blocks, repeats, pending, failures, best, state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lowswitch.errors import InputError, StateError
from lowswitch.space import Categorical, Float, Int, Space
from lowswitch.tune import Trial, Tuner


def _space() -> Space:
    return Space({"k": Int(0, 7), "c": Categorical(["a", "b"])})


def _f(config: dict, repeat: int) -> float:
    rng = np.random.default_rng(1000 * config["k"] + 7 * repeat + (config["c"] == "b"))
    return (config["k"] - 5) ** 2 / 10 + 0.3 * (config["c"] == "b") + 0.2 * rng.normal()


def _run(tuner: Tuner, n: int) -> list[Trial]:
    out = []
    for _ in range(n):
        t = tuner.ask()
        tuner.tell(t, _f(t.config, t.repeat))
        out.append(t)
    return out


def test_blocks_hand_out_repeats_of_one_config() -> None:
    tuner = Tuner(_space(), seed=0)
    trials = _run(tuner, 30)
    by_block: dict[int, list[Trial]] = {}
    for t in trials:
        by_block.setdefault(t.block_id, []).append(t)
    assert [t.trial_id for t in trials] == list(range(30))
    assert sorted(by_block) == list(range(len(by_block)))
    for ts in by_block.values():
        assert all(t.config == ts[0].config for t in ts)
        assert [t.repeat for t in ts] == list(range(ts[0].repeat, ts[0].repeat + len(ts)))
        assert _space().canonical(ts[0].config) == ts[0].config
    # repeat indices count every trial of a config, across blocks: 0, 1, 2, ...
    by_config: dict[tuple, list[int]] = {}
    for t in trials:
        by_config.setdefault(_space().key(t.config), []).append(t.repeat)
    for reps in by_config.values():
        assert reps == list(range(len(reps)))
    assert tuner.n_evaluations == 30
    assert tuner.n_blocks == len(by_block)
    xs = [tuner.trials[ts[0].trial_id]["x"] for _, ts in sorted(by_block.items())]
    assert tuner.n_switches == sum(1 for i, x in enumerate(xs) if i == 0 or x != xs[i - 1])
    assert tuner.n_switches <= tuner.n_blocks
    # repeats of a config merge into one unique point of the policy's GP
    keys = {tuple(_space().encode(t.config).tolist()) for t in trials}
    assert tuner.n_unique == len(keys) == tuner.policy.n_unique


def test_continuous_space_points_are_canonical_and_merge() -> None:
    space = Space({"x": Float(-2.0, 2.0), "lr": Float(1e-4, 1.0, log=True)})
    tuner = Tuner(space, seed=1)
    trials = []
    for _ in range(14):
        t = tuner.ask()
        tuner.tell(t, (t.config["x"] - 0.5) ** 2 + math.log10(t.config["lr"]) ** 2 / 10)
        trials.append(t)
    for t in trials:
        assert space.canonical(t.config) == t.config
    assert tuner.policy.n_unique == len({space.key(t.config) for t in trials})


def test_pending_trials_and_out_of_order_tells() -> None:
    tuner = Tuner(_space(), seed=2)
    _run(tuner, 12)
    asked = [tuner.ask() for _ in range(6)]  # spans more than one block while pending
    assert tuner.n_pending == 6
    assert len({t.block_id for t in asked}) >= 2
    for t in reversed(asked):
        tuner.tell(t, _f(t.config, t.repeat))
    assert tuner.n_pending == 0 and tuner.n_evaluations == 18


def test_failures_are_recorded_and_tuner_stays_usable() -> None:
    tuner = Tuner(_space(), seed=3)
    _run(tuner, 6)
    t = tuner.ask()
    tuner.tell(t, error="CUDA out of memory")
    assert tuner.n_failures == 1 and tuner.n_evaluations == 6
    rec = tuner.trials[t.trial_id]
    assert rec["status"] == "failed" and rec["error"] == "CUDA out of memory"
    _run(tuner, 4)
    assert tuner.n_evaluations == 10


def test_fully_failed_block_imputes_worst_value() -> None:
    tuner = Tuner(_space(), seed=4)
    seen: set = set()
    blocks: set = set()
    for _ in range(60):  # run until a new block opens at a config never seen before
        t = tuner.ask()
        if t.block_id not in blocks and space_key(t.config) not in seen and len(seen) >= 2:
            break
        blocks.add(t.block_id)
        seen.add(space_key(t.config))
        tuner.tell(t, _f(t.config, t.repeat))
    else:
        pytest.fail("no fresh block within 60 trials")
    n_before = tuner.policy.n_evaluations
    block = [t]
    nxt = tuner.ask()
    while nxt.block_id == t.block_id:  # hand out the rest of this block
        block.append(nxt)
        nxt = tuner.ask()
    assert space_key(nxt.config) != space_key(t.config)
    tuner.tell(nxt, _f(nxt.config, nxt.repeat))
    for b in block:
        tuner.tell(b, error="crash")
    assert tuner.policy.n_evaluations == n_before + 1 + 1  # one imputation + the other trial


def space_key(config: dict) -> tuple[float, ...]:
    return _space().key(config)


def test_bad_tells_raise_and_leave_state_unchanged() -> None:
    tuner = Tuner(_space(), seed=5)
    t = tuner.ask()
    for bad in (float("nan"), float("inf"), "1.0", None):
        with pytest.raises(InputError):
            tuner.tell(t, bad)
    with pytest.raises(InputError, match="exactly one"):
        tuner.tell(t, 1.0, error="x")
    assert tuner.n_pending == 1 and tuner.policy.n_evaluations == 0
    with pytest.raises(InputError):
        tuner.tell(99, 1.0)
    with pytest.raises(InputError):
        tuner.tell(Trial(t.config, repeat=t.repeat + 5, block_id=t.block_id,
                         trial_id=t.trial_id), 1.0)
    tuner.tell(t, torch.tensor(0.5))
    with pytest.raises(StateError, match="already told"):
        tuner.tell(t, 1.0)
    assert tuner.n_evaluations == 1


def test_bad_constructor_arguments() -> None:
    with pytest.raises(InputError, match="direction"):
        Tuner(_space(), direction="down")
    with pytest.raises(InputError, match="switch_threshold"):
        Tuner(_space(), switch_threshold=0.5)
    with pytest.raises(InputError, match="space"):
        Tuner({"k": Int(0, 3)})  # type: ignore[arg-type]
    with pytest.raises(InputError, match="policy"):
        Tuner(_space(), policy="nope")
    with pytest.raises(StateError):
        Tuner(_space()).best()


def test_best_is_posterior_mean_argmin_over_evaluated_configs() -> None:
    space = _space()
    tuner = Tuner(space, seed=6)
    _run(tuner, 30)
    best = tuner.best()
    # naive reference: posterior of the policy's GP at every evaluated config
    configs = {space.key(t["config"]): t["config"] for t in tuner.trials}
    X = torch.tensor(list(configs), dtype=torch.float64)
    with torch.no_grad():
        mean = -tuner.policy.model.posterior(X).mean.reshape(-1)  # model holds -y
    i = int(torch.argmin(mean))
    assert best.config == space.decode(X[i])
    assert best.mean == pytest.approx(float(mean[i]), abs=1e-9)
    vals = [t["value"] for t in tuner.trials if t["config"] == best.config]
    assert best.n_repeats == len(vals)
    assert best.observed_mean == pytest.approx(float(np.mean(vals)))
    assert best.std > 0


def test_best_ignores_a_lucky_single_observation() -> None:
    """A config seen once with a lucky low value loses to one with a better mean."""
    space = Space({"k": Int(0, 9)})
    tuner = Tuner(space, seed=7, switch_threshold=4.0)
    lucky_trial = None
    for _ in range(40):
        t = tuner.ask()
        k = t.config["k"]
        noise = np.random.default_rng(31 * k + t.repeat).normal()
        value = abs(k - 3) + 0.5 * noise
        tuner.tell(t, value)
        if lucky_trial is None or value < lucky_trial[1]:
            lucky_trial = (t, value)
    best = tuner.best()
    assert best.mean != pytest.approx(lucky_trial[1])
    assert abs(best.config["k"] - 3) <= 1


def test_state_dict_roundtrip_continues_identically() -> None:
    space = _space()
    a = Tuner(space, seed=8)
    _run(a, 10)
    pending = a.ask()
    state = json.loads(json.dumps(a.state_dict()))
    b = Tuner(space, seed=8)
    b.load_state_dict(state)
    assert b.trials == a.trials and b.n_switches == a.n_switches
    for tuner in (a, b):
        tuner.tell(pending.trial_id, 1.25)
    ta, tb = _run(a, 8), _run(b, 8)
    assert ta == tb
    with pytest.raises(InputError, match="space"):
        Tuner(Space({"k": Int(0, 3)})).load_state_dict(state)
    with pytest.raises(InputError, match="direction"):
        Tuner(space, direction="maximize").load_state_dict(state)


def test_maximize_direction() -> None:
    tuner = Tuner(Space({"k": Int(0, 9)}), direction="maximize", seed=9)
    for _ in range(25):
        t = tuner.ask()
        tuner.tell(t, -abs(t.config["k"] - 6) + 0.01 * t.repeat)
    assert abs(tuner.best().config["k"] - 6) <= 1


def test_observe_external_results_and_reject_bad_configs() -> None:
    space = _space()
    tuner = Tuner(space, seed=10)
    tuner.observe({"k": 5, "c": "a"}, 0.0)
    tuner.observe({"k": 5.0, "c": "a"}, 0.1)  # same config: merges
    assert tuner.n_evaluations == 2 and tuner.n_unique == 1 and tuner.policy.n_unique == 1
    assert [t["repeat"] for t in tuner.trials] == [0, 1]
    bad = [({"k": 5, "c": "a", "lr": 0.1}, 0.0, "lr"), ({"k": 9, "c": "a"}, 0.0, "k"),
           ({"k": 5, "c": "z"}, 0.0, "c"), ({"k": 5}, 0.0, "c"),
           ({"k": 5, "c": "a"}, float("nan"), "value")]
    for config, value, name in bad:
        with pytest.raises(InputError, match=name):
            tuner.observe(config, value)
    assert tuner.n_evaluations == 2 and tuner.policy.n_evaluations == 2
    with pytest.raises(StateError):
        tuner.tell(0, 1.0)  # an observation is not a pending trial
    _run(tuner, 6)
    state = json.loads(json.dumps(tuner.state_dict()))
    again = Tuner(space, seed=10)
    again.load_state_dict(state)
    assert again.n_unique == tuner.n_unique and again.trials == tuner.trials


@pytest.mark.parametrize("bad", [1e160, -1e101, math.inf, math.nan])
def test_out_of_range_value_is_refused_and_tuner_keeps_asking(bad: float) -> None:
    """A value beyond |y| <= 1e100 is refused at tell; the trial stays pending and can be
    told as failed; later asks (GP fits) still work (issue 13, item 3)."""
    tuner = Tuner(_space(), seed=3)
    _run(tuner, 5)
    trial = tuner.ask()
    with pytest.raises(InputError, match=r"\|value\| <= 1e\+100"):
        tuner.tell(trial, bad)
    assert tuner.n_pending == 1 and tuner.n_evaluations == 5
    tuner.tell(trial, error="objective returned 1e160")
    _run(tuner, 8)  # refits the GP at new blocks: would raise if 1e160 had been stored
    assert tuner.n_evaluations == 13 and tuner.n_failures == 1
    with pytest.raises(InputError, match="1e\\+100"):
        tuner.observe({"k": 1, "c": "a"}, bad)


@pytest.mark.parametrize(("path", "value", "match"), [
    (("trials", 0, "value"), 1e160, r"trials\[0\].value.*1e\+100"),
    (("trials", 1, "status"), "done", "status"),
    (("trials", 2, "config", "k"), 99, "k"),
    (("trials", 3, "x"), [0.5, 0.5], "not the encoding"),
    (("trials", 0, "repeat"), -1, "repeat"),
    (("blocks", 0, "n_ok"), 7, "counts do not match"),
    (("blocks", 0, "repeats"), 0, "inconsistent"),
    (("trials", 4, "block_id"), 999, "block_id"),
    (("seed",), -5, "seed"),
    (("trials", 0, "x"), None, "malformed"),
])
def test_tampered_state_is_refused_and_tuner_unchanged(path: tuple, value: object,
                                                        match: str) -> None:
    """Issue 13, item 9: a Tuner state's own records were loaded unchecked, after the
    policy had already been loaded (a KeyError there left the tuner half-restored)."""
    a = Tuner(_space(), seed=8)
    _run(a, 10)
    state = json.loads(json.dumps(a.state_dict()))
    node = state
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    b = Tuner(_space(), seed=8)
    _run(b, 3)
    before = json.dumps(b.state_dict())
    with pytest.raises(InputError, match=match):
        b.load_state_dict(state)
    assert json.dumps(b.state_dict()) == before
