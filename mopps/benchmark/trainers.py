"""One GRPO run through TRL for the study: uniform, DAPO-style, MoPPS, streaming MoPPS.

- ``uniform``: TRL's own ``GRPOTrainer`` (its ``RepeatSampler`` shuffles the pool).
- ``dapo``: ``DynamicSamplingGRPOTrainer``, a ``GRPOTrainer`` that generates
  ``over_sample`` times as many groups as it trains on, drops the groups whose rewards are
  all equal, and trains on at most ``B`` of the rest (DAPO's dynamic sampling with a fixed
  over-sampling factor instead of an open-ended refill loop). Every generated rollout counts.
- ``mopps-topk`` / ``mopps-threshold``:
  [`mopps.integrations.trl.MoPPSGRPOTrainer`][mopps.integrations.trl.MoPPSGRPOTrainer].
- ``stream-mopps`` / ``stream-feature``: MoPPS on a streaming pool: the dataset holds every
  chunk, a callback moves the sampler's candidates to a fresh chunk every ``arrive_every``
  steps; ``stream-feature`` first fits a
  [`mopps.features.FeaturePrior`][mopps.features.FeaturePrior] on the prompts rolled out so far and
  sets the new chunk's Beta priors from its predictions.

Rollouts are counted in the reward function (every completion TRL scores); wall time is the
training time with the evaluation passes taken out.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import PreTrainedTokenizerFast, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from trl import GRPOConfig, GRPOTrainer

from mopps.benchmark.arith import (
    LEVELS,
    Problem,
    answer_reward,
    greedy_accuracy,
    sampled_success,
)
from mopps.features import FeaturePrior, hashed_ngrams
from mopps.integrations.trl import MoPPSGRPOTrainer
from mopps.metrics import spearman
from mopps.selector import PromptSelector

__all__ = ["METHODS", "DynamicSamplingGRPOTrainer", "run_method"]

METHODS = ("uniform", "dapo", "mopps-topk", "mopps-threshold", "stream-mopps", "stream-feature")


class DynamicSamplingGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
    """``GRPOTrainer`` that keeps at most ``keep_groups`` informative groups per batch.

    Set ``per_device_train_batch_size = over_sample * keep_groups * num_generations`` (one
    generation batch per optimizer step); the kept rows form the training batch.
    """

    def __init__(self, *args: Any, keep_groups: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keep_groups = keep_groups
        self.kept_groups: list[int] = []

    def _generate_and_score_completions(self, inputs: Any) -> dict[str, Any]:
        out: dict[str, Any] = super()._generate_and_score_completions(inputs)
        if not self.model.training:
            return out
        g = self.num_generations
        adv = out["advantages"]
        n = adv.shape[0]
        informative = torch.nonzero((adv.view(-1, g).abs() > 0).any(dim=1)).reshape(-1)
        groups = informative[: self.keep_groups] if informative.numel() else torch.arange(1)
        self.kept_groups.append(int(informative[: self.keep_groups].numel()))
        rows = (groups.unsqueeze(1) * g + torch.arange(g)).reshape(-1).to(adv.device)
        for key, value in list(out.items()):
            if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == n:
                out[key] = value.index_select(0, rows)
        out["num_items_in_batch"] = out["completion_mask"].sum()
        return out


class RewardLog:
    """Reward function (exact match) that records each call's prompt ids and rewards."""

    __name__ = "exact_match"

    def __init__(self) -> None:
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []
        self.rollouts = 0
        self.selector: PromptSelector | None = None  # MoPPS runs: record its predictions
        # (posterior mean before this batch's update, observed group success) per prompt
        self.pairs: list[tuple[float, float]] = []

    def __call__(self, completions: Any, answer: Any, pid: Any, **kw: Any) -> list[float]:
        rewards = answer_reward(completions, answer)
        pids, r = np.asarray(pid, dtype=np.int64), np.asarray(rewards)
        self.calls.append((pids, r))
        self.rollouts += len(rewards)
        if self.selector is not None:  # called before MoPPSGRPOTrainer folds the rewards in
            rows = np.unique(pids)
            pred = self.selector.predict(torch.from_numpy(rows)).tolist()
            self.pairs += [(p, float(r[pids == i].mean())) for p, i in zip(pred, rows, strict=True)]
        return rewards


