"""Benchmark ``python -m lowswitch.benchmark bo``: low-switch policies vs BoTorch, Optuna, random.

Problems are ``botorch.test_functions`` with additive Gaussian noise drawn from the run's
own generator (stated below); every method *maximises* the negated function, so the
regret of a point ``x`` is ``f* - f(x)`` on the noise-free function.

Per run it records: simple regret of the method's recommendation (true function), the
cumulative regret of all evaluations, switches (evaluations at a point different from the
previous evaluation's point), unique points, wall time, and the switch-cost model
``cost = evaluations + s * switches`` for ``s`` in {0, 10, 100}. Recommendations:
low-switch policies and the BoTorch loop return the evaluated point with the best
posterior mean; Optuna and random search return their best observed (noisy) trial, as
their users would get.

Writes ``<out>/results.json`` (all runs, traces and the summary), ``<out>/results.md``
(the summary as Markdown tables), ``<out>/regret.png`` (median simple regret vs evaluations
and vs cost) and prints a summary table.

Example:
    >>> main(["--quick", "--out", "/tmp/lowswitch-bo-doctest", "--no-progress"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

_DTYPE = torch.float64
SWITCH_COSTS = (0, 10, 100)


# ------------------------------------------------------------------ problems
@dataclass(frozen=True)
class Problem:
    """A noisy maximisation problem (negated ``botorch.test_functions`` function).

    Attributes:
        name: short name used on the command line.
        noise_std: standard deviation of the additive Gaussian observation noise.
        make: factory of the noise-free BoTorch test function (a minimisation problem).
    """

    name: str
    noise_std: float
    make: Callable[[], Any]

    def function(self) -> Any:
        """The noise-free BoTorch test function (minimised; we maximise its negation)."""
        return self.make()


def _branin() -> Any:
    from botorch.test_functions import Branin

    return Branin()


def _hartmann6() -> Any:
    from botorch.test_functions import Hartmann

    return Hartmann(dim=6)


def _ackley5() -> Any:
    from botorch.test_functions import Ackley

    return Ackley(dim=5)


PROBLEMS: dict[str, Problem] = {
    # Branin ranges over ~[0.4, 308]; noise std 5 is ~1.6 % of that range.
    "branin": Problem("branin", 5.0, _branin),
    # Hartmann-6 ranges over [-3.32, 0]; noise std 0.5 (as in the acceptance).
    "hartmann6": Problem("hartmann6", 0.5, _hartmann6),
    # Ackley-5 ranges over [0, ~22]; noise std 1.
    "ackley5": Problem("ackley5", 1.0, _ackley5),
}


class NoisyObjective:
    """Evaluate a problem with noise from an explicit generator; track regrets.

    Args:
        problem: the problem.
        seed: seed of the noise generator.
    """

    def __init__(self, problem: Problem, seed: int) -> None:
        self.problem = problem
        self.f = problem.function()
        self.bounds: Tensor = self.f.bounds.to(_DTYPE)
        self.optimum = -float(self.f.optimal_value)  # maximum of -f
        self.generator = torch.Generator().manual_seed(10_000 + int(seed))
        self.n_evaluations = 0
        self.n_switches = 0
        self.cumulative_regret = 0.0
        self._last: Tensor | None = None

    def true_value(self, x: Tensor) -> float:
        """Noise-free value of ``-f`` at ``x`` ``(d,)``."""
        with torch.no_grad():
            return -float(self.f.evaluate_true(x.reshape(1, -1).to(_DTYPE)).reshape(()))

    def regret(self, x: Tensor) -> float:
        """Simple regret ``f* - f(x)`` (clipped at 0 against rounding)."""
        return max(0.0, self.optimum - self.true_value(x))

    def would_switch(self, x: Tensor) -> bool:
        """Whether evaluating ``x`` ``(d,)`` next counts as a switch (a new point)."""
        x = x.reshape(-1).to(_DTYPE)
        return self._last is None or not torch.equal(x, self._last)

    def __call__(self, x: Tensor, repeats: int = 1) -> Tensor:
        """``repeats`` noisy evaluations at ``x`` ``(d,)`` -> ``(repeats,)``."""
        x = x.reshape(-1).to(_DTYPE)
        value = self.true_value(x)
        noise = torch.randn(repeats, generator=self.generator, dtype=_DTYPE)
        if self.would_switch(x):
            self.n_switches += 1
        self._last = x.clone()
        self.n_evaluations += repeats
        self.cumulative_regret += repeats * max(0.0, self.optimum - value)
        return value + self.problem.noise_std * noise


# -------------------------------------------------------------------- runs
@dataclass
class RunResult:
    """One run of one method on one problem with one seed."""

    problem: str
    method: str
    budget: int
    seed: int
    evaluations: int = 0
    simple_regret: float = math.nan
    cumulative_regret: float = 0.0
    switches: int = 0
    unique_points: int = 0
    wall_time_s: float = 0.0
    completed: bool = True
    trace: list[list[float]] = field(default_factory=list)  # [evals, switches, regret, time]
    #: seconds spent by the benchmark's own per-step bookkeeping (recommendation and its
    #: true regret for the trace), excluded from ``wall_time_s`` and the trace times:
    #: users ask for a recommendation once, not after every evaluation
    record_s: float = 0.0

    def cost(self, s: float) -> float:
        """Switch-cost model ``evaluations + s * switches``."""
        return self.evaluations + s * self.switches


def _elapsed(res: RunResult, t0: float) -> float:
    """Seconds since ``t0`` minus the bookkeeping time already recorded."""
    return time.perf_counter() - t0 - res.record_s


def _record(
    res: RunResult, obj: NoisyObjective, recommend: Callable[[], Tensor], t0: float
) -> None:
    """Append ``[evaluations, switches, regret of recommend(), elapsed s]`` to the trace."""
    start = time.perf_counter()
    regret = obj.regret(recommend())
    res.record_s += time.perf_counter() - start
    res.trace.append([obj.n_evaluations, obj.n_switches, regret, _elapsed(res, t0)])


def _finish(res: RunResult, obj: NoisyObjective, rec: Tensor, t0: float, unique: int) -> None:
    res.wall_time_s = _elapsed(res, t0)
    res.evaluations = obj.n_evaluations
    res.switches = obj.n_switches
    res.cumulative_regret = obj.cumulative_regret
    res.simple_regret = obj.regret(rec)
    res.unique_points = unique


def _policy_names() -> set[str]:
    """Registered acquisition names (``lowswitch.policies.policy_names``)."""
    from lowswitch.policies import policy_names

    return set(policy_names())


def build_lowswitch(kind: str, threshold: float, obj: NoisyObjective, budget: int, seed: int,
                    options: dict[str, Any] | None = None) -> Any:
    """The registered policy ``kind`` on ``obj``'s box, as every benchmark run builds it."""
    from lowswitch.policies import get_policy

    return get_policy(kind)(
        obj.bounds, switch_threshold=threshold, seed=seed, budget=budget, **(options or {})
    )


