"""LowSwitchSearcher with a real local Ray Tune run: concurrent repeats, save/restore."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")
from ray import tune  # noqa: E402

from lowswitch.errors import InputError  # noqa: E402
from lowswitch.integrations.ray import LowSwitchSearcher, space_from_param_space  # noqa: E402
from lowswitch.space import Categorical, Float, Int, Space  # noqa: E402

pytestmark = pytest.mark.integration

PARAM_SPACE = {"k": tune.randint(0, 8), "c": tune.choice(["a", "b"]), "epochs": 1}


def _value(config: dict[str, Any]) -> float:
    return (config["k"] - 5) ** 2 / 10 + 0.3 * (config["c"] == "b") + 0.05 * config["repeat"]


def trainable(config: dict[str, Any]) -> None:
    t0 = time.time()
    time.sleep(0.3)
    tune.report({"loss": _value(config), "t0": t0, "t1": time.time()})


def marking_trainable(config: dict[str, Any]) -> None:
    (Path(config["marker_dir"]) / f"started-{time.time_ns()}").touch()
    time.sleep(0.2)
    tune.report({"loss": _value(config)})


def _restore_space(markers: Path) -> dict[str, Any]:
    return {"k": tune.randint(0, 8), "c": tune.choice(["a", "b"]), "marker_dir": str(markers)}


def _driver(storage: str) -> None:
    """First half of the restore test, run as a separate driver process (interrupted)."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    tuner = tune.Tuner(
        marking_trainable,
        param_space=_restore_space(Path(storage) / "markers"),
        tune_config=tune.TuneConfig(search_alg=LowSwitchSearcher(seed=1), metric="loss",
                                    mode="min", num_samples=12, max_concurrent_trials=2),
        run_config=tune.RunConfig(storage_path=storage, name="exp", verbose=0),
    )
    tuner.fit()


@pytest.fixture(scope="module")
def ray_local() -> Any:
    # Ray workers cannot import this test module by name: ship its functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             ignore_reinit_error=True)
    yield
    ray.shutdown()


def _check_blocks(configs: list[dict[str, Any]]) -> None:
    by_config: dict[tuple, list[int]] = {}
    for c in configs:
        by_config.setdefault((c["k"], c["c"]), []).append(c["repeat"])
    for repeats in by_config.values():
        assert len(repeats) == len(set(repeats))  # distinct repeat index per trial


