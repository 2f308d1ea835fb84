"""RL-finetuning simulator: uniform vs DAPO dynamic sampling vs MoPPS, and a speed benchmark.

Run ``python -m mopps.simulate`` (full: 5 seeds), ``--quick`` (seconds, for CI) or
``--speed`` (selection / update timings against the dict-based reference approach).
Writes a table to stdout and JSON + PNG to ``results/mopps/``.

The RL dynamics model (stated once here and in ``docs/benchmarks/mopps.md``)
-------------------------------------------------------------------------------
* A pool of ``N`` prompts with latent difficulty ``d_i ~ Normal(mu_d, sd_d)``.
* One scalar policy skill ``theta`` (starts at ``theta_0``). Prompt ``i`` is solved by one
  rollout with probability ``p_i = sigmoid(theta - d_i)``; rollouts are independent, so a
  group of ``k`` rollouts has ``s_i ~ Binomial(k, p_i)`` successes (binary rewards).
* Each training step takes a batch of ``B`` prompts, rolls each out ``k`` times and makes
  one policy update. A group is *informative* when its rewards are not all equal
  (``0 < s_i < k``); GRPO advantages are zero otherwise, so only informative groups move
  the policy. With ``n_inf`` informative groups in the update batch, the skill grows by

  - ``gain="linear"`` (default): ``Delta theta = eta * n_inf / B``. Plain SGD on the
    batch-mean GRPO loss: zero-advantage groups dilute the gradient.
  - ``gain="normalized"``: ``Delta theta = eta * sqrt((1 + rho/B) / (1 + rho/n_inf))``.
    An Adam-like step of fixed length whose direction gets more accurate with more
    informative groups (per-group gradient noise-to-signal ratio ``rho``); equals
    ``eta`` for a fully informative batch, like the linear model.

  Success rates of *all* prompts drift as ``theta`` grows (non-stationary bandit).
* Progress is the mean success rate over the whole pool,
  ``mean_i sigmoid(theta - d_i)``; the headline figure is the number of rollouts consumed
  until it first reaches ``target``.

Methods: ``uniform`` (shuffled epochs, B per step), ``dapo`` (dynamic sampling: draw B,
roll out, drop all-equal groups, draw again until B informative groups are collected or
``dapo_max_rounds`` is hit; every rollout counts), and ``mopps-{topk,threshold}`` with
forgetting ``lambda = 1`` and ``0.5`` (whole pool as candidates).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mopps.selector import PromptSelector

__all__ = ["METHODS", "Dynamics", "RunResult", "SimConfig", "main", "run_method"]

METHODS: dict[str, dict[str, Any]] = {
    "uniform": {},
    "dapo": {},
    "mopps-topk": {"strategy": "topk", "decay": 1.0},
    "mopps-topk-decay0.5": {"strategy": "topk", "decay": 0.5},
    "mopps-threshold": {"strategy": "threshold", "decay": 1.0},
    "mopps-threshold-decay0.5": {"strategy": "threshold", "decay": 0.5},
}


@dataclass
class SimConfig:
    """Parameters of the simulated RL run (see the module docstring for the model)."""

    n_prompts: int = 10_000
    batch_size: int = 256
    k: int = 8
    difficulty_mean: float = 0.0
    difficulty_sd: float = 2.0
    skill0: float = -1.0
    lr: float = 0.01
    gain: str = "linear"
    noise_ratio: float = 256.0
    target: float = 0.6
    max_steps: int = 1500
    dapo_max_rounds: int = 20
    warmup: int = 10


@dataclass
class RunResult:
    """Outcome of one (method, seed) run."""

    method: str
    seed: int
    rollouts_to_target: float
    steps_to_target: float
    informative_fraction: float
    spearman_after_warmup: float
    overhead_ms: float
    curve_rollouts: list[float] = field(default_factory=list)
    curve_success: list[float] = field(default_factory=list)
    spearman_curve: list[float] = field(default_factory=list)
    informative_curve: list[float] = field(default_factory=list)


class Dynamics:
    """The simulated policy and prompt pool (numpy, explicit generator).

    Example:
        >>> dyn = Dynamics(SimConfig(n_prompts=100), np.random.default_rng(0))
        >>> s = dyn.rollout(np.arange(4))
        >>> s.shape, bool(((s >= 0) & (s <= 8)).all())
        ((4,), True)
    """

    def __init__(self, cfg: SimConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.rng = rng
        self.difficulty = rng.normal(cfg.difficulty_mean, cfg.difficulty_sd, cfg.n_prompts)
        self.skill = float(cfg.skill0)

    def success_prob(self, idx: np.ndarray | None = None) -> np.ndarray:
        """``p_i = sigmoid(theta - d_i)`` for ``idx`` (default: all prompts)."""
        d = self.difficulty if idx is None else self.difficulty[idx]
        return 1.0 / (1.0 + np.exp(d - self.skill))

    def pool_success(self) -> float:
        """Mean success rate over the whole pool."""
        return float(self.success_prob().mean())

    def rollout(self, idx: np.ndarray) -> np.ndarray:
        """``(n,)`` successes out of ``k`` rollouts for each prompt in ``idx``."""
        return self.rng.binomial(self.cfg.k, self.success_prob(idx)).astype(np.float64)

    def learn(self, n_informative: int) -> None:
        """One policy update from ``n_informative`` groups with reward variance."""
        cfg = self.cfg
        if n_informative <= 0:
            return
        if cfg.gain == "linear":
            step = cfg.lr * n_informative / cfg.batch_size
        else:
            rho = cfg.noise_ratio
            step = cfg.lr * math.sqrt((1 + rho / cfg.batch_size) / (1 + rho / n_informative))
        self.skill += step


class _Epochs:
    """Shuffled passes over the pool, like a training dataloader."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.n, self.rng = n, rng
        self.order = rng.permutation(n)
        self.pos = 0

    def take(self, b: int) -> np.ndarray:
        if self.pos + b > self.n:
            self.order, self.pos = self.rng.permutation(self.n), 0
        out = self.order[self.pos : self.pos + b]
        self.pos += b
        return out


