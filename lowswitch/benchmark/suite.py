"""A public suite of noisy test problems for ``python -m lowswitch.benchmark bo --suite noisy``.

Twelve ``botorch.test_functions`` problems chosen for what each one breaks in an optimiser:
wide boxes (Ackley, Griewank, Levy on ``[-10, 10]^d`` or wider), an asymmetric box (Branin)
and a far-shifted one (Hartmann-6 on ``[1000, 1001]^6``), many local optima (Styblinski-Tang,
Ackley, Griewank, Levy, Rastrigin, Michalewicz), smooth valleys and bowls (Branin,
Hartmann-3/6, Rosenbrock), dimensions 2 to 10, and noise standard deviations from 1 % to
20 % of the function's range on the box.

**Range.** ``f_range = max(f on 2**14 scrambled-Sobol points of the box, seed 0) - f*``
(``f*``: BoTorch's ``optimal_value``). The Sobol maximum slightly underestimates the true
maximum, so the stated fractions are upper bounds on ``noise_std / (true range)``. The
ranges are stored (rounded to 4 significant digits) and a test recomputes them.

Every problem is minimised by BoTorch; the harness maximises ``-f`` and reports the simple
regret ``f(x) - f*`` of each recommendation on the noise-free function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from lowswitch.benchmark.bo import Problem

_DTYPE = torch.float64


@dataclass(frozen=True)
class SuiteProblem:
    """One problem of the suite.

    Attributes:
        name: command-line name.
        make: factory of the noise-free BoTorch test function (minimised).
        noise_fraction: noise standard deviation as a fraction of ``f_range``.
        f_range: stored range of ``f`` on the box (see the module docstring).
        breaks: what the problem stresses, in a few words.
    """

    name: str
    make: Callable[[], Any]
    noise_fraction: float
    f_range: float
    breaks: str

    @property
    def noise_std(self) -> float:
        """``noise_fraction * f_range`` (4 significant digits)."""
        return float(f"{self.noise_fraction * self.f_range:.4g}")

    def problem(self) -> Problem:
        """The harness's ``Problem`` for this entry."""
        return Problem(self.name, self.noise_std, self.make)


class ShiftedFunction:
    """``f(x - shift)`` on the box ``f.bounds + shift``: same values, translated inputs.

    Exposes what the harness reads: ``bounds`` ``(2, d)``, ``optimal_value``,
    ``_optimizers`` and ``evaluate_true(X)`` for ``X`` ``(n, d)`` -> ``(n,)``.

    Example:
        >>> from botorch.test_functions import Hartmann
        >>> g = ShiftedFunction(Hartmann(dim=3), 10.0)
        >>> g.bounds[:, 0].tolist()
        [10.0, 11.0]
        >>> x = torch.tensor([[10.5, 10.5, 10.5]], dtype=torch.float64)
        >>> bool(g.evaluate_true(x) == Hartmann(dim=3).evaluate_true(x - 10.0))
        True
    """

    def __init__(self, f: Any, shift: float) -> None:
        self.f = f
        self.shift = float(shift)
        self.bounds: Tensor = f.bounds.to(_DTYPE) + self.shift
        self.optimal_value = f.optimal_value
        optimizers = f._optimizers or []
        self._optimizers = [tuple(v + self.shift for v in x) for x in optimizers] or None

    def evaluate_true(self, X: Tensor) -> Tensor:
        """Noise-free values at ``X`` ``(n, d)`` -> ``(n,)``."""
        return self.f.evaluate_true(X - self.shift)


def function_range(f: Any, n: int = 2**14, seed: int = 0) -> float:
    """``max(f on n scrambled-Sobol points of f.bounds) - f.optimal_value``.

    Example:
        >>> from botorch.test_functions import Hartmann
        >>> 3.8 < function_range(Hartmann(dim=3), n=1024) < 3.87
        True
    """
    bounds = f.bounds.to(_DTYPE)
    u = SobolEngine(bounds.shape[1], scramble=True, seed=seed).draw(n, dtype=_DTYPE)
    with torch.no_grad():
        values = f.evaluate_true(bounds[0] + (bounds[1] - bounds[0]) * u)
    return float(values.max()) - float(f.optimal_value)