def run_lowswitch(
    kind: str,
    threshold: float,
    obj: NoisyObjective,
    budget: int,
    seed: int,
    res: RunResult,
    time_limit: float | None = None,
    options: dict[str, Any] | None = None,
) -> None:
    """Run a low-switch policy (``kind``: a registered name, e.g. ucb/ei/ts) at switch
    threshold ``threshold``; with option ``rebuild``, a fresh policy is built from the
    history for every block (a stateless loop)."""
    options = dict(options or {})
    rebuild = options.pop("rebuild", False)
    opt = build_lowswitch(kind, threshold, obj, budget, seed, options)
    history: list[tuple[Tensor, Tensor]] = []
    t0 = time.perf_counter()
    while opt.n_evaluations < budget:
        if rebuild:
            opt = build_lowswitch(kind, threshold, obj, budget, seed, options)
            for x, ys in history:
                opt.tell(x, ys)
        block = opt.ask()
        ys = obj(block.x, block.repeats)
        history.append((block.x, ys))
        opt.tell(block.x, ys)
        _record(res, obj, opt.recommend, t0)
        if time_limit is not None and _elapsed(res, t0) > time_limit:
            res.completed = False
            break
    _finish(res, obj, opt.recommend(), t0, opt.n_unique)


def _constant(x: Tensor) -> Callable[[], Tensor]:
    """A recommendation that is already known (``x``)."""
    return lambda: x