def run_method(method: str, cfg: SimConfig, seed: int) -> RunResult:
    """Simulate one training run of ``method`` until the target or ``max_steps``.

    Example:
        >>> r = run_method("uniform", SimConfig(n_prompts=200, batch_size=16, max_steps=5), 0)
        >>> r.method, len(r.curve_success)
        ('uniform', 6)
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {sorted(METHODS)}, got {method!r}")
    dyn = Dynamics(cfg, np.random.default_rng([seed, 1]))
    sampler_rng = np.random.default_rng([seed, 2])
    b, k = cfg.batch_size, cfg.k
    selector = None
    if method.startswith("mopps"):
        opts = METHODS[method]
        selector = PromptSelector(cfg.n_prompts, decay=opts["decay"],
                                  strategy=opts["strategy"], seed=seed)
    epochs = _Epochs(cfg.n_prompts, sampler_rng)
    rollouts, groups, informative = 0, 0, 0
    curve_r, curve_s = [0.0], [dyn.pool_success()]
    spear, inf_curve, overhead = [], [], []
    reached_r = reached_s = math.nan
    for step in range(1, cfg.max_steps + 1):
        if selector is not None:
            t0 = time.perf_counter()
            idx_t = selector.select(b)
            t1 = time.perf_counter()
            idx = idx_t.numpy()
            s = dyn.rollout(idx)
            t2 = time.perf_counter()
            selector.update(idx_t, torch.from_numpy(s), k)
            overhead.append((t1 - t0 + time.perf_counter() - t2) * 1e3)
            metrics = selector.history[-1]
            spear.append(metrics.spearman)
            n_inf_step = int(((s > 0) & (s < k)).sum())
            n_groups_step = b
            used = n_inf_step
        else:
            t_sel = 0.0
            n_inf_step = n_groups_step = 0
            rounds = 1 if method == "uniform" else cfg.dapo_max_rounds
            kept = 0
            for _ in range(rounds):
                t0 = time.perf_counter()
                idx = epochs.take(b)
                t_sel += time.perf_counter() - t0
                s = dyn.rollout(idx)
                inf = int(((s > 0) & (s < k)).sum())
                n_inf_step += inf
                n_groups_step += b
                kept = min(b, n_inf_step)
                if method == "dapo" and kept >= b:
                    break
            used = n_inf_step if method == "uniform" else kept
            overhead.append(t_sel * 1e3)
        rollouts += n_groups_step * k
        groups += n_groups_step
        informative += n_inf_step
        inf_curve.append(n_inf_step / n_groups_step)
        dyn.learn(used)
        curve_r.append(float(rollouts))
        curve_s.append(dyn.pool_success())
        if math.isnan(reached_r) and curve_s[-1] >= cfg.target:
            reached_r, reached_s = float(rollouts), float(step)
            break
    after = [x for x in spear[cfg.warmup :] if not math.isnan(x)]
    return RunResult(
        method=method,
        seed=seed,
        rollouts_to_target=reached_r,
        steps_to_target=reached_s,
        informative_fraction=informative / max(groups, 1),
        spearman_after_warmup=float(np.mean(after)) if after else math.nan,
        overhead_ms=float(np.median(overhead)) if overhead else math.nan,
        curve_rollouts=curve_r,
        curve_success=curve_s,
        spearman_curve=spear,
        informative_curve=inf_curve,
    )


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.median(finite)) if finite else math.nan


def summarise(results: list[RunResult]) -> dict[str, dict[str, float]]:
    """Median over seeds per method, plus rollout ratios against uniform and DAPO.

    ``reached`` counts seeds that hit the target; the median of rollouts is over those.
    ``ratio_vs_*`` = baseline median rollouts / method median rollouts (> 1: fewer).
    """
    table: dict[str, dict[str, float]] = {}
    for method in METHODS:
        runs = [r for r in results if r.method == method]
        if not runs:
            continue
        table[method] = {
            "rollouts_to_target": _median([r.rollouts_to_target for r in runs]),
            "steps_to_target": _median([r.steps_to_target for r in runs]),
            "reached": float(sum(not math.isnan(r.rollouts_to_target) for r in runs)),
            "seeds": float(len(runs)),
            "informative_fraction": _median([r.informative_fraction for r in runs]),
            "spearman_after_warmup": _median([r.spearman_after_warmup for r in runs]),
            "overhead_ms": _median([r.overhead_ms for r in runs]),
        }
    for base in ("uniform", "dapo"):
        ref = table.get(base, {}).get("rollouts_to_target", math.nan)
        for row in table.values():
            row[f"ratio_vs_{base}"] = ref / row["rollouts_to_target"]
    return table


def _fmt(x: float, spec: str) -> str:
    return "-" if isinstance(x, float) and math.isnan(x) else format(x, spec)


def format_table(table: dict[str, dict[str, float]]) -> str:
    """Plain-text table of ``summarise`` output."""
    head = (f"{'method':<26}{'rollouts':>11}{'steps':>7}{'reached':>9}{'x unif':>8}"
            f"{'x dapo':>8}{'inform.':>9}{'spearman':>10}{'ms/step':>9}")
    lines = [head, "-" * len(head)]
    for name, r in table.items():
        lines.append(
            f"{name:<26}{_fmt(r['rollouts_to_target'], ',.0f'):>11}"
            f"{_fmt(r['steps_to_target'], '.0f'):>7}"
            f"{str(int(r['reached'])) + '/' + str(int(r['seeds'])):>9}"
            f"{_fmt(r['ratio_vs_uniform'], '.2f'):>8}{_fmt(r['ratio_vs_dapo'], '.2f'):>8}"
            f"{_fmt(r['informative_fraction'], '.3f'):>9}"
            f"{_fmt(r['spearman_after_warmup'], '.3f'):>10}{_fmt(r['overhead_ms'], '.2f'):>9}"
        )
    return "\n".join(lines)


def plot(results: list[RunResult], cfg: SimConfig, path: Path) -> None:
    """Pool success vs rollouts, informative fraction and Spearman over steps (PNG)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    top = max(max(r.curve_rollouts) for r in results)
    grid = np.linspace(0.0, top, 200)
    for i, method in enumerate(METHODS):
        runs = [r for r in results if r.method == method]
        if not runs:
            continue
        color = f"C{i}"
        curves = [np.interp(grid, r.curve_rollouts, r.curve_success, right=np.nan)
                  for r in runs]
        axes[0].plot(grid, np.nanmedian(np.vstack(curves), axis=0), color=color, label=method)
        n = min(len(r.informative_curve) for r in runs)
        inf = np.median(np.vstack([r.informative_curve[:n] for r in runs]), axis=0)
        axes[1].plot(np.arange(1, n + 1), inf, color=color, label=method)
        if runs[0].spearman_curve:
            m = min(len(r.spearman_curve) for r in runs)
            sp = np.nanmedian(np.vstack([r.spearman_curve[:m] for r in runs]), axis=0)
            w = 10
            smooth = np.convolve(np.nan_to_num(sp), np.ones(w) / w, mode="valid")
            axes[2].plot(np.arange(w, m + 1), smooth, color=color, label=method)
    axes[0].axhline(cfg.target, color="grey", ls="--", lw=1)
    axes[0].set(xlabel="rollouts", ylabel="mean success over the pool",
                title="progress (median over seeds)")
    axes[1].set(xlabel="step", ylabel="informative groups / rolled-out groups",
                title="informative fraction", ylim=(0, 1.02))
    axes[2].set(xlabel="step", ylabel="Spearman (10-step mean)",
                title="predicted vs observed success")
    axes[2].axhline(0, color="grey", lw=1)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def simulate(cfg: SimConfig, seeds: Sequence[int], methods: Sequence[str],
             progress: bool = True) -> list[RunResult]:
    """Run every (method, seed) pair, with a progress bar."""
    from tqdm import tqdm

    jobs = [(m, s) for m in methods for s in seeds]
    results = []
    for method, seed in tqdm(jobs, desc="simulate", disable=not progress):
        results.append(run_method(method, cfg, seed))
    return results