def test_local_run_with_concurrent_repeats(ray_local: Any, tmp_path: Path) -> None:
    searcher = LowSwitchSearcher(seed=0)
    tuner = tune.Tuner(
        trainable,
        param_space=PARAM_SPACE,
        tune_config=tune.TuneConfig(search_alg=searcher, metric="loss", mode="min",
                                    num_samples=10, max_concurrent_trials=2),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exp", verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 10 and not results.errors
    df = results.get_dataframe()
    configs = [r.config for r in results]
    assert all(c["epochs"] == 1 and "repeat" in c for c in configs)
    _check_blocks(configs)
    # at least two trials overlapped in time
    spans = sorted(zip(df["t0"], df["t1"], strict=True))
    assert any(spans[i + 1][0] < spans[i][1] for i in range(len(spans) - 1))
    best = results.get_best_result()
    assert math.isfinite(best.metrics["loss"])
    # the searcher state was checkpointed as JSON into the experiment directory
    exp = tmp_path / "exp"
    ckpts = list(exp.glob("searcher-state-*.pkl"))
    assert ckpts
    state = json.loads(ckpts[0].read_text())
    assert (state["format"], state["version"]) == ("lowswitch.LowSwitchSearcher", 2)
    assert len(state["tuner"]["trials"]) == 10


def test_restore_from_experiment_checkpoint_continues(ray_local: Any, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    # the first driver is interrupted (Ctrl-C) after 4 trials started; Ray checkpoints
    driver = subprocess.Popen([sys.executable, __file__, "driver", str(tmp_path)])
    deadline = time.time() + 300
    while len(list(markers.glob("started-*"))) < 4 and time.time() < deadline:
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=300) == 0
    exp_path = str(tmp_path / "exp")
    assert tune.Tuner.can_restore(exp_path)
    before = json.loads(max((tmp_path / "exp").glob("searcher-state-*.pkl")).read_text())
    n_before = sum(t["status"] == "complete" for t in before["tuner"]["trials"])
    assert 1 <= n_before < 12
    restored = tune.Tuner.restore(exp_path, trainable=marking_trainable,
                                  resume_unfinished=True, resume_errored=True)
    results = restored.fit()
    assert len(results) == 12 and not results.errors
    _check_blocks([r.config for r in results])
    after = json.loads(max((tmp_path / "exp").glob("searcher-state-*.pkl")).read_text())
    trials = after["tuner"]["trials"]
    # the restored searcher kept the first run's trials and went on from there
    done_before = [t for t in before["tuner"]["trials"] if t["status"] == "complete"]
    assert all(trials[t["trial_id"]] == t for t in done_before)
    assert sum(t["status"] == "complete" for t in trials) >= 12


def test_searcher_save_restore_roundtrip(tmp_path: Path) -> None:
    space = Space({"x": Float(0.0, 1.0), "k": Int(1, 4)})
    a = LowSwitchSearcher(space, metric="loss", mode="min", seed=2)
    for i in range(8):
        cfg = a.suggest(f"t{i}")
        a.on_trial_complete(f"t{i}", {"loss": (cfg["x"] - 0.3) ** 2 + cfg["k"] / 10})
    running = a.suggest("t8")
    path = str(tmp_path / "state.json")
    a.save(path)
    b = LowSwitchSearcher(space, metric="loss", mode="min", seed=2)
    b.restore(path)
    assert b.live_trials == a.live_trials
    for s in (a, b):
        s.on_trial_complete("t8", {"loss": 0.5 + running["repeat"]})
    assert [a.suggest(f"u{i}") for i in range(4)] == [b.suggest(f"u{i}") for i in range(4)]


def test_failures_and_bad_input() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    s = LowSwitchSearcher(space, metric="loss", mode="max")
    for tid, result, err in [("a", None, True), ("b", {"loss": float("nan")}, False),
                             ("c", {"other": 1.0}, False), ("d", {"loss": 0.7}, False),
                             ("e", {"loss": 1e160}, False)]:  # issue 13, item 3
        s.suggest(tid)
        s.on_trial_complete(tid, result, error=err)
    assert s.tuner is not None and s.tuner.n_failures == 4 and s.tuner.n_evaluations == 1
    assert "|value| <= 1e+100" in s.tuner.trials[-1]["error"]
    for tid in ("f", "g", "h"):  # later suggestions (GP fits) still work
        s.suggest(tid)
        s.on_trial_complete(tid, {"loss": 0.5})
    s.on_trial_complete("unknown", {"loss": 1.0})  # ignored
    with pytest.raises(InputError, match="mode"):
        LowSwitchSearcher(space, mode="minimise")
    with pytest.raises(InputError, match="repeat_key"):
        LowSwitchSearcher(Space({"repeat": Int(0, 3)}), metric="m", mode="min")
    with pytest.raises(InputError, match="supported"):
        space_from_param_space({"x": tune.randn(0.0, 1.0)})
    with pytest.raises(InputError, match="unsupported"):
        space_from_param_space({"nested": {"a": tune.uniform(0.0, 1.0)}})
    with pytest.raises(InputError, match="quantized"):
        space_from_param_space({"k": tune.qrandint(0, 10, 2)})
    sp, consts = space_from_param_space({"lr": tune.loguniform(1e-4, 1e-1),
                                         "c": tune.choice([1, 2]), "n": 5})
    assert sp == Space({"lr": Float(1e-4, 1e-1, log=True), "c": Categorical([1, 2])})
    assert consts == {"n": 5}


if __name__ == "__main__":  # the interrupted driver of the restore test
    if sys.argv[1:2] == ["driver"]:
        _driver(sys.argv[2])


def test_switch_cost_reaches_the_tuner() -> None:
    space = Space({"k": Int(0, 7)})
    searcher = LowSwitchSearcher(space, metric="loss", mode="min", switch_cost=5.0)
    assert searcher.tuner is not None and searcher.tuner.switch_cost == 5.0
    with pytest.raises(InputError, match="switch_cost"):
        LowSwitchSearcher(space, metric="loss", mode="min", switch_cost=-1.0)


def test_ray_search_space_dict_given_to_the_searcher() -> None:
    """As other Ray searchers: a Ray search-space dict instead of a lowswitch Space."""
    s = LowSwitchSearcher({"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 4),
                           "act": tune.choice(["relu", "tanh"]), "epochs": 3},
                          metric="loss", mode="min", seed=1)
    assert s.tuner is not None
    assert s.tuner.space == Space({"lr": Float(1e-4, 1e-1, log=True), "layers": Int(1, 3),
                                   "act": Categorical(["relu", "tanh"])})
    for i in range(6):
        cfg = s.suggest(f"t{i}")
        assert set(cfg) == {"lr", "layers", "act", "epochs", "repeat"} and cfg["epochs"] == 3
        assert 1e-4 <= cfg["lr"] <= 1e-1 and cfg["layers"] in (1, 2, 3)
        s.on_trial_complete(f"t{i}", {"loss": math.log10(cfg["lr"]) ** 2 + cfg["layers"]})
    # what does not map exactly is refused, naming the entry
    for bad, match in [({"x": tune.quniform(0.0, 1.0, 0.1)}, r"param_space\['x'\]"),
                       ({"x": tune.randn(0.0, 1.0)}, r"param_space\['x'\]"),
                       ({"g": tune.grid_search([1, 2])}, r"param_space\['g'\]")]:
        with pytest.raises(InputError, match=match):
            LowSwitchSearcher(bad, metric="loss", mode="min")


def test_policy_config_reaches_the_tuner_and_survives_save_restore(tmp_path: Path) -> None:
    from lowswitch.policies import PolicyConfig

    space = Space({"k": Int(0, 7)})
    config = PolicyConfig(switch_threshold=3.0, seed=4, options={"beta": 2.0})
    a = LowSwitchSearcher(space, metric="loss", mode="max", policy="ucb", config=config)
    assert a.tuner is not None and a.tuner.config == config.replace(maximize=True)
    assert a.tuner.policy.beta_schedule(0.0) == 2.0  # type: ignore[attr-defined]
    path = str(tmp_path / "s.json")
    a.save(path)
    b = LowSwitchSearcher(metric="loss", mode="max")
    b.restore(path)
    assert b.tuner is not None and b.tuner.config == a.tuner.config
    with pytest.raises(InputError, match="not both"):
        LowSwitchSearcher(space, metric="loss", mode="min", seed=1, config=config)


def test_state_saved_before_policy_config_still_loads() -> None:
    space = Space({"k": Int(0, 7)})
    a = LowSwitchSearcher(space, metric="loss", mode="min", seed=3, switch_threshold=3.0)
    state = a.get_state()
    state["settings"] = {"switch_threshold": 3.0, "seed": 3, "policy": "ei",
                         "max_repeats": None, "switch_cost": 0.0}  # the flat pre-config form
    b = LowSwitchSearcher(metric="loss", mode="min")
    b.set_state(json.loads(json.dumps(state)))
    assert b.tuner is not None and a.tuner is not None and b.tuner.config == a.tuner.config
    assert b.suggest("t0") == a.suggest("t0")