def run_random(obj: NoisyObjective, budget: int, seed: int, res: RunResult) -> None:
    """Uniform random search; recommends the best noisy observation."""
    gen = torch.Generator().manual_seed(seed)
    lo, hi = obj.bounds[0], obj.bounds[1]
    best_y, best_x = -math.inf, lo.clone()
    t0 = time.perf_counter()
    every = max(1, budget // 200)
    for i in range(budget):
        x = lo + (hi - lo) * torch.rand(lo.shape[0], generator=gen, dtype=_DTYPE)
        y = float(obj(x)[0])
        if y > best_y:
            best_y, best_x = y, x
        if (i + 1) % every == 0 or i + 1 == budget:
            _record(res, obj, _constant(best_x), t0)
    _finish(res, obj, best_x, t0, obj.n_evaluations)


def run_optuna(
    obj: NoisyObjective,
    budget: int,
    seed: int,
    res: RunResult,
    time_limit: float | None = None,
    sampler: str = "gp",
) -> None:
    """Optuna ``GPSampler`` (``sampler="gp"``) or ``TPESampler`` (``"tpe"``), default
    settings, seeded; recommends ``study.best_params``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lo, hi = obj.bounds[0].tolist(), obj.bounds[1].tolist()
    d = len(lo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.GPSampler(seed=seed)
            if sampler == "gp"
            else optuna.samplers.TPESampler(seed=seed),
        )
    t0 = time.perf_counter()

    def best_x() -> Tensor:
        p = study.best_params
        return torch.tensor([p[f"x{i}"] for i in range(d)], dtype=_DTYPE)

    for _ in range(budget):
        trial = study.ask()
        x = torch.tensor(
            [trial.suggest_float(f"x{i}", lo[i], hi[i]) for i in range(d)], dtype=_DTYPE
        )
        study.tell(trial, float(obj(x)[0]))
        _record(res, obj, best_x, t0)
        if time_limit is not None and _elapsed(res, t0) > time_limit:
            res.completed = False
            break
    _finish(res, obj, best_x(), t0, obj.n_evaluations)


def run_botorch(
    obj: NoisyObjective, budget: int, seed: int, res: RunResult, time_limit: float | None = None
) -> None:
    """BoTorch's standard loop: ``SingleTaskGP`` on all rows + qLogNEI, refit every step.

    Sobol initial design of ``2 d`` points; recommends the evaluated point with the best
    posterior mean. Stops early (``completed = False``) past ``time_limit`` seconds.
    """
    from botorch.acquisition import qLogNoisyExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    lo, hi = obj.bounds[0], obj.bounds[1]
    d = lo.shape[0]
    n_init = min(budget, max(2, 2 * d))
    sobol = torch.quasirandom.SobolEngine(d, scramble=True, seed=seed)
    X = lo + (hi - lo) * sobol.draw(n_init, dtype=_DTYPE)
    t0 = time.perf_counter()
    Y = torch.cat([obj(x) for x in X]).unsqueeze(-1)
    recommend = _constant(X[int(torch.argmax(Y))])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        while X.shape[0] < budget:
            model = SingleTaskGP(X, Y, input_transform=Normalize(d, bounds=obj.bounds))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
                acq = qLogNoisyExpectedImprovement(model, X_baseline=X, prune_baseline=True)
                x, _ = optimize_acqf(acq, obj.bounds, q=1, num_restarts=4, raw_samples=256)
            x = x.reshape(-1).detach()
            X = torch.cat([X, x.unsqueeze(0)])
            Y = torch.cat([Y, obj(x).unsqueeze(-1)])
            recommend = functools.partial(_best_posterior_mean, model, X)
            _record(res, obj, recommend, t0)
            if time_limit is not None and _elapsed(res, t0) > time_limit:
                res.completed = False
                break
    _finish(res, obj, recommend(), t0, obj.n_evaluations)


def _best_posterior_mean(model: Any, X: Tensor) -> Tensor:
    """The row of ``X`` ``(n, d)`` with the highest posterior mean under ``model``."""
    with torch.no_grad():
        return X[int(torch.argmax(model.posterior(X).mean.reshape(-1)))]


_OPTION_KEYS = {
    "g": "refit_growth", "r": "initial_repeats", "s": "switch_cost", "v": "ei_variant",
    "p": "n_discrete", "f": "fit_tolerance",
}
# -v<variant>: EI's rule, or TS's sampler
_VARIANTS = {
    "ei": ("ei_variant", ("augmented", "plain", "noisy")),
    "ts": ("sampler", ("exact", "pathwise")),
}


def split_options(name: str) -> tuple[str, dict[str, Any]]:
    """Split policy options off a low-switch method name.

    Suffixes (any order, each at most once): ``-g<growth>`` sets ``refit_growth``
    (hyperparameter refits only once the evaluations grew by that factor; default: at
    every switch boundary), ``-r<n>`` sets ``initial_repeats`` (evaluations per
    initial-design point; default 2 when ``C > 1``, 1 when ``C = 1``) and ``-s<cost>``
    sets ``switch_cost`` (what a switch costs in evaluations; default 0); for EI only,
    ``-v<rule>`` sets ``ei_variant`` (``augmented``, ``plain`` or ``noisy``); for TS,
    ``-v<sampler>`` sets ``sampler`` (``exact`` or ``pathwise``) and ``-p<n>`` its pool on a
    box (``n_discrete = n`` Sobol points, ``n_local = n // 2`` local perturbations);
    ``-f<tol>`` sets ``fit_tolerance`` (decimal notation, in ``(0, 1)``); ``-u`` sets
    ``cost_up_front`` (the switch cost's extra repeats committed when a block is chosen);
    ``-b`` is the harness's, not the policy's: the policy is rebuilt from the history for
    every block, as the Optuna sampler and a stateless user loop do (``rebuild``).

    Example:
        >>> split_options("ucb-C1-r2-g1.05")
        ('ucb-C1', {'initial_repeats': 2, 'refit_growth': 1.05})
        >>> split_options("ei-C2")
        ('ei-C2', {})
        >>> split_options("ei-C2-s10")
        ('ei-C2', {'switch_cost': 10.0})
        >>> split_options("ei-C2-vplain")
        ('ei-C2', {'ei_variant': 'plain'})
        >>> split_options("ts-C2-vpathwise")
        ('ts-C2', {'sampler': 'pathwise'})
        >>> split_options("ts-C2-p512")
        ('ts-C2', {'n_discrete': 512, 'n_local': 256})
        >>> split_options("ucb-C2-f0.0001")
        ('ucb-C2', {'fit_tolerance': 0.0001})
        >>> split_options("ei-C2-s10-u")
        ('ei-C2', {'cost_up_front': True, 'switch_cost': 10.0})
        >>> split_options("ei-C2-s10-b")
        ('ei-C2', {'rebuild': True, 'switch_cost': 10.0})
    """
    parts = name.split("-")
    if parts[0] not in _policy_names() or len(parts) < 3:
        return name, {}
    opts: dict[str, Any] = {}
    for part in parts[2:]:
        flag = {"u": "cost_up_front", "b": "rebuild"}.get(part)
        if flag is not None and flag not in opts:
            opts[flag] = True
            continue
        key = _OPTION_KEYS.get(part[:1])
        if key == "ei_variant" and parts[0] in _VARIANTS:
            key, allowed = _VARIANTS[parts[0]]
            if key in opts or part[1:] not in allowed:
                raise ValueError(f"method: option {part!r} in {name!r}: expected one -v of "
                                 + ", ".join(f"-v{a}" for a in allowed))
            opts[key] = part[1:]
            continue
        if key == "n_discrete" and parts[0] != "ts":
            key = None
        if key is None or key == "ei_variant" or key in opts:
            raise ValueError(
                f"method: unknown or repeated option {part!r} in {name!r} "
                "(expected at most one each of -r<n>, -g<growth>, -s<switch cost>, "
                "-f<fit tolerance>, -u, -b and, for ts, -p<pool>)"
            )
        try:
            integral = key in {"initial_repeats", "n_discrete"}
            value: float = int(part[1:]) if integral else float(part[1:])
        except ValueError:
            value = math.nan
        if key == "fit_tolerance":
            if not 0.0 < value < 1.0:
                raise ValueError(f"method: option {part!r} in {name!r} must be a decimal "
                                 "number in (0, 1), e.g. -f0.0001")
        else:
            least = 0 if key == "switch_cost" else 1
            if not (math.isfinite(value) and value >= least):
                raise ValueError(
                    f"method: option {part!r} in {name!r} must be a number >= {least}")
        opts[key] = value
        if key == "n_discrete":
            opts["n_local"] = int(value) // 2
    return "-".join(parts[:2]), dict(sorted(opts.items()))


def parse_method(name: str) -> tuple[str, float | None]:
    """``"ucb-C2"`` -> ``("ucb", 2.0)``; ``"random"`` -> ``("random", None)``.

    Option suffixes (``split_options``) are ignored here.

    Example:
        >>> parse_method("ts-C1.5")
        ('ts', 1.5)
    """
    name = split_options(name)[0]
    if "-C" in name:
        kind, c = name.split("-C", 1)
        if kind in _policy_names():
            return kind, float(c)
    if name in {"random", "optuna-gp", "optuna-tpe", "botorch-qlognei"}:
        return name, None
    raise ValueError(
        "method: expected ucb|ei|ts-C<threshold>[-r<n>][-g<growth>][-s<cost>][-f<tol>][-u][-b]"
        "[-v<EI rule>], "
        "random, "
        "optuna-gp, optuna-tpe or "
        "botorch-qlognei, "
        f"got {name!r}"
    )


def run_one(
    problem: Problem, method: str, budget: int, seed: int, time_limit: float | None = None
) -> RunResult:
    """Run ``method`` on ``problem`` for ``budget`` evaluations with ``seed``."""
    kind, threshold = parse_method(method)
    obj = NoisyObjective(problem, seed)
    res = RunResult(problem.name, method, budget, seed)
    if threshold is not None:
        run_lowswitch(kind, threshold, obj, budget, seed, res, time_limit, split_options(method)[1])
    elif kind == "random":
        run_random(obj, budget, seed, res)
    elif kind in {"optuna-gp", "optuna-tpe"}:
        run_optuna(obj, budget, seed, res, time_limit, kind.removeprefix("optuna-"))
    else:
        run_botorch(obj, budget, seed, res, time_limit)
    return res


# ----------------------------------------------------------------- summary
def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def summarise(runs: list[RunResult]) -> list[dict[str, Any]]:
    """Medians over seeds per (problem, budget, method)."""
    groups: dict[tuple[str, int, str], list[RunResult]] = {}
    for r in runs:
        groups.setdefault((r.problem, r.budget, r.method), []).append(r)
    rows = []
    for (problem, budget, method), rs in groups.items():
        row: dict[str, Any] = {
            "problem": problem,
            "budget": budget,
            "method": method,
            "seeds": len(rs),
            "completed": sum(r.completed for r in rs),
            "evaluations": _median([r.evaluations for r in rs]),
            "simple_regret": _median([r.simple_regret for r in rs]),
            "cumulative_regret": _median([r.cumulative_regret for r in rs]),
            "switches": _median([r.switches for r in rs]),
            "unique_points": _median([r.unique_points for r in rs]),
            "wall_time_s": _median([r.wall_time_s for r in rs]),
            "ms_per_evaluation": _median([1e3 * r.wall_time_s / max(1, r.evaluations) for r in rs]),
        }
        for s in SWITCH_COSTS:
            row[f"cost_s{s}"] = _median([r.cost(s) for r in rs])
        rows.append(row)
    return rows


def acceptance(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's acceptance figures, where the runs needed for them exist."""
    by = {(r["problem"], r["budget"], r["method"]): r for r in rows}
    out: dict[str, Any] = {}
    for budget in sorted({r["budget"] for r in rows}):
        c1, c2 = by.get(("hartmann6", budget, "ucb-C1")), by.get(("hartmann6", budget, "ucb-C2"))
        if c1 and c2:
            out[f"hartmann6_{budget}_ucb_C2_vs_C1"] = {
                "switch_ratio": c2["switches"] / max(1.0, c1["switches"]),
                "regret_ratio": c2["simple_regret"] / c1["simple_regret"]
                if c1["simple_regret"] > 0
                else math.inf,
                "wall_time_speedup": c1["wall_time_s"] / max(1e-9, c2["wall_time_s"]),
                "seeds": min(c1["seeds"], c2["seeds"]),
            }
        opt = by.get(("hartmann6", budget, "optuna-gp"))
        for method in ("ucb-C2", "ei-C2", "ts-C2"):
            low = by.get(("hartmann6", budget, method))
            if opt and low:
                out[f"hartmann6_{budget}_{method}_vs_optuna"] = {
                    "regret": low["simple_regret"],
                    "optuna_regret": opt["simple_regret"],
                    "time_per_eval_speedup": opt["ms_per_evaluation"]
                    / max(1e-9, low["ms_per_evaluation"]),
                    "seeds": min(opt["seeds"], low["seeds"]),
                }
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    """Plain-text summary table."""
    head = (
        f"{'problem':<10} {'budget':>6} {'method':<16} {'seeds':>5} {'simple':>9} "
        f"{'cumul':>10} {'switch':>7} {'unique':>7} {'wall s':>8} {'ms/eval':>8} "
        f"{'cost10':>8} {'cost100':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in sorted(rows, key=lambda r: (r["problem"], r["budget"], r["method"])):
        done = "" if r["completed"] == r["seeds"] else "*"
        print(
            f"{r['problem']:<10} {r['budget']:>6} {r['method'] + done:<16} {r['seeds']:>5} "
            f"{r['simple_regret']:>9.4f} {r['cumulative_regret']:>10.1f} {r['switches']:>7.0f} "
            f"{r['unique_points']:>7.0f} {r['wall_time_s']:>8.2f} {r['ms_per_evaluation']:>8.2f} "
            f"{r['cost_s10']:>8.0f} {r['cost_s100']:>9.0f}"
        )
    print("(* = some runs stopped at the time limit; medians over seeds)")


_FAMILY_COLOURS = {"ucb": "tab:blue", "ei": "tab:orange", "ts": "tab:green",
                   "optuna-gp": "tab:red", "optuna-tpe": "tab:brown",
                   "botorch-qlognei": "tab:purple", "random": "tab:gray"}


def markdown_table(runs: list[RunResult], rows: list[dict[str, Any]] | None = None) -> str:
    """The summary as Markdown: one table per (problem, budget), per-seed regrets in brackets.

    Methods are ordered by acquisition, then ``C``; ``*`` marks a method with runs stopped
    at the time limit. ``rows``: ``summarise`` of ``runs`` when already computed.

    Example:
        >>> r = RunResult("branin", "ucb-C2", 10, 0, evaluations=10, simple_regret=0.5,
        ...               switches=4, unique_points=4, wall_time_s=1.0)
        >>> print(markdown_table([r]).splitlines()[0])
        ### branin, 10 evaluations
    """
    by_key = {(r["problem"], r["budget"], r["method"]): r for r in rows or summarise(runs)}
    seeds: dict[tuple[str, int, str], list[RunResult]] = {}
    for r in sorted(runs, key=lambda r: r.seed):
        seeds.setdefault((r.problem, r.budget, r.method), []).append(r)
    order = list(_FAMILY_COLOURS)
    out: list[str] = []
    for problem, budget in sorted({(r.problem, r.budget) for r in runs}):
        out += [
            f"### {problem}, {budget} evaluations",
            "",
            "| method | seeds | simple regret, median (per seed) | switches | unique | wall s "
            "| ms / eval | cost s=10 | cost s=100 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        methods = sorted(
            {m for (p, b, m) in seeds if (p, b) == (problem, budget)},
            key=lambda m: (order.index(parse_method(m)[0]), parse_method(m)[1] or 0.0, m),
        )
        for method in methods:
            row = by_key[(problem, budget, method)]
            per_seed = ", ".join(f"{r.simple_regret:.3g}" for r in seeds[(problem, budget, method)])
            done = "" if row["completed"] == row["seeds"] else "\\*"
            out.append(
                f"| `{method}`{done} | {row['seeds']} | {row['simple_regret']:.3g} ({per_seed}) "
                f"| {row['switches']:.0f} | {row['unique_points']:.0f} "
                f"| {row['wall_time_s']:.1f} | {row['ms_per_evaluation']:.1f} "
                f"| {row['cost_s10']:,.0f} | {row['cost_s100']:,.0f} |"
            )
        out.append("")
    return "\n".join(out)


def regret_at_cost(run: RunResult, s: float, cost: float) -> float:
    """Simple regret of ``run``'s recommendation once it had spent ``cost``.

    Total cost is ``evaluations + s * switches`` (the trace's rows); the regret is that of
    the last trace row within ``cost`` (NaN if the run's first block already cost more).

    Example:
        >>> r = RunResult("branin", "ei-C2", 4, 0,
        ...               trace=[[2, 1, 0.9, 0.0], [4, 2, 0.5, 0.0], [6, 2, 0.1, 0.0]])
        >>> regret_at_cost(r, 10.0, 25.0), regret_at_cost(r, 10.0, 26.0)
        (0.5, 0.1)
    """
    value = math.nan
    for evals, switches, regret, _ in run.trace:
        if evals + s * switches > cost:
            break
        value = regret
    return value


def equal_cost_table(runs: list[RunResult], costs: tuple[float, ...] = (10.0, 100.0)) -> str:
    """Median simple regret at equal total cost, one Markdown table per (problem, budget).

    For each switch cost ``s`` the comparison point is the smallest final total cost
    ``evaluations + s * switches`` over all runs of that problem and budget, so every run
    is compared at a cost it actually reached.

    Example:
        >>> a = RunResult("branin", "ei-C2", 4, 0, trace=[[2, 1, 0.9, 0.0], [4, 1, 0.5, 0.0]])
        >>> b = RunResult("branin", "random", 4, 0, trace=[[1, 1, 2.0, 0.0], [4, 4, 1.0, 0.0]])
        >>> print(equal_cost_table([a, b], (10.0,)).splitlines()[4])
        | `ei-C2` | 0.5 |
    """
    order = list(_FAMILY_COLOURS)
    out: list[str] = []
    for problem, budget in sorted({(r.problem, r.budget) for r in runs}):
        group = [r for r in runs if (r.problem, r.budget) == (problem, budget) and r.trace]
        if not group:
            continue
        limits = {s: min(r.trace[-1][0] + s * r.trace[-1][1] for r in group) for s in costs}
        head = " | ".join(f"regret at cost {limits[s]:,.0f} (s={s:g})" for s in costs)
        out += [
            f"### {problem}, {budget} evaluations: at equal total cost",
            "",
            f"| method | {head} |",
            "|---|" + "---|" * len(costs),
        ]
        methods = sorted(
            {r.method for r in group},
            key=lambda m: (order.index(parse_method(m)[0]), parse_method(m)[1] or 0.0, m),
        )
        for method in methods:
            rs = [r for r in group if r.method == method]
            cells = [
                f"{_median([regret_at_cost(r, s, limits[s]) for r in rs]):.3g}" for s in costs
            ]
            out.append(f"| `{method}` | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _median_curve(runs: list[RunResult], xcol: int, s: float, grid: Tensor) -> Tensor:
    """Median over runs of the step function 'simple regret at x' on ``grid``.

    A run that has ended (budget spent) keeps its final regret, so the median is always
    over the same runs and does not jump when the runs end at different costs; the curve
    stops where the last run ends.
    """
    curves, ends = [], []
    for r in runs:
        if not r.trace:
            continue
        tr = torch.tensor(r.trace, dtype=_DTYPE)
        x = tr[:, 0] + s * tr[:, 1] if xcol == 0 else tr[:, xcol]
        idx = torch.searchsorted(x.contiguous(), grid, right=True) - 1
        curves.append(torch.where(idx >= 0, tr[idx.clamp_min(0), 2], math.nan))
        ends.append(float(x[-1]))
    if not curves:
        return torch.full_like(grid, math.nan)
    median = torch.nanquantile(torch.stack(curves), 0.5, dim=0)  # even count: mean of the two
    return torch.where(grid <= max(ends), median, math.nan)


def line_style(method: str) -> dict[str, Any]:
    """Matplotlib style of a method's curve: colour by acquisition, dashes by ``C``.

    ``C = 1`` (the classical baselines) is dotted, ``C < 2`` dash-dotted, ``C = 2``
    solid, larger ``C`` dashed; option suffixes (``-r``, ``-g``) draw thinner, and the
    up-front cost rule (``-u``) dashed.

    Example:
        >>> line_style("ei-C1")["linestyle"], line_style("ei-C2")["color"]
        (':', 'tab:orange')
        >>> line_style("ei-C2-s10-u")["linestyle"]
        '--'
    """
    kind, c = parse_method(method)
    style: dict[str, Any] = {"color": _FAMILY_COLOURS[kind], "linestyle": "-", "linewidth": 1.6}
    if c is not None:
        style["linestyle"] = ":" if c == 1 else "-." if c < 2 else "-" if c == 2 else "--"
        opts = split_options(method)[1]
        if opts:
            style["linewidth"] = 0.9
        if opts.get("cost_up_front"):
            style["linestyle"] = "--"
    return style


def plot(runs: list[RunResult], path: Path) -> None:
    """Median simple regret vs evaluations and vs cost (s = 10, 100), one row per problem/budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r.problem, r.budget) for r in runs})
    fig, axes = plt.subplots(len(keys), 3, figsize=(15, 3.8 * len(keys)), squeeze=False)
    for row, (problem, budget) in enumerate(keys):
        rs = [r for r in runs if r.problem == problem and r.budget == budget]
        methods = sorted({r.method for r in rs})
        for col, s in enumerate((0.0, 10.0, 100.0)):
            ax = axes[row][col]
            top = max(r.cost(s) for r in rs)
            grid = torch.logspace(0, math.log10(max(top, 2)), 200, dtype=_DTYPE)
            for method in methods:
                curve = _median_curve([r for r in rs if r.method == method], 0, s, grid)
                ax.plot(grid.numpy(), curve.numpy(), label=method, **line_style(method))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("evaluations" if s == 0 else f"cost = evaluations + {s:g} x switches")
            ax.set_ylabel("simple regret (median)")
            ax.set_title(f"{problem}, budget {budget}")
            ax.grid(True, which="both", alpha=0.3)
        axes[row][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------- CLI
DEFAULT_METHODS = (
    "ucb-C1,ucb-C1.5,ucb-C2,ucb-C4,ei-C1,ei-C2,ts-C1,ts-C2,optuna-gp,botorch-qlognei,random"
)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m lowswitch.benchmark bo",
        description="Low-switch GP-UCB/EI/TS vs BoTorch, Optuna GPSampler and random search "
        "on noisy botorch.test_functions.",
    )
    p.add_argument(
        "--problems", default="branin,hartmann6,ackley5", help=f"comma list of {sorted(PROBLEMS)}"
    )
    p.add_argument("--budgets", default="500", help="comma list of evaluation budgets")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (0..n-1)")
    p.add_argument("--seed-offset", type=int, default=0, help="first seed")
    p.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help="comma list: ucb|ei|ts-C<C>[-r<initial repeats>][-g<refit growth>]"
        "[-s<switch cost>][-f<fit tolerance>][-p<TS pool>][-u][-b], optuna-gp, "
        "botorch-qlognei, random",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop any single run after this many seconds (marked incomplete)",
    )
    p.add_argument(
        "--baseline-time-limit",
        type=float,
        default=600.0,
        help="time limit for botorch-qlognei and optuna-gp runs (s)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny smoke run: branin, budget 30, 1 seed, a few methods",
    )
    p.add_argument(
        "--suite",
        default=None,
        help="run a problem suite (noisy: 12 public noisy problems; heldout: 5 more that no "
        "default was chosen on; lowswitch.benchmark.suite); "
        "--problems then selects among its problems, and --methods defaults to its grid",
    )
    p.add_argument("--out", default="results/bo", help="output directory")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 is fastest for these small matrices on a busy machine)",
    )
    p.add_argument(
        "--from-json",
        default=None,
        help="comma list of results.json files: merge their runs into one table, "
        "JSON and plot instead of running anything (only --methods' runs when it is given)",
    )
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lowswitch.benchmark bo``."""
    args = build_parser().parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    if args.quick:
        args.problems, args.seeds = "branin", 1
        args.budgets = args.budgets if args.budgets != "500" else "30"
        args.methods = "ucb-C1,ucb-C2,ei-C2,ts-C2,random"
    known = dict(PROBLEMS)
    chosen = args.methods != DEFAULT_METHODS  # --methods given: it also filters --from-json
    if args.suite:
        from lowswitch.benchmark.suite import SUITE_METHODS, suite_problems

        known = suite_problems(args.suite)
        if args.problems == build_parser().get_default("problems"):
            args.problems = ",".join(known)
        if args.methods == DEFAULT_METHODS:
            args.methods = SUITE_METHODS
    problems = [known[p.strip()] for p in args.problems.split(",") if p.strip()]
    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        parse_method(m)
    seeds = list(range(args.seed_offset, args.seed_offset + args.seeds))
    jobs = [(p, b, m, s) for p in problems for b in budgets for m in methods for s in seeds]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from tqdm import tqdm

    runs: list[RunResult] = []
    if args.from_json:
        for path in args.from_json.split(","):
            for r in json.loads(Path(path.strip()).read_text())["runs"]:
                if not chosen or r["method"] in methods:
                    runs.append(RunResult(**r))
        jobs = []
    bar = tqdm(jobs, disable=args.no_progress, desc="bo runs")
    for problem, budget, method, seed in bar:
        bar.set_postfix_str(f"{problem.name} {budget} {method} seed {seed}")
        limit = args.time_limit
        if method in {"botorch-qlognei", "optuna-gp", "optuna-tpe"}:
            limit = (
                args.baseline_time_limit if limit is None else min(limit, args.baseline_time_limit)
            )
        runs.append(run_one(problem, method, budget, seed, limit))
        _write(out, args, runs)
    rows = summarise(runs)
    print_table(rows)
    acc = acceptance(rows)
    for key, value in acc.items():
        print(
            key,
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in value.items()}),
        )
    _write(out, args, runs)
    if not args.no_plot and runs:
        plot(runs, out / "regret.png")
        print(f"wrote {out / 'results.json'}, {out / 'results.md'} and {out / 'regret.png'}")
    else:
        print(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    return 0


def _write(out: Path, args: argparse.Namespace, runs: list[RunResult]) -> None:
    rows = summarise(runs)
    payload = {
        "args": vars(args),
        "noise_std": {r.problem: _noise_std(r.problem, args) for r in runs},
        "summary": rows,
        "acceptance": acceptance(rows),
        "runs": [asdict(r) for r in runs],
    }
    (out / "results.json").write_text(json.dumps(payload, indent=1, default=float))
    (out / "results.md").write_text(markdown_table(runs, rows) + "\n" + equal_cost_table(runs))
    if getattr(args, "suite", None):
        from lowswitch.benchmark.suite import per_seed_rows, suite_acceptance, suite_markdown

        (out / "suite.md").write_text(suite_markdown(runs))
        compact = {"acceptance": suite_acceptance(runs), "per_seed": per_seed_rows(runs)}
        (out / "suite.json").write_text(json.dumps(compact, indent=0, default=float))


def _noise_std(problem: str, args: argparse.Namespace) -> float:
    """Noise standard deviation of ``problem`` (from the suite when ``--suite`` is set)."""
    if getattr(args, "suite", None):
        from lowswitch.benchmark.suite import SUITES

        return SUITES[args.suite][problem].noise_std
    return PROBLEMS[problem].noise_std


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
