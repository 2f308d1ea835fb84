"""``python -m mopps.benchmark grpo``: MoPPS in real GRPO finetuning through TRL (CPU).

For each seed: one training pool, one held-out set and one stream of fresh chunks of
addition puzzles (``mopps.benchmark.arith``), one seeded model initialisation and one
supervised warm start (cached under ``<out>/cache``, keyed by the model and warm-start
settings). Every method starts from that same warm-started model and trains on the same
prompts (``mopps.benchmark.trainers``); uniform, MoPPS and the streaming runs take
``steps`` optimizer steps of ``B x G`` rollouts; DAPO-style generates ``over_sample`` times
as many rollouts per step, so it takes ``steps / over_sample`` steps for the same rollouts.

Writes ``grpo.json`` (every curve and the summary), ``grpo.png`` (accuracy vs rollouts and
vs wall time), ``grpo_calibration.png`` (feature prior on never-rolled-out prompts) and
prints a table. ``--quick`` is a seconds-long smoke configuration (numbers meaningless).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from mopps.benchmark import report
from mopps.benchmark.arith import (
    LEVELS,
    build_model,
    build_tokenizer,
    make_problems,
    warm_start,
)
from mopps.benchmark.trainers import METHODS, run_method
from mopps.metrics import spearman

__all__ = ["StudyConfig", "main", "run_study"]


@dataclass(frozen=True)
class StudyConfig:
    """Every knob of the study (the JSON records it)."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    methods: tuple[str, ...] = METHODS
    pool_size: int = 256
    heldout_size: int = 256
    prompts_per_step: int = 8
    num_generations: int = 8
    steps: int = 256
    eval_every: int = 32
    lr: float = 3e-4
    over_sample: int = 2
    chunk_size: int = 64
    arrive_every: int = 8
    prior_strength: float = 4.0
    mopps_target: float = 0.5
    target_gain: float = 0.03
    target_gain_sampled: float = 0.05
    n_layer: int = 2
    n_embd: int = 64
    warm_target: float = 0.3
    warm_max_steps: int = 3000
    threads: int = 1
    workers: int = 2
    notes: list[str] = field(default_factory=list)

    def warm_key(self, seed: int) -> str:
        text = json.dumps([self.n_layer, self.n_embd, self.warm_target, self.warm_max_steps, seed])
        return hashlib.sha1(text.encode()).hexdigest()[:12]


QUICK = StudyConfig(
    seeds=(0,), pool_size=16, heldout_size=16, prompts_per_step=2, num_generations=4,
    steps=4, eval_every=2, chunk_size=8, arrive_every=2, warm_max_steps=10,
    threads=1, workers=1,
)