# --------------------------------------------------------------------------------------
# Speed benchmark. _NaiveDictSelector is a NAIVE BASELINE for comparison only: a faithful
# re-implementation of the dict-based reference approach (Python dicts keyed by str(index),
# a Python loop to gather / initialise parameters, one vectorised numpy Beta draw, a full
# argsort of the squared distances to the target, and a per-prompt Python loop to update).
# It is not used by the library.
# --------------------------------------------------------------------------------------
class _NaiveDictSelector:
    """NAIVE BASELINE (benchmark only): the dict-keyed reference approach."""

    def __init__(self, n: int, target: float = 0.5, decay: float = 1.0, seed: int = 0) -> None:
        self.n, self.target, self.decay = n, target, decay
        self.alpha: dict[str, float] = {}
        self.beta: dict[str, float] = {}
        self.prior_alpha = self.prior_beta = 1.0
        self.rng = np.random.default_rng(seed)

    def select(self, b: int) -> np.ndarray:
        local_a, local_b = [], []
        for index in range(self.n):
            key = str(index)
            if key not in self.alpha:
                self.alpha[key] = self.prior_alpha
            local_a.append(self.alpha[key])
            if key not in self.beta:
                self.beta[key] = self.prior_beta
            local_b.append(self.beta[key])
        draws = self.rng.beta(np.array(local_a), np.array(local_b))
        return np.argsort((draws - self.target) ** 2)[:b]

    def update(self, idx: np.ndarray, rate: np.ndarray, k: int) -> None:
        for i, r in zip(idx.tolist(), rate.tolist(), strict=True):
            key = str(i)
            self.alpha[key] = (self.alpha[key] * self.decay
                               + self.prior_alpha * (1 - self.decay) + r * k)
            self.beta[key] = (self.beta[key] * self.decay
                              + self.prior_beta * (1 - self.decay) + (1 - r) * k)