class Recorder(TrainerCallback):  # type: ignore[misc]
    """Evaluates every ``every`` steps; keeps evaluation time out of the clock.

    Greedy accuracy on the held-out set (overall and per level) and on the pool, and the
    held-out success of 4 completions sampled at temperature 1 (what GRPO optimises).
    """

    def __init__(
        self, tok: PreTrainedTokenizerFast, heldout: list[Problem], pool: list[Problem],
        log: RewardLog, every: int,
    ) -> None:
        self.tok, self.heldout, self.pool, self.log, self.every = tok, heldout, pool, log, every
        self.curve: list[dict[str, Any]] = []
        self.eval_seconds = 0.0
        self.t0 = 0.0

    def evaluate(self, model: Any, step: int) -> None:
        t = time.perf_counter()
        wall = t - self.t0 - self.eval_seconds
        correct = greedy_accuracy(model, self.tok, self.heldout)
        levels = np.array([p.level for p in self.heldout])
        by_level = [float(correct[levels == v].mean()) if (levels == v).any() else np.nan
                    for v in range(len(LEVELS))]
        pool = float(greedy_accuracy(model, self.tok, self.pool).mean()) if self.pool else np.nan
        sampled = sampled_success(model, self.tok, self.heldout, 4, seed=10_000 + step)
        self.curve.append({"step": step, "rollouts": self.log.rollouts, "wall_s": wall,
                           "heldout": float(correct.mean()), "pool": pool,
                           "heldout_sampled": float(sampled.mean()),
                           "heldout_by_level": by_level})
        self.eval_seconds += time.perf_counter() - t

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.t0 = time.perf_counter()
        self.evaluate(kw["model"], 0)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step % self.every == 0 or state.global_step >= state.max_steps:
            self.evaluate(kw["model"], state.global_step)


class Streamer(TrainerCallback):  # type: ignore[misc]
    """Moves the MoPPS sampler to a fresh chunk of prompts every ``arrive_every`` steps."""

    def __init__(
        self, trainer: MoPPSGRPOTrainer, chunks: list[np.ndarray], arrive_every: int,
        features: Any = None, prior: FeaturePrior | None = None,
    ) -> None:
        self.trainer, self.chunks, self.every = trainer, chunks, arrive_every
        self.features, self.prior = features, prior
        self.predicted: dict[int, float] = {}  # prompt -> feature-prior prediction
        self.seconds = 0.0  # time spent fitting and applying the prior
        self._arrive(0)

    def _arrive(self, k: int) -> None:
        chunk = self.chunks[k]
        sampler = self.trainer.mopps_sampler
        if self.prior is not None and k > 0:
            t = time.perf_counter()
            sel = sampler.selector
            self.prior.fit_selector(sel, self.features)
            p = self.prior.apply(sel, torch.from_numpy(chunk), self.features[chunk])
            self.predicted.update(zip(chunk.tolist(), p.tolist(), strict=True))
            self.seconds += time.perf_counter() - t
        sampler.candidates = torch.from_numpy(chunk)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        k = state.global_step // self.every
        if state.global_step % self.every == 0 and k < len(self.chunks):
            self._arrive(k)


def _first_group_rates(log: RewardLog) -> dict[int, float]:
    """Success rate of each prompt's first rolled-out group."""
    first: dict[int, float] = {}
    for pids, rewards in log.calls:
        for pid in np.unique(pids):
            if int(pid) not in first:
                first[int(pid)] = float(rewards[pids == pid].mean())
    return first


