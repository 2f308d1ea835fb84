"""The tuning loop: ``minimize(objective, space, budget, setup=None, n_workers=1)``.

What costs in tuning is usually *switching*: loading a model, a dataset, building
features for a new config. Repeats of the same config (another seed, another fold) are
cheap once that is done. ``minimize`` therefore calls ``setup(config)`` **once per
switch** and hands its result, the *context*, to every repeat:
``objective(config, repeat, context)``. Without ``setup`` the objective is
``objective(config, repeat)``. A switch is a new block at a config other than the previous
block's (a block that re-selects the previous config reuses the live context).

Parallelism (``n_workers > 1``): trials run in worker processes
(``WorkerPool``, ``spawn`` start method by default), so the
objective, ``setup`` and the context must be picklable (module-level functions, plain
data). The pool is kept full: a block's repeats run side by side, and when a block has no
repeats left to hand out, the next block is chosen while the previous one is still running
(its trials are pending and hallucinated). ``setup_in="main"`` (default) runs setup once
per switch in this process and sends the context with each repeat; ``setup_in="worker"``
runs setup inside each worker the first time it sees a config and caches it there (for
contexts that are large or not picklable; then setup can run up to ``n_workers`` times per
switch, in parallel).

Time limits: ``trial_timeout`` bounds each trial (counted from when its worker starts it,
after process start-up), ``timeout`` bounds the run (no trial starts after it, and trials
still running at it are stopped). Either one runs trials in worker processes, even with
``n_workers=1``, because only a process can be stopped safely: the stopped trial's worker
is terminated (SIGTERM, SIGKILL 2 s later) and reaped, the trial is recorded as failed with
the reason, a fresh worker takes its slot, and the loop goes on. Without either limit and
with ``n_workers=1`` the objective runs in this process and nothing can interrupt it.

Ctrl-C (``KeyboardInterrupt``): the running trials are recorded as failed
(``"interrupted (KeyboardInterrupt)"``), worker processes are stopped, and the exception
is re-raised; a ``tuner=`` passed in has no trial left pending and can continue.

Failures: an objective that raises, or returns a non-finite or non-numeric value, is
recorded as a failed trial (the error text is kept) and the loop goes on.

Time accounting (seconds): ``time_setup`` and ``time_objective`` are summed over trials
(so they can exceed wall time with several workers); ``time_optimizer`` is the time spent in
the tuner (ask/tell, GP fits) in this process; ``wall_time`` is end-to-end.

Example:
    >>> from lowswitch.space import Space, Float
    >>> from lowswitch.tune import minimize
    >>> def f(config, repeat):
    ...     return (config["x"] - 0.3) ** 2
    >>> res = minimize(f, Space({"x": Float(0.0, 1.0)}), budget=10, progress=False)
    >>> len(res.trials)
    10
"""

from __future__ import annotations

import contextlib
import math
import pickle
import statistics
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lowswitch.errors import InputError
from lowswitch.policies.config import PolicyConfig
from lowswitch.space import Space
from lowswitch.tune.tuner import Best, Trial, Tuner
from lowswitch.tune.workers import WorkerPool
from lowswitch.validation import check_measurement

# Per-worker cache of setup results, keyed by block id (setup_in="worker").
_WORKER_CONTEXT: dict[tuple[float, ...], Any] = {}


def _evaluate(
    objective: Callable[..., Any],
    config: dict[str, Any],
    repeat: int,
    context: Any,
    has_context: bool,
) -> tuple[float | None, str | None, float]:
    """Run one objective call; return ``(value, error, seconds)``; never raises."""
    t0 = time.perf_counter()
    try:
        out = objective(config, repeat, context) if has_context else objective(config, repeat)
        if hasattr(out, "item") and not isinstance(out, (int, float)):
            with contextlib.suppress(ValueError, RuntimeError):
                out = out.item()  # numpy scalars, 1-element arrays and tensors
        if isinstance(out, bool) or not isinstance(out, (int, float, np.number)):
            return None, f"objective returned {out!r} ({type(out).__name__}), not a number", \
                time.perf_counter() - t0
        try:
            value = check_measurement(out, "objective value")
        except InputError as err:
            return None, f"objective returned an unusable value: {err}", \
                time.perf_counter() - t0
        return value, None, time.perf_counter() - t0
    except Exception as exc:  # the user's objective: record, never crash the loop
        msg = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        return None, msg, time.perf_counter() - t0


