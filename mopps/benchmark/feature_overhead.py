"""``python -m mopps.benchmark feature-overhead``: selector cost with the feature prior.

At ``n`` prompts (default 1e5) it times, as medians of ``--reps`` repetitions on one
process:

- a plain MoPPS step: ``select(B)`` + ``update`` of ``B`` prompts x ``k`` rollouts;
- the feature prior's work when a chunk of new prompts arrives: hashing the chunk's
  n-grams ([`mopps.features.hashed_ngrams`][mopps.features.hashed_ngrams]), refitting the logistic
  model on the prompts rolled out so far (cold, and warm-started from the previous fit) and
  predicting + setting the Beta priors of the chunk
  ([`mopps.features.FeaturePrior.apply`][mopps.features.FeaturePrior.apply]).

The per-step overhead is the arrival work divided by the steps between arrivals. Prompts
are addition puzzles like the GRPO study's; no TRL needed. Writes ``feature_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mopps.features import FeaturePrior, hashed_ngrams
from mopps.selector import PromptSelector

__all__ = ["main", "measure"]


def _texts(n: int, rng: np.random.Generator) -> list[str]:
    ops = rng.integers(2, 4, n)
    digits = rng.integers(1, 4, n)
    return ["+".join(str(v) for v in rng.integers(0, 10 ** int(d), int(o))) + "="
            for o, d in zip(ops, digits, strict=True)]


def _median_time(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def measure(n: int = 100_000, n_rolled: int = 10_000, chunk: int = 100_000, batch: int = 64,
            k: int = 8, arrive_every: int = 100, reps: int = 5, seed: int = 0
            ) -> dict[str, Any]:
    """Time the pieces (seconds, medians) at ``n`` prompts; see the module docstring."""
    rng = np.random.default_rng(seed)
    texts = _texts(n, rng)
    sel = PromptSelector(n, seed=seed)
    rolled = rng.choice(n, n_rolled, replace=False)
    rate = np.array([0.9 if len(t) < 6 else 0.2 for t in texts])
    sel.update(torch.from_numpy(rolled), torch.from_numpy(rng.binomial(k, rate[rolled]) * 1.0),
               torch.full((n_rolled,), k))
    draws = torch.from_numpy(rng.binomial(k, 0.5, batch) * 1.0)

    def step() -> None:
        idx = sel.select(batch)
        sel.update(idx, draws, torch.full((batch,), k))

    new = texts[:chunk]
    x_all = hashed_ngrams(texts, 512)
    prior = FeaturePrior().fit_selector(sel, x_all)
    idx_new = torch.arange(chunk)
    out = {
        "n_prompts": n, "n_rolled_out": n_rolled, "chunk": chunk, "batch": batch, "k": k,
        "arrive_every": arrive_every, "reps": reps,
        "plain_step_s": _median_time(step, reps),
        "hash_chunk_s": _median_time(lambda: hashed_ngrams(new, 512), reps),
        "refit_s": _median_time(lambda: prior.fit_selector(sel, x_all), reps),
        "fit_cold_s": _median_time(lambda: FeaturePrior().fit_selector(sel, x_all), reps),
        "apply_chunk_s": _median_time(lambda: prior.apply(sel, idx_new, x_all[:chunk]), reps),
        "torch_threads": torch.get_num_threads(),
    }
    # charge a cold fit (an upper bound: a warm-started refit after new data is cheaper)
    arrival = out["hash_chunk_s"] + out["fit_cold_s"] + out["apply_chunk_s"]
    out["arrival_s"] = arrival
    out["overhead_per_step_s"] = arrival / arrive_every
    out["overhead_ratio"] = out["overhead_per_step_s"] / out["plain_step_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mopps.benchmark feature-overhead",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rolled", type=int, default=10_000, help="prompts with rollouts")
    parser.add_argument("--chunk", type=int, default=100_000, help="new prompts per arrival")
    parser.add_argument("--arrive-every", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default="results")
    a = parser.parse_args(argv)
    r = measure(a.n, a.rolled, min(a.chunk, a.n), arrive_every=a.arrive_every, reps=a.reps)
    rows = [("plain MoPPS step (select + update)", r["plain_step_s"]),
            (f"hash {r['chunk']:,} new prompts", r["hash_chunk_s"]),
            (f"fit on {r['n_rolled_out']:,} rolled-out prompts, cold", r["fit_cold_s"]),
            ("  the same, warm-started, data unchanged", r["refit_s"]),
            (f"predict + set priors of {r['chunk']:,}", r["apply_chunk_s"]),
            (f"per step, arrival every {r['arrive_every']} steps", r["overhead_per_step_s"])]
    print(f"feature prior at {r['n_prompts']:,} prompts (median of {r['reps']}, "
          f"{r['torch_threads']} torch threads)")
    for name, sec in rows:
        print(f"  {name:<48}{sec * 1e3:>10.1f} ms")
    print(f"  overhead / plain step: {r['overhead_ratio']:.2f}x")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "feature_overhead.json")
    with open(path, "w") as f:
        json.dump(r, f, indent=1)
    print(f"wrote {path}")
    return 0