def _time_ms(fn: Callable[[], object], reps: int) -> float:
    """Median wall-clock milliseconds of ``fn()`` over ``reps`` calls."""
    return _time_both_ms(fn, reps)[0]


def _time_both_ms(fn: Callable[[], object], reps: int) -> tuple[float, float]:
    """Median (wall-clock, process CPU) milliseconds of ``fn()`` over ``reps`` calls.

    CPU time excludes the time the process waits for a core, so on a shared,
    oversubscribed machine it is the steadier measure of the work done.
    """
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall) * 1e3), float(np.median(cpu) * 1e3)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096
    except OSError:  # pragma: no cover - not Linux
        return 0


def _speed_row(n: int, batch: int, reps: int, naive_reps: int) -> dict[str, Any]:
    from lowswitch.bandit import beta_variates, numpy_generator, torch_generator
    from lowswitch.bandit.rng import _numpy_gamma_ratio

    rng = np.random.default_rng(0)
    PromptSelector(1_000, seed=0).select(10)  # warm up lazy library initialisation
    rss0 = _rss_bytes()
    sel = PromptSelector(n, seed=0)
    rss_delta = _rss_bytes() - rss0
    # a trained-looking state: 10% of the prompts have been rolled out once
    seen = torch.from_numpy(rng.choice(n, size=max(n // 10, 1), replace=False))
    sel.update(seen, torch.from_numpy(rng.integers(0, 9, seen.numel()).astype(float)), 8)
    row: dict[str, Any] = {"n_prompts": n, "batch": batch}
    for strategy in ("topk", "threshold", "uniform"):
        sel.strategy = strategy
        wall, cpu = _time_both_ms(lambda: sel.select(batch), reps)
        row[f"select_{strategy}_ms"], row[f"select_{strategy}_cpu_ms"] = wall, cpu
    sel.strategy = "topk"
    idx = sel.select(batch)
    succ = torch.from_numpy(rng.integers(0, 9, batch).astype(float))
    row["update_ms"], row["update_cpu_ms"] = _time_both_ms(
        lambda: sel.update(idx, succ, 8), reps)
    naive = _NaiveDictSelector(n)
    row["naive_select_ms"], row["naive_select_cpu_ms"] = _time_both_ms(
        lambda: naive.select(batch), naive_reps)
    nidx = naive.select(batch)
    rate = succ.numpy() / 8
    row["naive_update_ms"], row["naive_update_cpu_ms"] = _time_both_ms(
        lambda: naive.update(nidx, rate, 8), reps)
    big = min(n, 65_536)  # a large update (e.g. a whole epoch of feedback at once)
    bidx = torch.from_numpy(rng.choice(n, size=big, replace=False))
    bsucc = torch.from_numpy(rng.integers(0, 9, big).astype(float))
    row["update_big_n"] = big
    row["update_big_ms"] = _time_ms(lambda: sel.update(bidx, bsucc, 8), 5)
    brate, bnp = bsucc.numpy() / 8, bidx.numpy()
    row["naive_update_big_ms"] = _time_ms(lambda: naive.update(bnp, brate, 8), 3)
    row["select_speedup_vs_naive"] = row["naive_select_ms"] / row["select_topk_ms"]
    row["select_cpu_speedup_vs_naive"] = row["naive_select_cpu_ms"] / row["select_topk_cpu_ms"]
    row["update_speedup_vs_naive"] = row["naive_update_ms"] / row["update_ms"]
    row["state_bytes_per_prompt"] = sel.nbytes / n
    row["rss_bytes_per_prompt_at_creation"] = rss_delta / n
    g_np, g_t = numpy_generator(0), torch_generator(0)
    shapes = {"prior": torch.ones(n, dtype=torch.float64),
              "varied": torch.from_numpy(rng.uniform(1.0, 20.0, n))}
    for name, a in shapes.items():
        b = a.flip(0).contiguous()
        an, bn = a.numpy(), b.numpy()
        row[f"beta_{name}_ours_numpy_ms"] = _time_ms(
            functools.partial(beta_variates, g_np, a, b), 7)
        row[f"beta_{name}_numpy_gamma_ratio_ms"] = _time_ms(
            functools.partial(_numpy_gamma_ratio, g_np, an, bn), 7)
        row[f"beta_{name}_numpy_beta_ms"] = _time_ms(functools.partial(g_np.beta, an, bn), 7)
        row[f"beta_{name}_ours_torch_ms"] = _time_ms(
            functools.partial(beta_variates, g_t, a, b), 7)
    return row


def speed_benchmark(sizes: Sequence[int], batch: int = 256, reps: int = 21,
                    naive_reps: int = 3) -> dict[str, Any]:
    """Median select / update times, memory, and the naive dict baseline, per pool size."""
    return {str(n): _speed_row(n, batch, reps, naive_reps) for n in sizes}


def format_speed(rows: dict[str, Any]) -> str:
    """Plain-text table of ``speed_benchmark`` output."""
    keys = [
        ("select_topk_ms", ".2f"), ("select_topk_cpu_ms", ".2f"),
        ("select_threshold_ms", ".2f"), ("select_threshold_cpu_ms", ".2f"),
        ("select_uniform_ms", ".3f"), ("update_ms", ".3f"), ("update_cpu_ms", ".3f"),
        ("naive_select_ms", ".1f"), ("naive_select_cpu_ms", ".1f"),
        ("naive_update_ms", ".3f"), ("naive_update_cpu_ms", ".3f"),
        ("select_speedup_vs_naive", ".1f"), ("select_cpu_speedup_vs_naive", ".1f"),
        ("update_speedup_vs_naive", ".1f"), ("update_big_ms", ".2f"),
        ("naive_update_big_ms", ".2f"),
        ("state_bytes_per_prompt", ".1f"), ("rss_bytes_per_prompt_at_creation", ".1f"),
        ("beta_prior_ours_numpy_ms", ".1f"), ("beta_prior_numpy_gamma_ratio_ms", ".1f"),
        ("beta_prior_numpy_beta_ms", ".1f"), ("beta_prior_ours_torch_ms", ".1f"),
        ("beta_varied_ours_numpy_ms", ".1f"), ("beta_varied_numpy_gamma_ratio_ms", ".1f"),
        ("beta_varied_numpy_beta_ms", ".1f"), ("beta_varied_ours_torch_ms", ".1f"),
    ]
    sizes = list(rows)
    lines = [f"{'median of repetitions (ms)':<36}" + "".join(f"{'n=' + s:>14}" for s in sizes)]
    for key, spec in keys:
        lines.append(f"{key:<36}" + "".join(f"{format(rows[s][key], spec):>14}" for s in sizes))
    return "\n".join(lines)


def _jsonable(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    return x


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m mopps.simulate [--quick] [--speed] [--seeds N] ...``."""
    p = argparse.ArgumentParser(prog="python -m mopps.simulate", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny run for tests / CI (seconds)")
    p.add_argument("--speed", action="store_true", help="selection speed benchmark instead")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; quick 2)")
    p.add_argument("--gain", choices=("linear", "normalized"), default="linear")
    p.add_argument("--n-prompts", type=int, default=None)
    p.add_argument("--difficulty-sd", type=float, default=None,
                   help="spread of latent prompt difficulty (default 2.0)")
    p.add_argument("--k", type=int, default=None, help="rollouts per prompt (default 8)")
    p.add_argument("--tag", default="", help="suffix for the output file names")
    p.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--out", type=Path, default=Path("results/mopps"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(list(argv) if argv is not None else None)
    args.out.mkdir(parents=True, exist_ok=True)

    if args.speed:
        sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
        rows = speed_benchmark(sizes, reps=5 if args.quick else 21,
                               naive_reps=1 if args.quick else 3)
        print(format_speed(rows))
        name = "speed_quick.json" if args.quick else "speed.json"
        (args.out / name).write_text(json.dumps(_jsonable(rows), indent=2))
        print(f"wrote {args.out / name}")
        return 0

    cfg = SimConfig(gain=args.gain)
    if args.quick:
        cfg = SimConfig(n_prompts=1000, batch_size=32, lr=0.04, max_steps=300, gain=args.gain)
    if args.n_prompts:
        cfg.n_prompts = args.n_prompts
    if args.difficulty_sd is not None:
        cfg.difficulty_sd = args.difficulty_sd
    if args.k is not None:
        cfg.k = args.k
    n_seeds = args.seeds or (2 if args.quick else 5)
    results = simulate(cfg, list(range(n_seeds)), args.methods, progress=not args.no_progress)
    table = summarise(results)
    print(f"config: {asdict(cfg)}")
    print(format_table(table))
    stem = "quick" if args.quick else "simulate"
    if cfg.gain != "linear":
        stem += f"_{cfg.gain}"
    if args.tag:
        stem += f"_{args.tag}"
    payload = {"config": asdict(cfg), "seeds": n_seeds, "summary": table,
               "runs": [asdict(r) for r in results]}
    (args.out / f"{stem}.json").write_text(json.dumps(_jsonable(payload)))
    print(f"wrote {args.out / (stem + '.json')}")
    if not args.no_plot:
        plot(results, cfg, args.out / f"{stem}.png")
        print(f"wrote {args.out / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
