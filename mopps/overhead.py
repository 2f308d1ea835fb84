"""How much does MoPPS add to an RL training step?  ``python -m mopps.overhead``.

Two measurements, both per training step with ``B`` prompts x ``G`` rollouts:

1. **Sampler alone** at pool sizes ``N``: pulling one block of ``B x G`` row indices through
   the sampler's iterator (Thompson draws over all ``N`` prompts + top-k + layout), mapping
   verl's ``extra_info.index`` back to rows ([`IndexMap`][mopps.integrations.verl.IndexMap]
   logic, no verl needed) and folding ``B x G`` rewards in. Compared with an *assumed*
   realistic GPU step time (``--gpu-step-seconds``, default 30 s: a stated assumption, of
   the order of one GRPO step for a 1.5B-7B model with 256 prompts x 8 rollouts on a node
   of 8 GPUs; not measured here).
2. **A real GRPO step** (when TRL is installed): ``trl.GRPOTrainer`` on CPU with a tiny
   random GPT-2 (2 layers, width 32), ``B x G`` completions of ``--completion-tokens``
   tokens per step from an ``N``-prompt dataset, uniform ``RepeatSampler`` vs
   [`MoPPSGRPOTrainer`][mopps.integrations.trl.MoPPSGRPOTrainer]; the time spent inside MoPPS
   (selection + update) is measured inside the MoPPS run. This CPU step is a *lower bound*
   on a real step (the model is ~10^5 times smaller than a real policy).

Writes ``results/mopps_overhead/overhead.json`` and ``overhead.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mopps.sampler import MoPPSSampler
from mopps.selector import PromptSelector

__all__ = ["main", "sampler_step_times"]


def _median_ms(values: list[float]) -> float:
    return 1e3 * statistics.median(values)


def sampler_step_times(
    n_prompts: int, batch: int, generations: int, reps: int, seed: int = 0
) -> dict[str, float]:
    """Median milliseconds per step of the sampler's parts at one pool size.

    Returns:
        ``{"pull_ms", "map_ms", "update_ms", "total_ms"}``.

    Example:
        >>> t = sampler_step_times(1000, 8, 2, reps=3)
        >>> sorted(t)
        ['map_ms', 'pull_ms', 'total_ms', 'update_ms']
    """
    sampler = MoPPSSampler(
        PromptSelector(n_prompts, seed=seed), batch, mini_repeat_count=generations
    )
    rng = np.random.default_rng(seed)
    reported = torch.as_tensor(rng.permutation(n_prompts) * 3 + 1000)  # extra_info.index
    sorted_ids, order = torch.sort(reported)
    it = iter(sampler)
    pull, mapping, update = [], [], []
    for _ in range(reps + 1):  # the first step warms up
        t0 = time.perf_counter()
        rows = torch.tensor([next(it) for _ in range(sampler.block_length)])
        t1 = time.perf_counter()
        ids = reported[rows]
        t2 = time.perf_counter()
        back = order[torch.searchsorted(sorted_ids, ids)]  # the IndexMap lookup
        t3 = time.perf_counter()
        rewards = torch.as_tensor(rng.random(back.numel()) < 0.5, dtype=torch.float64)
        t4 = time.perf_counter()
        sampler.update_from_rollouts(back, rewards)
        t5 = time.perf_counter()
        pull.append(t1 - t0)
        mapping.append(t3 - t2)
        update.append(t5 - t4)
    pull, mapping, update = pull[1:], mapping[1:], update[1:]
    total = [a + b + c for a, b, c in zip(pull, mapping, update, strict=True)]
    return {
        "pull_ms": _median_ms(pull),
        "map_ms": _median_ms(mapping),
        "update_ms": _median_ms(update),
        "total_ms": _median_ms(total),
    }


def _timed(fn: Callable[..., Any], sink: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - t0)

    return wrapper


def grpo_step_times(
    n_prompts: int, batch: int, generations: int, tokens: int, steps: int
) -> dict[str, float]:
    """Median seconds per ``GRPOTrainer`` step on CPU, uniform vs MoPPS (needs TRL).

    Returns:
        ``{"uniform_s", "mopps_s", "mopps_inside_ms"}``: step times and the MoPPS time per
        step (selection + feedback) measured inside the MoPPS run.
    """
    import datasets
    import trl
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
        TrainerCallback,
    )

    from mopps.integrations.trl import MoPPSGRPOTrainer

    words = ["q", *"0123456789abcdef"]
    vocab = {"[UNK]": 0, "[PAD]": 1, "[EOS]": 2, **{w: 3 + i for i, w in enumerate(words)}}
    tok_model = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok_model.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tok_model, unk_token="[UNK]", pad_token="[PAD]",
        eos_token="[EOS]", bos_token="[EOS]",
    )
    prompts = ["q " + " ".join(f"{i:x}") for i in range(n_prompts)]
    data = datasets.Dataset.from_dict({"prompt": prompts})

    def reward(completions: list[str], **_: Any) -> list[float]:
        return [min(len(c), 8) / 8 for c in completions]

    class StepClock(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.times: list[float] = []
            self._t0 = 0.0

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self._t0 = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            self.times.append(time.perf_counter() - self._t0)

    out: dict[str, float] = {}
    for name in ("uniform", "mopps"):
        torch.manual_seed(0)
        cfg = GPT2Config(
            vocab_size=len(tok), n_layer=2, n_embd=32, n_head=2, n_positions=64,
            bos_token_id=2, eos_token_id=2, pad_token_id=1,
        )
        clock = StepClock()
        with tempfile.TemporaryDirectory() as tmp:
            args = trl.GRPOConfig(
                output_dir=tmp, use_cpu=True, report_to=[], seed=0, save_strategy="no",
                per_device_train_batch_size=batch * generations // 4,
                gradient_accumulation_steps=4, num_generations=generations,
                max_completion_length=tokens, max_steps=steps + 1, logging_steps=1000,
                disable_tqdm=True, dataloader_num_workers=0,
            )
            common = dict(
                model=GPT2LMHeadModel(cfg), reward_funcs=[reward], args=args,
                train_dataset=data, processing_class=tok, callbacks=[clock],
            )
            inside: list[float] = []
            if name == "uniform":
                trainer = trl.GRPOTrainer(**common)
            else:
                trainer = MoPPSGRPOTrainer(**common)
                sel = trainer.mopps_sampler.selector
                sel.select = _timed(sel.select, inside)  # type: ignore[method-assign]
                sampler = trainer.mopps_sampler
                sampler.update_from_rollouts = _timed(  # type: ignore[method-assign]
                    sampler.update_from_rollouts, inside
                )
            trainer.train()
        out[f"{name}_s"] = statistics.median(clock.times[1:])  # first step warms up
        if name == "mopps":
            # every select (incl. the one read ahead) and update, spread over all steps
            out["mopps_inside_ms"] = 1e3 * sum(inside) / (steps + 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run both measurements, print a table, write JSON and a PNG."""
    p = argparse.ArgumentParser(prog="python -m mopps.overhead", description=__doc__)
    p.add_argument("--prompts", default="100000,1000000", help="pool sizes, comma-separated")
    p.add_argument("--batch", type=int, default=256, help="prompts per step (B)")
    p.add_argument("--generations", type=int, default=8, help="rollouts per prompt (G)")
    p.add_argument("--reps", type=int, default=20, help="timed steps per pool size")
    p.add_argument("--gpu-step-seconds", type=float, default=30.0, help="assumed real step")
    p.add_argument("--grpo-prompts", type=int, default=100000, help="dataset size, GRPO run")
    p.add_argument("--grpo-steps", type=int, default=3, help="timed GRPO steps (+1 warm-up)")
    p.add_argument("--completion-tokens", type=int, default=16)
    p.add_argument("--no-grpo", action="store_true", help="skip the TRL GRPO measurement")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default="results/mopps_overhead")
    a = p.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    sizes = [int(float(s)) for s in a.prompts.split(",")]
    result: dict[str, Any] = {
        "batch": a.batch, "generations": a.generations, "reps": a.reps,
        "assumed_gpu_step_s": a.gpu_step_seconds, "torch_threads": torch.get_num_threads(),
        "sampler": {},
    }
    print(f"MoPPS per-step cost, B={a.batch} prompts x G={a.generations} rollouts "
          f"(medians, {torch.get_num_threads()} torch threads)")
    print(f"{'prompts':>10} {'pull ms':>9} {'map ms':>8} {'update ms':>10} {'total ms':>9}"
          f" {'% of ' + format(a.gpu_step_seconds, 'g') + ' s step':>16}")
    for n in sizes:
        t = sampler_step_times(n, a.batch, a.generations, a.reps)
        t["pct_of_assumed_step"] = 100 * t["total_ms"] / 1e3 / a.gpu_step_seconds
        result["sampler"][str(n)] = t
        print(f"{n:>10} {t['pull_ms']:>9.2f} {t['map_ms']:>8.3f} {t['update_ms']:>10.2f}"
              f" {t['total_ms']:>9.2f} {t['pct_of_assumed_step']:>16.4f}")
    if not a.no_grpo:
        try:
            g = grpo_step_times(
                a.grpo_prompts, a.batch, a.generations, a.completion_tokens, a.grpo_steps
            )
        except ImportError as err:
            print(f"GRPO measurement skipped: {err}")
        else:
            g["pct_inside_of_step"] = 100 * g["mopps_inside_ms"] / 1e3 / g["mopps_s"]
            g["pct_step_difference"] = 100 * (g["mopps_s"] - g["uniform_s"]) / g["uniform_s"]
            result["grpo_cpu"] = {"prompts": a.grpo_prompts, **g}
            print(f"\nReal trl.GRPOTrainer step on CPU (tiny GPT-2, {a.grpo_prompts} prompts, "
                  f"{a.batch}x{a.generations} completions of {a.completion_tokens} tokens)")
            print(f"  uniform step {g['uniform_s']:.2f} s | MoPPS step {g['mopps_s']:.2f} s | "
                  f"inside MoPPS {g['mopps_inside_ms']:.1f} ms = "
                  f"{g['pct_inside_of_step']:.3f} % of the step")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "overhead.json"), "w") as f:
        json.dump(result, f, indent=2)
    _plot(result, os.path.join(a.out, "overhead.png"))
    print(f"\nwrote {a.out}/overhead.json and overhead.png")
    return 0


def _plot(result: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values = [], []
    for n, t in result["sampler"].items():
        labels.append(f"MoPPS, {int(n):.0e} prompts")
        values.append(t["total_ms"] / 1e3)
    if "grpo_cpu" in result:
        labels.append("tiny GRPO step (CPU)")
        values.append(result["grpo_cpu"]["mopps_s"])
    labels.append("assumed GPU step")
    values.append(result["assumed_gpu_step_s"])
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh(labels, values, color=["#4c72b0"] * len(result["sampler"]) + ["#999999"] * (
        len(values) - len(result["sampler"])))
    ax.set_xscale("log")
    ax.set_xlabel("seconds per training step (log scale)")
    ax.set_title(f"MoPPS selection + update vs a training step "
                 f"(B={result['batch']}, G={result['generations']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
