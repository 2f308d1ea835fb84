"""Tuning benchmark: low-switch ``minimize`` vs Optuna TPE, Optuna GPSampler and random search.

Task (scikit-learn only, no download): classify ``load_digits`` with a frozen feature
extractor and an RBF-SVM head, the common "embed once, fit a cheap head" pattern.

* **Switch cost** (``setup(config)``, measured): read the dataset, augment the tuning images
  with two rotations (+-10 degrees), upsample to 16x16, filter with a Gabor bank of
  ``n_orient`` orientations x 2 scales, rectify and pool to a 4x4 grid, standardise, PCA to
  ``pca`` components. Depends on ``n_orient`` and ``pca``; repeats of a config reuse it.
* **Evaluation** (``objective(config, repeat, context)``): stratified 5-fold split of the
  tuning set, fold ``repeat % 5`` of shuffle seed ``repeat // 5``; the SVM (``C``,
  ``gamma``) is trained on the other folds (plus their augmented copies) and scored on the
  fold's original images. Returns the validation error (minimised).
* **Search space** (``--space``): ``n_orient`` in 2..8, ``pca`` in 8..64 (log), ``C`` in
  [0.5, 500] (log), ``gamma`` in [3e-4, 3e-2] (log), a practitioner's range around the
  SVM's natural scale. ``--space wide`` (``C`` in [0.1, 1000], ``gamma`` in [1e-4, 0.1])
  adds regions where the SVM collapses, so that the objective's range dwarfs the fold noise
  and the switch rule has little reason to repeat.
* **Held-out score**: 30% of the data is held out (stratified, fixed per seed). A method's
  recommended config is set up on the tuning set, trained on all of it, and scored there.

Every method gets the same number of evaluations (``--budget``). Optuna methods run one
config per trial with ``repeat = trial number`` (so folds rotate) and reuse the previous
setup when a trial repeats the previous config (never penalised for a cache miss they
could avoid). Recommended config: low-switch = best posterior mean
([`Tuner.best`][lowswitch.tune.Tuner.best]); Optuna = ``study.best_params`` (its best single trial,
what Optuna users get).

Times per run: ``total`` (wall), ``setup`` and ``objective`` (measured around the calls),
``optimizer = total - setup - objective`` (everything else: sampler, GP fits, bookkeeping).
BLAS/OpenMP threads are limited to 1 so that the comparison is not distorted by
oversubscription on a shared machine.

Usage::

    python -m lowswitch.benchmark tune                # budget 40, 3 seeds (~20 min on 2 cores)
    python -m lowswitch.benchmark tune --quick        # seconds; used by the tests

Writes ``results/tune/tune.json`` and ``results/tune/tune.png`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lowswitch.space import Float, Int, Space

METHODS = ("lowswitch", "optuna_tpe", "optuna_gp", "random")


def extra_methods() -> dict[str, str]:
    """Low-switch with a named acquisition, ``lowswitch_<name>`` for every registered name
    ([`lowswitch.policies.policy_names`][lowswitch.policies.policy_names]; ``lowswitch`` itself is
    the Tuner's default, EI).

    Example:
        >>> extra_methods()["lowswitch_ucb"]
        'ucb'
    """
    from lowswitch.policies import policy_names

    return {f"lowswitch_{name}": name for name in policy_names()}


#: low-switch (default acquisition) with ``switch_cost="auto"``: the measured set-up /
#: evaluation time ratio is the switch cost
COST_METHODS = {"lowswitch_auto": "auto"}

# The default space is a practitioner's range around the RBF-SVM's natural scale
# (gamma ~ 1 / total feature variance); "wide" adds regions where the SVM collapses
# (up to ~90% error), so the objective's range dwarfs the fold-to-fold noise.
SPACES = {
    "default": {"n_orient": (2, 8), "pca": (8, 64), "C": (0.5, 500.0), "gamma": (3e-4, 3e-2)},
    "wide": {"n_orient": (2, 8), "pca": (8, 64), "C": (0.1, 1000.0), "gamma": (1e-4, 0.1)},
}


def make_space(name: str = "default") -> Space:
    """The search space ``name`` (``"default"`` or ``"wide"``) as a ``Space``."""
    r = SPACES[name]
    return Space(
        {
            "n_orient": Int(int(r["n_orient"][0]), int(r["n_orient"][1])),
            "pca": Int(int(r["pca"][0]), int(r["pca"][1]), log=True),
            "C": Float(*r["C"], log=True),
            "gamma": Float(*r["gamma"], log=True),
        }
    )


SPACE = make_space("default")


# ----------------------------------------------------------------------------- data
def _split(seed: int, n_max: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    if n_max is not None and n_max < len(y):
        X, _, y, _ = train_test_split(X, y, train_size=n_max, stratify=y, random_state=seed)
    Xt, Xh, yt, yh = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    return Xt, yt, Xh, yh


def _gabor_bank(n_orient: int) -> list[np.ndarray]:
    ks = []
    yy, xx = np.mgrid[-3:4, -3:4].astype(np.float64)
    for sigma, lam in ((1.2, 3.0), (2.0, 5.0)):
        for j in range(n_orient):
            th = math.pi * j / n_orient
            xr = xx * math.cos(th) + yy * math.sin(th)
            yr = -xx * math.sin(th) + yy * math.cos(th)
            k = np.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * np.cos(2 * math.pi * xr / lam)
            ks.append(k - k.mean())
    return ks


def _features(images: np.ndarray, n_orient: int) -> np.ndarray:
    """(n, 8, 8) images -> (n, 2 * n_orient * 16) pooled rectified Gabor responses."""
    from scipy import ndimage, signal

    up = ndimage.zoom(images, (1, 2, 2), order=1)  # (n, 16, 16)
    feats = []
    for k in _gabor_bank(n_orient):
        r = np.abs(signal.fftconvolve(up, k[None], mode="same", axes=(1, 2)))
        feats.append(r.reshape(len(r), 4, 4, 4, 4).mean(axis=(2, 4)).reshape(len(r), 16))
    return np.concatenate(feats, axis=1)


class DigitsSetup:
    """The switch: load, augment, extract features, standardise, PCA (picklable)."""

    def __init__(self, seed: int, n_max: int | None = None) -> None:
        self.seed = seed
        self.n_max = n_max

    def build(self, config: dict[str, Any], holdout: bool) -> dict[str, Any]:
        from scipy import ndimage
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        Xt, yt, Xh, yh = _split(self.seed, self.n_max)
        imgs = Xt.reshape(-1, 8, 8)
        rot = [
            np.stack([ndimage.rotate(im, a, reshape=False, order=1) for im in imgs])
            for a in (-10.0, 10.0)
        ]
        F = _features(np.concatenate([imgs, *rot]), config["n_orient"])
        scaler = StandardScaler().fit(F)
        n_comp = min(config["pca"], F.shape[1], F.shape[0])
        pca = PCA(n_components=n_comp, random_state=0).fit(scaler.transform(F))
        Z = pca.transform(scaler.transform(F))
        n = len(yt)
        ctx: dict[str, Any] = {"Z": Z[:n], "Z_aug": [Z[n : 2 * n], Z[2 * n :]], "y": yt}
        if holdout:
            ctx["Z_hold"] = pca.transform(
                scaler.transform(_features(Xh.reshape(-1, 8, 8), config["n_orient"]))
            )
            ctx["y_hold"] = yh
        return ctx

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        return self.build(config, holdout=False)


def digits_objective(config: dict[str, Any], repeat: int, context: dict[str, Any]) -> float:
    """Validation error of the SVM on fold ``repeat % 5`` (shuffle seed ``repeat // 5``)."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    y = context["y"]
    folds = list(StratifiedKFold(5, shuffle=True, random_state=repeat // 5).split(y, y))
    tr, va = folds[repeat % 5]
    X_tr = np.concatenate([context["Z"][tr], *[a[tr] for a in context["Z_aug"]]])
    y_tr = np.concatenate([y[tr]] * (1 + len(context["Z_aug"])))
    model = SVC(C=config["C"], gamma=config["gamma"]).fit(X_tr, y_tr)
    return float(1.0 - model.score(context["Z"][va], y[va]))


def heldout_accuracy(config: dict[str, Any], seed: int, n_max: int | None) -> float:
    """Accuracy on the held-out 30% of the recommended config trained on all tuning data."""
    from sklearn.svm import SVC

    ctx = DigitsSetup(seed, n_max).build(config, holdout=True)
    X = np.concatenate([ctx["Z"], *ctx["Z_aug"]])
    y = np.concatenate([ctx["y"]] * (1 + len(ctx["Z_aug"])))
    model = SVC(C=config["C"], gamma=config["gamma"]).fit(X, y)
    return float(model.score(ctx["Z_hold"], ctx["y_hold"]))


# ----------------------------------------------------------------------------- methods
def run_lowswitch(
    budget: int,
    seed: int,
    n_max: int | None,
    threshold: float,
    progress: bool,
    space: Space = SPACE,
    policy: str | None = None,
    switch_cost: str | float = 0.0,
) -> dict[str, Any]:
    from lowswitch.tune import minimize

    t0 = time.perf_counter()
    # policy None: minimize's own default acquisition
    extra: dict[str, Any] = {} if policy is None else {"policy": policy}
    res = minimize(
        digits_objective,
        space,
        budget=budget,
        setup=DigitsSetup(seed, n_max),
        seed=seed,
        switch_threshold=threshold,
        switch_cost=switch_cost,
        progress=progress,
        **extra,
    )
    total = time.perf_counter() - t0
    assert res.best is not None
    df = res.trials
    return {
        "config": res.best.config,
        "total": total,
        "setup": res.time_setup,
        "objective": res.time_objective,
        "n_switches": res.n_switches,
        "n_evaluations": len(df),
        "switch_cost": res.switch_cost,
        "curve_t": df["t_end"].tolist(),
        "curve_best": df["best_so_far"].tolist(),
    }


def _optuna_sampler(method: str, seed: int) -> Any:
    import optuna

    if method == "optuna_tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if method == "optuna_gp":
        return optuna.samplers.GPSampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def run_optuna(
    method: str, budget: int, seed: int, n_max: int | None, space: Space = SPACE
) -> dict[str, Any]:
    import optuna

    from lowswitch.integrations.optuna import distributions_from_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=_optuna_sampler(method, seed))
    setup = DigitsSetup(seed, n_max)
    t_setup = t_obj = 0.0
    last: tuple[Any, Any] | None = None
    n_switches = 0
    curve_t, curve_best = [], []
    best = math.inf
    t0 = time.perf_counter()
    for i in range(budget):
        trial = study.ask(distributions_from_space(space))
        config = dict(trial.params)
        if last is None or last[0] != config:
            t1 = time.perf_counter()
            last = (config, setup(config))
            t_setup += time.perf_counter() - t1
            n_switches += 1
        t1 = time.perf_counter()
        value = digits_objective(config, i, last[1])
        t_obj += time.perf_counter() - t1
        study.tell(trial, value)
        best = min(best, value)
        curve_t.append(time.perf_counter() - t0)
        curve_best.append(best)
    total = time.perf_counter() - t0
    return {
        "config": dict(study.best_params),
        "total": total,
        "setup": t_setup,
        "objective": t_obj,
        "n_switches": n_switches,
        "n_evaluations": budget,
        "curve_t": curve_t,
        "curve_best": curve_best,
    }


# ----------------------------------------------------------------------------- driver
def run(
    budget: int,
    seeds: list[int],
    methods: list[str],
    n_max: int | None,
    threshold: float,
    progress: bool = True,
    space: Space = SPACE,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run every method on every seed; returns one record per (method, seed)."""
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(1):
        for seed in seeds:
            for method in methods:
                if method == "lowswitch" or method in extra_methods():
                    policy = extra_methods().get(method)  # None for "lowswitch"
                    r = run_lowswitch(budget, seed, n_max, threshold, progress, space, policy)
                elif method in COST_METHODS:
                    r = run_lowswitch(
                        budget, seed, n_max, threshold, progress, space,
                        switch_cost=COST_METHODS[method],
                    )
                else:
                    r = run_optuna(method, budget, seed, n_max, space)
                r["optimizer"] = max(r["total"] - r["setup"] - r["objective"], 0.0)
                r["heldout_accuracy"] = heldout_accuracy(r["config"], seed, n_max)
                r.update(method=method, seed=seed, budget=budget)
                rows.append(r)
                log(
                    f"seed {seed} {method:>10}: held-out acc {r['heldout_accuracy']:.4f}, "
                    f"total {r['total']:.1f}s (setup {r['setup']:.1f}, objective "
                    f"{r['objective']:.1f}, optimizer {r['optimizer']:.1f}), "
                    f"switches {r['n_switches']}"
                )
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median over seeds of each figure, per method."""
    out: dict[str, dict[str, float]] = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == m]
        out[m] = {
            k: float(np.median([r[k] for r in rs]))
            for k in ("heldout_accuracy", "total", "setup", "objective", "optimizer", "n_switches")
        }
        out[m]["heldout_accuracy_min"] = float(min(r["heldout_accuracy"] for r in rs))
        out[m]["n_seeds"] = len(rs)
    return out


def _table(summary: dict[str, dict[str, float]]) -> str:
    head = (
        f"{'method':>13} | {'held-out acc':>12} | {'total s':>8} | {'setup s':>8} | "
        f"{'objective s':>11} | {'optimizer s':>11} | {'switches':>8}"
    )
    lines = [head, "-" * len(head)]
    for m, s in summary.items():
        lines.append(
            f"{m:>13} | {s['heldout_accuracy']:>12.4f} | {s['total']:>8.1f} | "
            f"{s['setup']:>8.1f} | {s['objective']:>11.1f} | {s['optimizer']:>11.1f} | "
            f"{s['n_switches']:>8.0f}"
        )
    return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], summary: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.2), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    methods = list(summary)
    xs = np.arange(len(methods))
    bottom = np.zeros(len(methods))
    for part in ("setup", "objective", "optimizer"):
        vals = np.array([summary[m][part] for m in methods])
        ax1.bar(xs, vals, bottom=bottom, label=part)
        bottom += vals
    ax1.set_xticks(xs, methods, rotation=20)
    ax1.set_ylabel("seconds (median over seeds)")
    ax1.set_title("total wall time by part")
    ax1.legend()
    for i, m in enumerate(methods):
        acc = [r["heldout_accuracy"] for r in rows if r["method"] == m]
        ax2.scatter([i] * len(acc), acc, alpha=0.7)
        ax2.hlines(np.median(acc), i - 0.3, i + 0.3, color="k")
    ax2.set_xticks(xs, methods, rotation=20)
    ax2.set_ylabel("held-out accuracy")
    ax2.set_title("recommended config, held-out (lines: median)")
    seed0 = rows[0]["seed"]
    for m in methods:
        r = next(r for r in rows if r["method"] == m and r["seed"] == seed0)
        ax3.plot(r["curve_t"], r["curve_best"], drawstyle="steps-post", label=m)
    ax3.set_xlabel("wall time (s)")
    ax3.set_ylabel("best validation error so far")
    ax3.set_title(f"seed {seed0}: best so far vs wall time")
    ax3.legend()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m lowswitch.benchmark tune``."""
    p = argparse.ArgumentParser(
        prog="python -m lowswitch.benchmark tune",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--budget", type=int, default=40, help="evaluations per method and seed")
    p.add_argument("--seeds", type=int, default=3,
                   help="number of seeds (from --seed-offset, default 0)")
    p.add_argument("--seed-offset", type=int, default=0,
                   help="first seed (with --seeds N: seeds offset, ..., offset + N - 1)")
    p.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {','.join((*METHODS, *extra_methods(), *COST_METHODS))} "
        "(lowswitch = the Tuner's default, EI; _ucb, _ei, _ts name the acquisition; "
        "lowswitch_auto = the default with switch_cost='auto', the measured set-up/evaluation "
        "time ratio)",
    )
    p.add_argument("--switch-threshold", type=float, default=2.0)
    p.add_argument(
        "--space",
        choices=sorted(SPACES),
        default="default",
        help="search space: a practitioner's range (default) or a wide one",
    )
    p.add_argument(
        "--n-max",
        type=int,
        default=None,
        help="use a stratified subset of this many images (default: all 1797)",
    )
    p.add_argument(
        "--quick", action="store_true", help="tiny run for tests: budget 5, 1 seed, 200 images"
    )
    p.add_argument("--out", default="results/tune")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--from-json",
        default=None,
        help="comma list of tune.json files (same budget): merge their runs into one "
        "table, JSON and plot instead of running anything; rename a method with "
        "--rename old=new,...",
    )
    p.add_argument("--rename", default="", help="with --from-json: old=new,... method names")
    a = p.parse_args(argv)
    if a.from_json:
        return _merge(a)
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    known = (*METHODS, *extra_methods(), *COST_METHODS)
    bad = [m for m in methods if m not in known]
    if bad:
        p.error(f"unknown method(s) {bad}; choose from {list(known)}")
    if a.seeds < 1 or a.seed_offset < 0:
        p.error(f"--seeds must be >= 1 and --seed-offset >= 0, got {a.seeds} and {a.seed_offset}")
    budget, seeds, n_max = a.budget, list(range(a.seed_offset, a.seed_offset + a.seeds)), a.n_max
    if a.quick:  # one seed: the first one asked for
        budget, seeds, n_max = 5, [a.seed_offset], 200
    rows = run(
        budget,
        seeds,
        methods,
        n_max,
        a.switch_threshold,
        progress=not a.no_progress,
        space=make_space(a.space),
    )
    summary = summarize(rows)
    print()
    print(_table(summary))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "budget": budget,
        "seeds": seeds,
        "n_max": n_max,
        "space": a.space,
        "space_ranges": SPACES[a.space],
        "switch_threshold": a.switch_threshold,
        "summary": summary,
        "runs": rows,
    }
    (out / "tune.json").write_text(json.dumps(payload, indent=1))
    _plot(rows, summary, out / "tune.png")
    print(f"\nwrote {out / 'tune.json'} and {out / 'tune.png'}")
    return 0


def _merge(a: argparse.Namespace) -> int:
    """``--from-json``: merge saved runs (e.g. methods run at different times)."""
    rename = dict(pair.split("=", 1) for pair in a.rename.split(",") if "=" in pair)
    payloads = [json.loads(Path(f.strip()).read_text()) for f in a.from_json.split(",")]
    budgets = {pl["budget"] for pl in payloads}
    if len(budgets) != 1:
        raise SystemExit(f"--from-json: expected one budget, got {sorted(budgets)}")
    rows = [
        {**r, "method": rename.get(r["method"], r["method"])} for pl in payloads for r in pl["runs"]
    ]
    summary = summarize(rows)
    print(_table(summary))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    merged = {**payloads[0], "merged_from": a.from_json, "renamed": rename}
    merged.update(summary=summary, runs=rows, seeds=sorted({r["seed"] for r in rows}))
    (out / "tune.json").write_text(json.dumps(merged, indent=1))
    _plot(rows, summary, out / "tune.png")
    print(f"\nwrote {out / 'tune.json'} and {out / 'tune.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