def run_method(
    method: str,
    *,
    model: Any,
    tok: PreTrainedTokenizerFast,
    train: list[Problem],
    heldout: list[Problem],
    eval_pool: list[Problem],
    seed: int,
    steps: int,
    prompts_per_step: int,
    num_generations: int,
    lr: float,
    eval_every: int,
    over_sample: int = 2,
    chunks: list[np.ndarray] | None = None,
    arrive_every: int = 0,
    prior_strength: float = 4.0,
    mopps_target: float = 0.5,
) -> dict[str, Any]:
    """Train ``model`` (in place) with ``method`` for ``steps`` optimizer steps.

    Returns:
        ``{"curve": [...], "informative_fraction", "spearman", "step_seconds", ...}``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    ds = Dataset.from_dict({
        "prompt": [p.prompt for p in train], "answer": [p.answer for p in train],
        "pid": list(range(len(train))),
    })
    b, g = prompts_per_step, num_generations
    per_device = b * g * (over_sample if method == "dapo" else 1)
    log = RewardLog()
    recorder = Recorder(tok, heldout, eval_pool, log, eval_every)
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out, use_cpu=True, report_to=[], seed=seed, learning_rate=lr,
            per_device_train_batch_size=per_device, gradient_accumulation_steps=1,
            num_generations=g, max_completion_length=5, max_steps=steps,
            save_strategy="no", logging_steps=10**6, disable_tqdm=True,
            dataloader_num_workers=0, temperature=1.0,
        )
        common = dict(model=model, reward_funcs=[log], args=args, train_dataset=ds,
                      processing_class=tok, callbacks=[recorder])
        streamer = None
        if method == "uniform":
            trainer: Any = GRPOTrainer(**common)
        elif method == "dapo":
            trainer = DynamicSamplingGRPOTrainer(**common, keep_groups=b)
        else:
            strategy = "threshold" if method == "mopps-threshold" else "topk"
            selector = PromptSelector(len(train), target=mopps_target, strategy=strategy,
                                      seed=seed)
            trainer = MoPPSGRPOTrainer(**common, prompt_selector=selector, success_threshold=0.5)
            log.selector = selector
            if method.startswith("stream"):
                assert chunks is not None and arrive_every > 0
                feats = prior = None
                if method == "stream-feature":
                    feats = hashed_ngrams([p.prompt for p in train], 512)
                    prior = FeaturePrior(strength=prior_strength)
                streamer = Streamer(trainer, chunks, arrive_every, feats, prior)
                trainer.add_callback(streamer)
        trainer.remove_callback(PrinterCallback)  # no end-of-training metrics dump
        trainer.train()
    informative = [float((r.reshape(-1, g).std(axis=1) > 0).mean()) for _, r in log.calls]
    level_of = np.array([p.level for p in train])
    groups = np.concatenate([pids.reshape(-1, g)[:, 0] for pids, _ in log.calls])
    useful = np.concatenate([r.reshape(-1, g).std(axis=1) > 0 for _, r in log.calls])
    result: dict[str, Any] = {
        "method": method, "seed": seed, "curve": recorder.curve, "rollouts": log.rollouts,
        "informative_fraction": float(np.mean(informative)),
        "train_seconds": recorder.curve[-1]["wall_s"],
        "step_seconds": recorder.curve[-1]["wall_s"] / steps,
        # rolled-out groups per level, and how many of them had mixed rewards
        "groups_by_level": np.bincount(level_of[groups], minlength=len(LEVELS)).tolist(),
        "informative_by_level": np.bincount(level_of[groups[useful]],
                                            minlength=len(LEVELS)).tolist(),
    }
    if isinstance(trainer, DynamicSamplingGRPOTrainer):
        result["kept_groups_mean"] = float(np.mean(trainer.kept_groups))
    if isinstance(trainer, MoPPSGRPOTrainer):
        hist = trainer.mopps_sampler.selector.history
        rho = [m.spearman for m in hist if not np.isnan(m.spearman)]
        result["spearman_per_step"] = float(np.mean(rho)) if rho else float("nan")
        pred, obs = zip(*log.pairs, strict=True)
        result["spearman_pooled"] = spearman(list(pred), list(obs))  # every scored group
        if eval_pool:  # posterior mean vs a fresh estimate under the final policy
            sel = trainer.mopps_sampler.selector
            seen = np.flatnonzero((sel.alpha + sel.beta).numpy() > sum(sel.prior) + 1e-9)
            rate = sampled_success(model, tok, [eval_pool[i] for i in seen], 16, seed)
            result["spearman"] = spearman(sel.predict(torch.from_numpy(seen)), rate)
            result["n_seen"] = int(seen.size)
    if streamer is not None:
        first = _first_group_rates(log)
        pairs = [(p, first[i]) for i, p in streamer.predicted.items() if i in first]
        result["new_prompt_pairs"] = pairs  # (predicted, first observed) for new prompts
        result["prior_seconds"] = streamer.seconds
    return result