def _tf(name: str, **kwargs: Any) -> Callable[[], Any]:
    """Factory of ``botorch.test_functions.<name>(**kwargs)`` (imported when called)."""

    def make() -> Any:
        import botorch.test_functions as tf

        return getattr(tf, name)(**kwargs)

    return make


def _shifted_hartmann6() -> Any:
    return ShiftedFunction(_tf("Hartmann", dim=6)(), 1000.0)


NOISY_SUITE: dict[str, SuiteProblem] = {
    p.name: p
    for p in (
        SuiteProblem("branin", _tf("Branin"), 0.02, 302.4,
                     "asymmetric box [-5,10]x[0,15], three global optima"),
        SuiteProblem("hartmann3", _tf("Hartmann", dim=3), 0.20, 3.863,
                     "smooth, heavy noise (repeats pay)"),
        SuiteProblem("hartmann6", _tf("Hartmann", dim=6), 0.10, 3.322,
                     "smooth, one narrow optimum, d=6"),
        SuiteProblem("hartmann6-shift", _shifted_hartmann6, 0.10, 3.322,
                     "Hartmann-6 on [1000,1001]^6: normalisation"),
        SuiteProblem("rosenbrock4", _tf("Rosenbrock", dim=4, bounds=[(-2.0, 3.0)] * 4),
                     0.01, 1.948e4, "curved valley, range dominated by the corners"),
        SuiteProblem("styblinskitang5", _tf("StyblinskiTang", dim=5), 0.02, 539.4,
                     "2^5 basins, second-best close to the best"),
        SuiteProblem("ackley5", _tf("Ackley", dim=5), 0.05, 22.18,
                     "wide box [-32.8,32.8]^5, flat plateau, narrow funnel"),
        SuiteProblem("griewank6", _tf("Griewank", dim=6), 0.02, 463.7,
                     "very wide box [-600,600]^6, ripples"),
        SuiteProblem("levy4", _tf("Levy", dim=4), 0.05, 201.4,
                     "wide box [-10,10]^4, many local optima"),
        SuiteProblem("rastrigin3", _tf("Rastrigin", dim=3), 0.10, 120.6,
                     "regular grid of local optima"),
        SuiteProblem("michalewicz5", _tf("Michalewicz", dim=5), 0.10, 4.688,
                     "steep narrow ridges, flat elsewhere"),
        SuiteProblem("levy10", _tf("Levy", dim=10), 0.02, 366.1,
                     "d=10 on a wide box"),
    )
}

#: problems no default was chosen on (``--suite heldout``): the check that settings picked on
#: the noisy suite (e.g. UCB's confidence width) carry over; noise 5 % of the range each
HELDOUT_SUITE: dict[str, SuiteProblem] = {
    p.name: p
    for p in (
        SuiteProblem("sixhumpcamel", _tf("SixHumpCamel"), 0.05, 158.9,
                     "two global optima, steep walls, d=2"),
        SuiteProblem("eggholder", _tf("EggHolder"), 0.05, 1964.0,
                     "very wide box [-512,512]^2, optimum in a corner, rugged"),
        SuiteProblem("dixonprice4", _tf("DixonPrice", dim=4), 0.05, 3.43e5,
                     "curved valley, range dominated by the corners"),
        SuiteProblem("powell4", _tf("Powell", dim=4), 0.05, 8.165e4,
                     "flat quartic valley on an asymmetric box"),
        SuiteProblem("shekel", _tf("Shekel"), 0.05, 10.44,
                     "ten narrow holes on a flat plain, d=4"),
    )
}

SUITES: dict[str, dict[str, SuiteProblem]] = {"noisy": NOISY_SUITE, "heldout": HELDOUT_SUITE}

#: the suite's full method grid: the policies cost-blind and at s in {1, 10, 100}, the
#: C = 1 baselines, Optuna GPSampler and TPE, random search
SUITE_METHODS = ",".join(
    [f"{k}-C2" for k in ("ucb", "ei", "ts")]
    + [f"{k}-C2-s{s}" for k in ("ucb", "ei", "ts") for s in (1, 10, 100)]
    + [f"{k}-C1" for k in ("ucb", "ei", "ts")]
    + ["optuna-gp", "optuna-tpe", "random"]
)