def _worker_task(
    objective: Callable[..., Any],
    setup: Callable[[dict[str, Any]], Any] | None,
    config: dict[str, Any],
    repeat: int,
    key: tuple[float, ...],
    context: Any,
    setup_in_worker: bool,
) -> tuple[float | None, str | None, float, float]:
    """Worker entry point: optional per-worker setup, then the objective."""
    t_setup = 0.0
    if setup is not None and setup_in_worker:
        if key not in _WORKER_CONTEXT:
            _WORKER_CONTEXT.clear()  # keep one config's context per worker
            t0 = time.perf_counter()
            try:
                _WORKER_CONTEXT[key] = setup(config)
            except Exception as exc:
                return None, f"setup failed: {type(exc).__name__}: {exc}", 0.0, \
                    time.perf_counter() - t0
            t_setup = time.perf_counter() - t0
        context = _WORKER_CONTEXT[key]
    value, error, t_obj = _evaluate(objective, config, repeat, context, setup is not None)
    return value, error, t_obj, t_setup


@dataclass
class TuneResult:
    """What ``minimize`` returns.

    Attributes:
        best: [`Best`][lowswitch.tune.tuner.Best] (posterior-mean recommendation), or
            ``None`` when no evaluation succeeded.
        trials: one row per trial: ``trial_id, block_id, repeat, switch, status, value,
            error, <one column per parameter>, t_start, t_end, time_setup, time_objective,
            time_optimizer, best_so_far`` (times in seconds from the start of the run;
            ``best_so_far`` is the best per-config running mean among completed trials).
        n_evaluations / n_switches / n_failures: counts.
        wall_time / time_setup / time_objective / time_optimizer: seconds (see module doc).
        tuner: the [`Tuner`][lowswitch.tune.tuner.Tuner], e.g. to save its ``state_dict``.
        switch_cost: the switch cost the run ended with (the last estimate with ``"auto"``).

    Example:
        >>> from lowswitch.space import Space, Int
        >>> res = minimize(lambda c, r: float(c["k"]), Space({"k": Int(0, 3)}), budget=4,
        ...                progress=False)
        >>> res.n_evaluations
        4
    """

    best: Best | None
    trials: pd.DataFrame
    n_evaluations: int
    n_switches: int
    n_failures: int
    wall_time: float
    time_setup: float
    time_objective: float
    time_optimizer: float
    direction: str
    tuner: Tuner
    switch_cost: float = 0.0

    @property
    def best_config(self) -> dict[str, Any] | None:
        return None if self.best is None else self.best.config

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary (counts, times, best config and its posterior)."""
        best = None if self.best is None else {
            "config": self.best.config, "mean": self.best.mean, "std": self.best.std,
            "n_repeats": self.best.n_repeats, "observed_mean": self.best.observed_mean}
        return {"best": best, "n_evaluations": self.n_evaluations,
                "n_switches": self.n_switches, "n_failures": self.n_failures,
                "wall_time": self.wall_time, "time_setup": self.time_setup,
                "time_objective": self.time_objective, "time_optimizer": self.time_optimizer}

    def plot(self, path: str | None = None) -> Any:
        """Best-so-far vs evaluations and vs wall time, and switches over time (matplotlib).

        Args:
            path: optional PNG path to save the figure to.

        Returns:
            The ``matplotlib.figure.Figure``.
        """
        from lowswitch.tune.plots import plot_result

        return plot_result(self, path)


def _best_so_far(df: pd.DataFrame, direction: str) -> list[float]:
    sums: dict[int | str, tuple[float, int]] = {}
    key_of: dict[int, str] = {}
    out: list[float] = []
    best = math.nan
    order = df.sort_values("t_end", kind="stable")
    for _, row in order.iterrows():
        if row["status"] == "complete":
            k = key_of.setdefault(int(row["block_id"]), row["_key"])
            s, n = sums.get(k, (0.0, 0))
            sums[k] = (s + float(row["value"]), n + 1)
            means = [s_ / n_ for s_, n_ in sums.values()]
            best = min(means) if direction == "minimize" else max(means)
        out.append(best)
    result = pd.Series(out, index=order.index)
    return result.reindex(df.index).tolist()


def minimize(
    objective: Callable[..., Any],
    space: Space,
    budget: int,
    setup: Callable[[dict[str, Any]], Any] | None = None,
    n_workers: int = 1,
    *,
    direction: str = "minimize",
    switch_threshold: float | None = None,
    seed: int | None = None,
    policy: str | Callable[..., Any] = "ei",
    max_repeats: int | None = None,
    setup_in: str = "main",
    mp_context: str = "spawn",
    timeout: float | None = None,
    trial_timeout: float | None = None,
    progress: bool = True,
    tuner: Tuner | None = None,
    switch_cost: float | str | None = None,
    config: PolicyConfig | None = None,
) -> TuneResult:
    """Tune ``objective`` over ``space`` for ``budget`` evaluations with few switches.

    Args:
        objective: ``objective(config, repeat)`` or, with ``setup``,
            ``objective(config, repeat, context)``; returns a number (lower is better
            unless ``direction="maximize"``). ``repeat`` is the repeat index (seed / fold).
        space: the search space.
        budget: number of objective evaluations (failed ones included).
        setup: optional ``setup(config) -> context``, called once per switch.
        n_workers: parallel worker processes (1: run in this process).
        direction: ``"minimize"`` or ``"maximize"``.
        switch_threshold: ``C`` of the switch rule (1.0: no repeats by design; default
            ``PolicyConfig``'s, 2.0).
        seed: policy seed (default ``PolicyConfig``'s, 0).
        policy: a registered policy name (``"ei"``, the default, ``"ucb"``, ``"ts"`` or one
            added with [`lowswitch.policies.register`][lowswitch.policies.register]) or a policy
            class.
        max_repeats: cap on repeats per block (e.g. the number of folds).
        setup_in: ``"main"`` or ``"worker"`` (see the module docstring).
        mp_context: multiprocessing start method of the worker processes.
        timeout: optional wall-clock limit of the run in seconds: no trial starts after it,
            and trials still running at it are stopped and recorded as failed. Setting it
            runs trials in worker processes (see the module docstring).
        trial_timeout: optional limit in seconds per trial (objective plus a worker's own
            setup): a trial running longer is stopped, recorded as failed, and the loop
            goes on. Setting it runs trials in worker processes.
        progress: show a tqdm progress bar.
        tuner: continue with an existing tuner (its settings win over the ones above).
        switch_cost: what a ``setup`` (a new config) costs, in evaluations (see
            [`Tuner`][lowswitch.tune.tuner.Tuner]); ``0``: the plain switch rule;
            ``"auto"`` (with ``setup``): measured as you go, the median set-up time over
            the median objective time of the trials so far (``result.switch_cost`` and
            ``tuner.switch_cost`` hold the last estimate).
        config: every policy setting as one
            [`PolicyConfig`][lowswitch.policies.config.PolicyConfig], handed to the
            [`Tuner`][lowswitch.tune.tuner.Tuner] unchanged (``direction`` sets
            ``maximize``); then leave ``switch_threshold``, ``seed``, ``max_repeats`` and a
            numeric ``switch_cost`` out (``"auto"`` still works).

    Returns:
        A [`TuneResult`][lowswitch.tune.minimize.TuneResult].

    Raises:
        InputError: bad arguments, or an objective that cannot be sent to a worker
            process (nothing runs).
        KeyboardInterrupt: re-raised after the running trials are recorded as failed
            (``"interrupted"``) in the tuner, so none is left pending.

    Example:
        >>> from lowswitch.tune import Float, Space, minimize
        >>> space = Space({"x": Float(-2.0, 2.0)})
        >>> def noisy_square(config, repeat):
        ...     return (config["x"] - 0.5) ** 2 + 0.01 * ((repeat * 7919) % 13 - 6)
        >>> result = minimize(noisy_square, space, budget=12, progress=False)
        >>> len(result.trials)
        12
    """
    if not callable(objective):
        raise InputError(f"objective: expected a callable, got {type(objective).__name__}")
    if setup is not None and not callable(setup):
        raise InputError(f"setup: expected a callable or None, got {type(setup).__name__}")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise InputError(f"budget: expected a positive int, got {budget!r}")
    if not isinstance(n_workers, int) or n_workers < 1:
        raise InputError(f"n_workers: expected a positive int, got {n_workers!r}")
    if setup_in not in ("main", "worker"):
        raise InputError(f"setup_in: expected 'main' or 'worker', got {setup_in!r}")
    for name, limit in (("timeout", timeout), ("trial_timeout", trial_timeout)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                  or not limit > 0):
            raise InputError(f"{name}: expected a positive number of seconds or None, "
                             f"got {limit!r}")
    isolate = n_workers > 1 or timeout is not None or trial_timeout is not None
    if isolate:
        for name, fn in (("objective", objective), ("setup", setup)):
            try:
                pickle.dumps(fn)
            except Exception as exc:
                raise InputError(
                    f"{name}: expected a picklable callable (a module-level function): "
                    f"n_workers > 1, timeout and trial_timeout run trials in worker "
                    f"processes; got {fn!r} ({type(exc).__name__}: {exc})") from None
    auto_cost = isinstance(switch_cost, str)
    if auto_cost and (switch_cost != "auto" or setup is None):
        raise InputError(f"switch_cost: expected a number >= 0, or 'auto' with a setup "
                         f"function, got {switch_cost!r}"
                         + ("" if switch_cost != "auto" else " without setup"))
    if tuner is None:
        tuner = Tuner(space, direction=direction, switch_threshold=switch_threshold, seed=seed,
                      policy=policy, max_repeats=max_repeats,
                      switch_cost=None if auto_cost else switch_cost,  # type: ignore[arg-type]
                      config=config)
    elif tuner.space != space:
        raise InputError("tuner: built for a different search space")
    direction = tuner.direction

    from tqdm.auto import tqdm

    rows: list[dict[str, Any]] = []
    live: dict[str, Any] = {"key": None, "context": None}  # the one context held here
    blocks_seen: set[int] = set()
    prev_block_key: list[Any] = [None]
    t_opt = 0.0
    start = time.perf_counter()
    bar = tqdm(total=budget, disable=not progress, desc="lowswitch.tune", unit="eval")
    pool = WorkerPool(n_workers, mp_context) if isolate else None
    # trials started and not finished: worker task id (or -1 in this process) -> trial
    running: dict[int, tuple[Trial, dict[str, Any], float]] = {}
    n_started = 0

    def launch() -> bool:
        nonlocal t_opt, n_started
        if n_started >= budget or (timeout is not None
                                   and time.perf_counter() - start > timeout):
            return False
        t0 = time.perf_counter()
        trial = tuner.ask()
        dt_ask = time.perf_counter() - t0
        t_opt += dt_ask
        n_started += 1
        key = space.key(trial.config)
        new_block = trial.block_id not in blocks_seen
        blocks_seen.add(trial.block_id)
        # a switch: a new block at a config other than the previous block's
        switch = new_block and key != prev_block_key[0]
        if new_block:
            prev_block_key[0] = key
        row: dict[str, Any] = {
            "trial_id": trial.trial_id, "block_id": trial.block_id, "repeat": trial.repeat,
            "switch": switch, "config": trial.config, "t_start": time.perf_counter() - start,
            "time_setup": 0.0, "time_optimizer": dt_ask,
        }
        running[-1] = (trial, row, time.perf_counter())  # until handed to a worker
        context = None
        if setup is not None and (setup_in == "main" or pool is None):
            retry = new_block and isinstance(live["context"], _SetupFailed)
            if key != live["key"] or retry:
                live["key"], live["context"] = None, None  # one live context at a time
                t1 = time.perf_counter()
                try:
                    live["context"] = setup(dict(trial.config))
                except Exception as exc:
                    live["context"] = _SetupFailed(f"{type(exc).__name__}: {exc}")
                live["key"] = key
                row["time_setup"] = time.perf_counter() - t1
            context = live["context"]
        if isinstance(context, _SetupFailed):
            finish(-1, (None, f"setup failed: {context.message}", 0.0, 0.0))
            return True
        if pool is None:
            value, error, t_obj = _evaluate(objective, dict(trial.config), trial.repeat,
                                            context, setup is not None)
            finish(-1, (value, error, t_obj, 0.0))
        else:
            try:
                task = pool.submit(_worker_task, objective, setup, dict(trial.config),
                                   trial.repeat, key, context, setup_in == "worker")
            except Exception as exc:  # e.g. a context that does not pickle
                finish(-1, (None, f"worker error: {type(exc).__name__}: {exc}", 0.0, 0.0))
                return True
            running[task] = (*running.pop(-1)[:2], time.perf_counter())
        return True

    def finish(task: int, out: tuple[float | None, str | None, float, float]) -> None:
        nonlocal t_opt
        trial, row, _ = running.pop(task)
        value, error, t_obj, t_setup_worker = out
        t0 = time.perf_counter()
        if error is None:
            tuner.tell(trial, value)
        else:
            tuner.tell(trial, error=error)
        dt = time.perf_counter() - t0
        t_opt += dt
        row.update(status="complete" if error is None else "failed", value=value, error=error,
                   time_objective=t_obj, t_end=time.perf_counter() - start)
        row["time_setup"] += t_setup_worker
        row["time_optimizer"] += dt
        rows.append(row)
        if auto_cost:
            estimate = measured_switch_cost(rows)
            if estimate is not None:
                tuner.set_switch_cost(estimate)
        bar.update(1)
        if progress and tuner.n_evaluations:
            bar.set_postfix(switches=tuner.n_switches, failures=tuner.n_failures)

    def stop_overdue(now: float) -> float | None:
        """Stop trials past their limit; return seconds until the next limit (or None)."""
        assert pool is not None
        nxt: float | None = None
        for task, (_, _, t_sent) in list(running.items()):
            limits = []
            began = pool.started_at(task)  # None while the worker starts up / imports
            if trial_timeout is not None and began is not None:
                limits.append((began + trial_timeout,
                               f"trial_timeout: stopped after {trial_timeout:g} s"))
            if timeout is not None:
                limits.append((start + timeout, f"timeout: the run's {timeout:g} s were up"))
            for deadline, why in limits:
                if now >= deadline:
                    pool.kill(task)
                    finish(task, (None, f"{why}; its worker process was terminated",
                                  now - t_sent, 0.0))
                    break
                nxt = deadline - now if nxt is None else min(nxt, deadline - now)
        return nxt

    try:
        if pool is None:
            while launch():
                pass
        else:
            while True:
                while pool.n_idle > 0 and launch():
                    pass
                if not running:
                    break
                wait_s = stop_overdue(time.perf_counter())
                if not running:
                    continue
                for task, ok, result in pool.wait(wait_s):
                    out = result if ok else (None, f"worker error: {result}", 0.0, 0.0)
                    finish(task, out)
                stop_overdue(time.perf_counter())
    except BaseException as exc:
        # Ctrl-C (or any error here): no trial may stay pending in the tuner
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "aborted"
        for task in list(running):
            if pool is not None and task >= 0:
                pool.kill(task)
            finish(task, (None, f"{why} ({type(exc).__name__})", 0.0, 0.0))
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.close()

    df = _frame(rows, space, direction)
    best = None
    if tuner.n_evaluations:
        t0 = time.perf_counter()
        best = tuner.best()
        t_opt += time.perf_counter() - t0
    else:
        warnings.warn("minimize: no evaluation succeeded; see result.trials['error']",
                      RuntimeWarning, stacklevel=2)
    wall = time.perf_counter() - start
    return TuneResult(
        best=best, trials=df, n_evaluations=int((df["status"] == "complete").sum()),
        n_switches=int(df["switch"].sum()), n_failures=int((df["status"] == "failed").sum()),
        wall_time=wall, time_setup=float(df["time_setup"].sum()),
        time_objective=float(df["time_objective"].sum()), time_optimizer=t_opt,
        direction=direction, tuner=tuner, switch_cost=tuner.switch_cost,
    )


def measured_switch_cost(rows: list[dict[str, Any]]) -> float | None:
    """Median set-up time over median objective time, from trial rows (``None`` if unknown).

    Set-ups are the trials that ran ``setup`` (``time_setup > 0``); objective times are
    those of completed trials. Needs at least one of each and a positive objective median.

    Example:
        >>> rows = [{"time_setup": 2.0, "time_objective": 0.1, "status": "complete"},
        ...         {"time_setup": 0.0, "time_objective": 0.3, "status": "complete"}]
        >>> round(measured_switch_cost(rows), 6)
        10.0
    """
    setups = [r["time_setup"] for r in rows if r.get("time_setup", 0.0) > 0.0]
    evals = [r["time_objective"] for r in rows if r.get("status") == "complete"]
    if not setups or not evals:
        return None
    per_eval = statistics.median(evals)
    if not per_eval > 0.0:
        return None
    return float(statistics.median(setups) / per_eval)


class _SetupFailed:
    def __init__(self, message: str) -> None:
        self.message = message


def _frame(rows: list[dict[str, Any]], space: Space, direction: str) -> pd.DataFrame:
    cols = ["trial_id", "block_id", "repeat", "switch", "status", "value", "error",
            *space.names, "t_start", "t_end", "time_setup", "time_objective",
            "time_optimizer", "best_so_far"]
    if not rows:
        return pd.DataFrame(columns=cols)
    recs = []
    for r in sorted(rows, key=lambda r: r["trial_id"]):
        rec = {k: v for k, v in r.items() if k != "config"}
        rec.update(r["config"])
        rec["_key"] = repr(space.key(r["config"]))
        recs.append(rec)
    df = pd.DataFrame.from_records(recs)
    df["best_so_far"] = _best_so_far(df, direction)
    return df[cols].reset_index(drop=True)


__all__ = ["TuneResult", "measured_switch_cost", "minimize"]
