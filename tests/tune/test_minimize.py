"""Tests for lowswitch.tune.minimize: setup per switch, workers, failures, accounting, plots."""

from __future__ import annotations

import math
import os
import time

import matplotlib
import pytest

from lowswitch.errors import InputError
from lowswitch.space import Categorical, Float, Int, Space
from lowswitch.tune import Tuner, minimize

matplotlib.use("Agg")

SPACE = Space({"k": Int(0, 7), "c": Categorical(["a", "b"])})


def quadratic(config: dict, repeat: int) -> float:
    return (config["k"] - 5) ** 2 / 10 + 0.3 * (config["c"] == "b") + 0.05 * (repeat % 3)


def setup_scale(config: dict) -> dict:
    time.sleep(0.01)
    return {"scale": 10.0, "pid": os.getpid()}


def with_context(config: dict, repeat: int, context: dict) -> float:
    return (config["k"] - 5) ** 2 / context["scale"] + 0.05 * (repeat % 3)


def sometimes_bad(config: dict, repeat: int) -> float:
    if config["k"] == 0:
        raise RuntimeError("diverged")
    if config["k"] == 1:
        return float("nan")
    if config["k"] == 2:
        return "oops"  # type: ignore[return-value]
    return quadratic(config, repeat)


def test_setup_runs_once_per_switch_and_context_is_reused() -> None:
    calls: list[dict] = []

    def setup(config: dict) -> dict:
        calls.append(dict(config))
        return {"scale": 10.0, "config": dict(config)}

    seen: list[tuple] = []

    def objective(config: dict, repeat: int, context: dict) -> float:
        assert context["config"] == config  # the context of this very block
        seen.append((config["k"], config["c"], repeat))
        return quadratic(config, repeat)

    res = minimize(objective, SPACE, budget=24, setup=setup, seed=0, progress=False)
    df = res.trials
    assert len(df) == 24 and res.n_evaluations == 24
    assert len(calls) == res.n_switches == df["switch"].sum()
    # naive reference: a switch is a block whose config differs from the previous block's
    firsts = df.sort_values("trial_id").drop_duplicates("block_id")
    keys = list(zip(firsts["k"], firsts["c"], strict=True))
    assert res.n_switches == sum(1 for i, k in enumerate(keys) if i == 0 or k != keys[i - 1])
    assert [(c["k"], c["c"]) for c in calls] == [k for i, k in enumerate(keys)
                                                  if i == 0 or k != keys[i - 1]]
    assert res.n_switches < 24  # some block had repeats
    assert (df.loc[df["switch"], "time_setup"] > 0).all()
    assert (df.loc[~df["switch"], "time_setup"] == 0).all()
    assert res.time_setup == pytest.approx(df["time_setup"].sum())
    assert res.time_objective == pytest.approx(df["time_objective"].sum())
    assert res.time_optimizer > 0 and res.wall_time > 0
    assert res.best is not None and res.best_config == res.best.config


def test_dataframe_columns_and_best_so_far() -> None:
    res = minimize(quadratic, SPACE, budget=15, seed=1, progress=False)
    df = res.trials
    assert list(df.columns[:7]) == ["trial_id", "block_id", "repeat", "switch", "status",
                                    "value", "error"]
    assert {"k", "c", "t_start", "t_end", "best_so_far"} <= set(df.columns)
    assert (df["t_end"] >= df["t_start"]).all()
    # naive reference for best_so_far: best running per-config mean in completion order
    sums: dict = {}
    for _, row in df.sort_values("t_end").iterrows():
        key = (row["k"], row["c"])
        s, n = sums.get(key, (0.0, 0))
        sums[key] = (s + row["value"], n + 1)
        assert row["best_so_far"] == pytest.approx(min(a / b for a, b in sums.values()))