def _warm_model(cfg: StudyConfig, seed: int, cache: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Warm-started weights for ``seed`` (from the cache when present) and warm-start info."""
    os.makedirs(cache, exist_ok=True)
    key = cfg.warm_key(seed)
    path, meta = os.path.join(cache, f"warm-{key}.pt"), os.path.join(cache, f"warm-{key}.json")
    if os.path.isfile(path) and os.path.isfile(meta):
        with open(meta) as f:
            return torch.load(path, weights_only=True), json.load(f)
    tok = build_tokenizer()
    model = build_model(tok, seed, cfg.n_layer, cfg.n_embd)
    info = warm_start(model, tok, seed, cfg.warm_target, cfg.warm_max_steps)
    torch.save(model.state_dict(), path)
    with open(meta, "w") as f:
        json.dump(info, f)
    return model.state_dict(), info


def _data(cfg: StudyConfig, seed: int) -> dict[str, Any]:
    pool = make_problems(cfg.pool_size, np.random.default_rng([seed, 1]))
    heldout = make_problems(cfg.heldout_size, np.random.default_rng([seed, 2]))
    n_chunks = math.ceil(cfg.steps / cfg.arrive_every)
    stream = make_problems(n_chunks * cfg.chunk_size, np.random.default_rng([seed, 3]))
    chunks = [np.arange(k * cfg.chunk_size, (k + 1) * cfg.chunk_size) for k in range(n_chunks)]
    return {"pool": pool, "heldout": heldout, "stream": stream, "chunks": chunks}


def _one_run(cfg: StudyConfig, seed: int, method: str, out: str) -> dict[str, Any]:
    """One (seed, method) run from the cached warm start (also in a worker process)."""
    torch.set_num_threads(cfg.threads)
    tok = build_tokenizer()
    state, info = _warm_model(cfg, seed, os.path.join(out, "cache"))
    data = _data(cfg, seed)
    model = build_model(tok, seed, cfg.n_layer, cfg.n_embd)
    model.load_state_dict(state)
    stream = method.startswith("stream")
    over = cfg.over_sample if method == "dapo" else 1
    t = time.perf_counter()
    run = run_method(
        method, model=model, tok=tok, train=data["stream"] if stream else data["pool"],
        heldout=data["heldout"], eval_pool=[] if stream else data["pool"], seed=seed,
        steps=cfg.steps // over, prompts_per_step=cfg.prompts_per_step,
        num_generations=cfg.num_generations, lr=cfg.lr,
        eval_every=max(cfg.eval_every // over, 1), over_sample=cfg.over_sample,
        chunks=data["chunks"], arrive_every=cfg.arrive_every, prior_strength=cfg.prior_strength,
        mopps_target=cfg.mopps_target,
    )
    run["total_seconds"] = time.perf_counter() - t
    run["warm_start"] = info
    return run


def run_study(cfg: StudyConfig, out: str, progress: bool = True) -> dict[str, Any]:
    """Run every method on every seed; write JSON and plots under ``out``; return the JSON.

    Warm starts are computed first (one per seed, cached); then the runs, ``cfg.workers``
    at a time in separate processes of ``cfg.threads`` torch threads each.
    """
    torch.set_num_threads(cfg.threads)
    os.makedirs(out, exist_ok=True)
    warm_info = {}
    for seed in tqdm(cfg.seeds, disable=not progress, desc="warm start", unit="seed"):
        warm_info[seed] = _warm_model(cfg, seed, os.path.join(out, "cache"))[1]
    jobs = [(s, m) for s in cfg.seeds for m in cfg.methods]
    bar = tqdm(total=len(jobs), disable=not progress, desc="grpo", unit="run")
    runs: list[dict[str, Any]] = []
    if cfg.workers <= 1:
        for seed, method in jobs:
            runs.append(_one_run(cfg, seed, method, out))
            bar.update()
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(cfg.workers, mp_context=ctx) as pool:
            futures = [pool.submit(_one_run, cfg, s, m, out) for s, m in jobs]
            for fut in as_completed(futures):
                fut.result()
                bar.update()
            runs = [f.result() for f in futures]
    bar.close()
    budget = float(cfg.steps * cfg.prompts_per_step * cfg.num_generations)
    table = report.summarise(runs, cfg.target_gain, budget, cfg.target_gain_sampled)
    pairs = [p for r in runs if r["method"] == "stream-feature" for p in r["new_prompt_pairs"]]
    per_seed_rho = [
        spearman([p for p, _ in r["new_prompt_pairs"]], [o for _, o in r["new_prompt_pairs"]])
        for r in runs if r["method"] == "stream-feature" and len(r["new_prompt_pairs"]) > 1
    ]
    calib = report.calibration_bins(pairs) if pairs else []
    result = {
        "config": dataclasses.asdict(cfg), "budget_rollouts": budget, "warm_start": warm_info,
        "summary": table, "runs": runs,
        "feature_prior": {"spearman_per_seed": per_seed_rho, "calibration": calib,
                          "n_pairs": len(pairs)},
        "torch_threads": torch.get_num_threads(),
    }
    with open(os.path.join(out, "grpo.json"), "w") as f:
        json.dump(result, f, indent=1, default=float)
    report.plot(runs, os.path.join(out, "grpo.png"))
    if calib:
        rho = float(np.nanmedian(per_seed_rho)) if per_seed_rho else math.nan
        report.plot_calibration(
            calib, os.path.join(out, "grpo_calibration.png"),
            f"never-rolled-out prompts, {len(pairs)} pairs, median Spearman {rho:.2f}",
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mopps.benchmark grpo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--seeds", type=int, nargs="+", help="seed list (default 0 1 2 3 4)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="default: all")
    parser.add_argument("--steps", type=int, help="optimizer steps per run (default 256)")
    parser.add_argument("--eval-every", type=int, help="steps between evaluations (default 32)")
    parser.add_argument("--target-gain", type=float,
                        help="target = warm-start held-out accuracy + this (default 0.03)")
    parser.add_argument("--lr", type=float, help="GRPO learning rate")
    parser.add_argument("--mopps-target", type=float, help="MoPPS target rate (default 0.5)")
    parser.add_argument("--threads", type=int, help="torch threads per run (default 1)")
    parser.add_argument("--workers", type=int, help="runs in parallel processes (default 2)")
    parser.add_argument("--out", default=None, help="output folder (default results/grpo)")
    parser.add_argument("--no-progress", action="store_true")
    a = parser.parse_args(argv)
    cfg = QUICK if a.quick else StudyConfig()
    updates: dict[str, Any] = {}
    if a.seeds:
        updates["seeds"] = tuple(a.seeds)
    if a.methods:
        updates["methods"] = tuple(a.methods)
    for name in ("steps", "eval_every", "target_gain", "threads", "lr", "workers",
                 "mopps_target"):
        if getattr(a, name) is not None:
            updates[name] = getattr(a, name)
    cfg = dataclasses.replace(cfg, **updates)
    out = a.out or os.path.join("results", "grpo-quick" if a.quick else "grpo")
    result = run_study(cfg, out, progress=not a.no_progress)
    budget = result["budget_rollouts"]
    print(report.format_table(result["summary"], cfg.target_gain, budget,
                              cfg.target_gain_sampled))
    names = [f"{o}x{d}" for o, d in LEVELS]
    print("\nper level (operands x digits): share of rolled-out groups (share of them with "
          "mixed rewards) -> held-out greedy accuracy at the end")
    print(report.format_levels(result["runs"], names))
    fp = result["feature_prior"]
    if fp["spearman_per_seed"]:
        print(f"feature prior on never-rolled-out prompts: Spearman per seed "
              f"{[round(x, 3) for x in fp['spearman_per_seed']]} ({fp['n_pairs']} pairs)")
    print(f"wrote {out}/grpo.json, {out}/grpo.png")
    return 0