def suite_problems(name: str) -> dict[str, Problem]:
    """The harness problems of suite ``name`` (``"noisy"``), by command-line name.

    Example:
        >>> ps = suite_problems("noisy")
        >>> len(ps) >= 10, ps["styblinskitang5"].noise_std
        (True, 10.79)
    """
    if name not in SUITES:
        raise ValueError(f"--suite: expected one of {sorted(SUITES)}, got {name!r}")
    return {k: p.problem() for k, p in SUITES[name].items()}


def problem_table(name: str = "noisy") -> str:
    """Markdown table of suite ``name``: problem, d, box, f*, range, noise std and fraction.

    Example:
        >>> problem_table().splitlines()[0].split(" | ")[:3]
        ['| problem', 'd', 'box']
    """
    rows = [
        "| problem | d | box | f* | range of f on the box | noise std (fraction) | stresses |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in SUITES[name].values():
        f = p.make()
        lo, hi = f.bounds[0].tolist(), f.bounds[1].tolist()
        same = all(a == lo[0] for a in lo) and all(b == hi[0] for b in hi)
        box = f"[{lo[0]:g}, {hi[0]:g}]^{len(lo)}" if same else " x ".join(
            f"[{a:g}, {b:g}]" for a, b in zip(lo, hi, strict=True)
        )
        rows.append(
            f"| `{p.name}` | {len(lo)} | {box} | {float(f.optimal_value):.6g} | {p.f_range:.4g} "
            f"| {p.noise_std:.4g} ({100 * p.noise_fraction:g} %) | {p.breaks} |"
        )
    return "\n".join(rows)


def belongs_at(method: str, s: float) -> bool:
    """Whether ``method`` is compared at switch cost ``s``: cost-blind methods always, a
    method declaring ``-s<cost>`` only at its own cost (and at ``s = 0``).

    Example:
        >>> [belongs_at(m, 10.0) for m in ("ei-C2", "ei-C2-s10", "ei-C2-s100", "random")]
        [True, True, False, True]
    """
    from lowswitch.benchmark.bo import split_options

    declared = float(split_options(method)[1].get("switch_cost", 0.0))
    return s == 0 or declared in (0.0, s)


def regret_matrix(
    runs: list[Any], s: float = 0.0, cost: float | None = None
) -> tuple[list[str], list[str], list[list[float]]]:
    """Median simple regret per (problem, method) at the end, or at equal total cost.

    At ``s > 0`` a method declaring another switch cost (``ei-C2-s100`` at ``s = 10``) is
    left out (``belongs_at``): it optimises for a different cost, and its runs would set
    the comparison point of everyone else.

    Args:
        runs: ``RunResult`` list.
        s: switch cost of the total cost ``evaluations + s * switches``.
        cost: compare at this total cost; ``None``: per problem, the smallest final total
            cost any of its runs reached (every run is compared at a cost it reached).
            With ``s = 0`` and one budget this is the final regret at equal evaluations.

    Returns:
        ``(problems, methods, values)`` with ``values[i][j]`` the median over seeds.
    """
    from lowswitch.benchmark.bo import _median, regret_at_cost

    runs = [r for r in runs if belongs_at(r.method, s)]
    problems = sorted({r.problem for r in runs})
    methods = sorted({r.method for r in runs})
    values = []
    for p in problems:
        group = [r for r in runs if r.problem == p and r.trace]
        limit = cost
        if limit is None:
            limit = min(r.trace[-1][0] + s * r.trace[-1][1] for r in group) if group else 0.0
        values.append([
            _median([regret_at_cost(r, s, limit) for r in group if r.method == m])
            for m in methods
        ])
    return problems, methods, values


def matrix_markdown(problems: list[str], methods: list[str], values: list[list[float]]) -> str:
    """Markdown of ``regret_matrix``; the best value of each row in bold.

    Example:
        >>> print(matrix_markdown(["p"], ["a", "b"], [[1.0, 2.0]]).splitlines()[2])
        | `p` | **1** | 2 |
    """
    out = ["| problem | " + " | ".join(f"`{m}`" for m in methods) + " |",
           "|---|" + "---|" * len(methods)]
    for p, row in zip(problems, values, strict=True):
        finite = [v for v in row if not math.isnan(v)]
        best = min(finite) if finite else math.nan
        cells = [("**" + f"{v:.3g}" + "**") if v == best else f"{v:.3g}" for v in row]
        out.append(f"| `{p}` | " + " | ".join(cells) + " |")
    return "\n".join(out)


def suite_markdown(runs: list[Any]) -> str:
    """Suite-level tables: final regret, and regret at equal total cost for s = 1, 10, 100."""
    parts = ["## Median simple regret at the end of the budget (equal evaluations)", "",
             matrix_markdown(*regret_matrix(runs, 0.0)), ""]
    for s in (1.0, 10.0, 100.0):
        parts += [f"## Median simple regret at equal total cost, s = {s:g}", "",
                  "(per problem: at the smallest final cost `evaluations + s x switches` "
                  "any run of it reached)", "", matrix_markdown(*regret_matrix(runs, s)), ""]
    acc = suite_acceptance(runs)
    parts += ["## Acceptance figures (`suite_acceptance`)", "", acceptance_markdown(acc), ""]
    return "\n".join(parts)


def plot_suite(runs: list[Any], path: Any, s: float = 0.0, ncols: int = 4) -> None:
    """Median simple regret vs total cost ``evaluations + s x switches``, one panel per
    problem (``s = 0``: vs evaluations), ``ncols`` panels a row; at ``s > 0`` without the
    methods declaring another switch cost (``belongs_at``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lowswitch.benchmark.bo import _median_curve, line_style

    runs = [r for r in runs if belongs_at(r.method, s)]
    problems = sorted({r.problem for r in runs})
    nrows = -(-len(problems) // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=(3.2 * ncols, 2.7 * nrows))
    for k, p in enumerate(problems):
        ax = axes[k // ncols][k % ncols]
        rs = [r for r in runs if r.problem == p]
        top = max((r.trace[-1][0] + s * r.trace[-1][1] for r in rs if r.trace), default=2.0)
        grid = torch.logspace(0, math.log10(max(top, 2.0)), 120, dtype=_DTYPE)
        for m in sorted({r.method for r in rs}):
            curve = _median_curve([r for r in rs if r.method == m], 0, s, grid)
            ax.plot(grid.numpy(), curve.numpy(), label=m, **line_style(m))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(p, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("evaluations" if s == 0 else f"evaluations + {s:g} x switches", fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    for k in range(len(problems), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    for row in axes:
        row[0].set_ylabel("median simple regret", fontsize=7)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def suite_acceptance(
    runs: list[Any],
    default: str = "ei-C2",
    baselines: tuple[str, ...] = ("optuna-gp", "optuna-tpe"),
    cost_aware: dict[float, str] | None = None,
) -> list[dict[str, Any]]:
    """The issue's acceptance figures per problem, from the runs that exist.

    Per problem: ``default``'s median final regret against random's and against the better
    of ``baselines`` (ratio); for each ``s -> method`` of ``cost_aware`` (default
    ``{10: default + "-s10", 100: default + "-s100"}``), its median regret at equal total
    cost against the best of ``baselines`` and the cost-blind ``default`` (ratio, and
    whether it is strictly below all of them); and the median optimiser milliseconds per
    evaluation of ``default`` and of ``optuna-gp``. Missing methods give NaN.

    Example:
        >>> from lowswitch.benchmark.bo import RunResult
        >>> runs = [RunResult("p", m, 4, 0, evaluations=4, wall_time_s=w,
        ...                   trace=[[4, k, r, w]])
        ...         for m, k, r, w in [("ei-C2", 2, 0.5, 1.0), ("optuna-gp", 4, 1.0, 2.0),
        ...                            ("optuna-tpe", 4, 2.0, 0.1), ("random", 4, 3.0, 0.0)]]
        >>> row = suite_acceptance(runs, cost_aware={})[0]
        >>> row["vs_random"], row["vs_best_baseline"], row["ms_per_eval"]
        (0.16666666666666666, 0.5, 250.0)
    """
    from lowswitch.benchmark.bo import _median

    if cost_aware is None:
        cost_aware = {10.0: f"{default}-s10", 100.0: f"{default}-s100"}
    out = []
    for p in sorted({r.problem for r in runs}):
        rs = [r for r in runs if r.problem == p]
        _, names, values = regret_matrix(rs, 0.0)
        final = dict(zip(names, values[0], strict=True))

        def get(table: dict[str, float], m: str) -> float:
            return table.get(m, math.nan)

        best = min((get(final, m) for m in baselines), default=math.nan)
        row: dict[str, Any] = {
            "problem": p,
            "default": get(final, default),
            "random": get(final, "random"),
            "best_baseline": best,
            "vs_random": get(final, default) / get(final, "random")
            if get(final, "random") > 0 else math.nan,
            "vs_best_baseline": get(final, default) / best if best > 0 else math.nan,
        }
        for s, method in cost_aware.items():
            group = [r for r in rs if r.method in {method, default, *baselines}]
            if not any(r.method == method for r in group):
                continue
            methods, values = regret_matrix(group, s)[1:]
            at = dict(zip(methods, values[0], strict=True))
            others = [get(at, m) for m in (*baselines, default)]
            ref = min(others)
            row[f"s{s:g}_regret"] = at[method]
            row[f"s{s:g}_vs_best_other"] = at[method] / ref if ref > 0 else math.nan
            row[f"s{s:g}_below_all"] = all(at[method] < v for v in others)
        for m, key in ((default, "ms_per_eval"), ("optuna-gp", "optuna_gp_ms_per_eval")):
            times = [1e3 * r.wall_time_s / max(1, r.evaluations) for r in rs if r.method == m]
            row[key] = _median(times)
        out.append(row)
    return out


def per_seed_rows(
    runs: list[Any], costs: tuple[float, ...] = (10.0, 100.0)
) -> list[dict[str, Any]]:
    """One row per run: final figures and the regret at each problem's equal-cost point.

    ``regret_at_cost_s<s>`` is the run's regret once it had spent the problem's comparison
    cost for ``s`` (the smallest final ``evaluations + s x switches`` of the runs compared
    at ``s``, as in ``regret_matrix``; NaN for a method declaring another switch cost), so
    every median in the suite tables can be recomputed from these rows; ``cost_s<s>`` is
    that comparison cost.

    Example:
        >>> from lowswitch.benchmark.bo import RunResult
        >>> runs = [RunResult("p", m, 4, 0, evaluations=4, switches=k,
        ...                   trace=[[2, 1, 0.9, 0.0], [4, k, r, 0.0]])
        ...         for m, k, r in [("a", 1, 0.5), ("b", 4, 0.2)]]
        >>> [(r["method"], r["cost_s10"], r["regret_at_cost_s10"]) for r in per_seed_rows(runs)]
        [('a', 14.0, 0.5), ('b', 14.0, 0.9)]
    """
    from lowswitch.benchmark.bo import regret_at_cost

    limits: dict[tuple[str, float], float] = {}
    for p in {r.problem for r in runs}:
        for s in costs:
            group = [r for r in runs if r.problem == p and r.trace and belongs_at(r.method, s)]
            limits[p, s] = min((r.trace[-1][0] + s * r.trace[-1][1] for r in group), default=0.0)
    rows = []
    for r in sorted(runs, key=lambda r: (r.problem, r.method, r.seed)):
        row: dict[str, Any] = {
            "problem": r.problem, "method": r.method, "seed": r.seed, "budget": r.budget,
            "evaluations": r.evaluations, "switches": r.switches,
            "simple_regret": r.simple_regret, "wall_time_s": r.wall_time_s,
        }
        for s in costs:
            row[f"cost_s{s:g}"] = limits.get((r.problem, s), math.nan)
            row[f"regret_at_cost_s{s:g}"] = (
                regret_at_cost(r, s, row[f"cost_s{s:g}"]) if belongs_at(r.method, s) else math.nan
            )
        rows.append(row)
    return rows


def acceptance_markdown(rows: list[dict[str, Any]]) -> str:
    """Markdown of ``suite_acceptance`` (ratios to 2 digits)."""
    keys = list(dict.fromkeys(k for r in rows for k in r if k != "problem"))
    out = ["| problem | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for r in rows:
        cells = [f"{r.get(k, math.nan):.3g}" if not isinstance(r.get(k), bool) else
                 str(r[k]).lower() for k in keys]
        out.append(f"| `{r['problem']}` | " + " | ".join(cells) + " |")
    return "\n".join(out)


__all__ = [
    "HELDOUT_SUITE",
    "NOISY_SUITE",
    "SUITES",
    "SUITE_METHODS",
    "ShiftedFunction",
    "SuiteProblem",
    "acceptance_markdown",
    "function_range",
    "matrix_markdown",
    "plot_suite",
    "problem_table",
    "regret_matrix",
    "suite_acceptance",
    "suite_markdown",
    "suite_problems",
]