def test_failures_raise_nan_and_non_numbers_are_recorded() -> None:
    res = minimize(sometimes_bad, SPACE, budget=30, seed=2, progress=False)
    df = res.trials
    failed = df[df["status"] == "failed"]
    assert len(df) == 30
    assert res.n_failures == len(failed) > 0
    assert res.n_evaluations == 30 - len(failed)
    assert set(failed["k"]) <= {0, 1, 2}
    msgs = " ".join(failed["error"])
    assert any(w in msgs for w in ("diverged", "non-finite", "not a number"))
    assert res.best is not None and res.best.config["k"] not in (0, 1, 2)


def test_setup_failure_is_recorded_per_trial() -> None:
    def setup(config: dict) -> dict:
        if config["k"] < 4:
            raise OSError("cannot load")
        return {"scale": 10.0}

    res = minimize(with_context, SPACE, budget=20, setup=setup, seed=3, progress=False)
    failed = res.trials[res.trials["status"] == "failed"]
    assert len(failed) > 0 and failed["error"].str.contains("setup failed").all()
    assert (failed["k"] < 4).all()


def test_all_failed_warns_and_returns_no_best() -> None:
    def boom(config: dict, repeat: int) -> float:
        raise ValueError("no")

    with pytest.warns(RuntimeWarning, match="no evaluation succeeded"):
        res = minimize(boom, SPACE, budget=4, seed=0, progress=False)
    assert res.best is None and res.n_failures == 4


def test_bad_arguments() -> None:
    with pytest.raises(InputError, match="budget"):
        minimize(quadratic, SPACE, budget=0)
    with pytest.raises(InputError, match="objective"):
        minimize("f", SPACE, budget=3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="n_workers"):
        minimize(quadratic, SPACE, budget=3, n_workers=0)
    with pytest.raises(InputError, match="setup_in"):
        minimize(quadratic, SPACE, budget=3, setup_in="gpu")
    with pytest.raises(InputError, match="tuner"):
        minimize(quadratic, SPACE, budget=3, tuner=Tuner(Space({"k": Int(0, 3)})))


def test_continue_with_existing_tuner() -> None:
    tuner = Tuner(SPACE, seed=4)
    minimize(quadratic, SPACE, budget=6, tuner=tuner, progress=False)
    res = minimize(quadratic, SPACE, budget=6, tuner=tuner, progress=False)
    assert tuner.n_evaluations == 12 and res.trials["trial_id"].min() == 6


@pytest.mark.parametrize("setup_in", ["main", "worker"])
def test_worker_processes(setup_in: str) -> None:
    res = minimize(with_context, SPACE, budget=16, setup=setup_scale, n_workers=2, seed=5,
                   setup_in=setup_in, progress=False)
    df = res.trials
    assert len(df) == 16 and res.n_failures == 0
    assert sorted(df["trial_id"]) == list(range(16))
    for _, row in df.iterrows():
        assert row["value"] == pytest.approx(with_context(
            {"k": row["k"], "c": row["c"]}, row["repeat"], {"scale": 10.0}))
    n_setup = int((df["time_setup"] > 0).sum())
    if setup_in == "main":
        assert n_setup == res.n_switches
    else:  # in each worker that ran the config: between 1 and 2 per switch
        assert res.n_switches <= n_setup <= 2 * res.n_switches


def test_worker_failures_are_recorded() -> None:
    res = minimize(sometimes_bad, SPACE, budget=12, n_workers=2, seed=2, progress=False)
    assert len(res.trials) == 12
    assert res.n_failures == int((res.trials["status"] == "failed").sum())


def test_plot_writes_png(tmp_path) -> None:
    space = Space({"x": Float(-1.0, 1.0)})
    res = minimize(lambda c, r: c["x"] ** 2 + 0.01 * r, space, budget=10, progress=False)
    path = tmp_path / "tune.png"
    fig = res.plot(str(path))
    assert len(fig.axes) >= 3
    assert path.stat().st_size > 1000
    summary = res.summary()
    assert summary["n_evaluations"] == 10 and math.isfinite(summary["best"]["mean"])


def huge_second_repeat(config: dict, repeat: int) -> float:
    return 1e160 if repeat == 1 else quadratic(config, repeat)


def test_huge_value_is_a_failed_trial_and_the_loop_goes_on() -> None:
    """A 1e160 used to reach the GP and make minimize raise at the next fit (issue 13,
    item 3): now it is a failed trial that says why, and the loop goes on."""
    res = minimize(huge_second_repeat, SPACE, budget=16, seed=1, progress=False)
    df = res.trials
    failed = df[df["status"] == "failed"]
    assert len(df) == 16 and len(failed) > 0 and set(failed["repeat"]) == {1}
    assert all("|value| <= 1e+100" in e and "1e+160" in e for e in failed["error"])
    assert res.n_evaluations == 16 - len(failed) and res.best is not None


def hang_on_second_repeat(config: dict, repeat: int) -> float:
    if repeat == 1:
        time.sleep(30.0)  # a hung objective
    return quadratic(config, repeat)


def hang(config: dict, repeat: int) -> float:
    time.sleep(30.0)
    return 0.0


@pytest.mark.slow  # two spawned workers importing torch: ~15-35 s on a loaded machine
def test_trial_timeout_stops_a_hung_trial_and_the_loop_goes_on() -> None:
    """Issue 13: a hung objective held its worker until the end (no per-trial timeout)."""
    t0 = time.perf_counter()
    res = minimize(hang_on_second_repeat, SPACE, budget=8, n_workers=2, seed=3,
                   trial_timeout=3.0, progress=False)
    wall = time.perf_counter() - t0
    df = res.trials
    failed = df[df["status"] == "failed"]
    assert len(df) == 8 and len(failed) >= 1 and set(failed["repeat"]) == {1}
    assert all("trial_timeout: stopped after 3 s" in e for e in failed["error"])
    assert res.n_evaluations == 8 - len(failed) and res.tuner.n_pending == 0
    assert wall < 30.0 * len(failed)  # the hung sleeps were cut short


def test_timeout_stops_a_hanging_objective() -> None:
    """Issue 13: minimize(timeout=) could not stop an objective that hangs."""
    t0 = time.perf_counter()
    res = minimize(hang, SPACE, budget=5, timeout=4.0, progress=False)
    wall = time.perf_counter() - t0
    assert wall < 25.0
    assert len(res.trials) == 1 and res.trials.loc[0, "status"] == "failed"
    assert "timeout: the run's 4 s were up" in res.trials.loc[0, "error"]
    assert res.tuner.n_pending == 0 and res.best is None


def test_timeouts_need_a_picklable_objective() -> None:
    with pytest.raises(InputError, match="picklable"):
        minimize(lambda c, r: 0.0, SPACE, budget=2, trial_timeout=5.0, progress=False)
    with pytest.raises(InputError, match="trial_timeout"):
        minimize(quadratic, SPACE, budget=2, trial_timeout=0, progress=False)


def test_keyboard_interrupt_records_the_trial_and_reraises() -> None:
    """Issue 13, item 9: Ctrl-C inside a trial left it pending in the tuner forever."""
    calls = {"n": 0}

    def objective(config: dict, repeat: int) -> float:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return quadratic(config, repeat)

    tuner = Tuner(SPACE, seed=0)
    with pytest.raises(KeyboardInterrupt):
        minimize(objective, SPACE, budget=6, tuner=tuner, progress=False)
    assert tuner.n_pending == 0 and tuner.n_failures == 1 and tuner.n_evaluations == 2
    assert tuner.trials[2]["status"] == "failed"
    assert tuner.trials[2]["error"] == "interrupted (KeyboardInterrupt)"
    res = minimize(quadratic, SPACE, budget=3, tuner=tuner, progress=False)  # goes on
    assert res.n_evaluations == 3
