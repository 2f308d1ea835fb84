"""MoPPS prompt selection inside TRL's ``GRPOTrainer``.

[`MoPPSGRPOTrainer`][mopps.integrations.trl.MoPPSGRPOTrainer] is a ``GRPOTrainer`` whose train
sampler is a [`MoPPSSampler`][mopps.MoPPSSampler] laid out exactly like TRL's ``RepeatSampler``:

- ``batch_size = generation_batch_size // num_generations`` distinct prompts per
  generation batch, each repeated ``num_generations`` times consecutively (one GRPO group),
  the whole block repeated ``num_iterations * steps_per_generation`` times;
- feedback: after TRL has computed and gathered the rewards of a generation batch
  (``_calculate_rewards``, all processes), the prompt rows are gathered the same way
  (``accelerate.utils.gather``) and every process folds the same rewards into its own
  sampler. Same seed + same feedback in the same order = identical samplers on all ranks,
  so every rank yields the same global index stream, as ``RepeatSampler`` requires;
- checkpoints: ``_save_checkpoint`` writes ``mopps_sampler.pt`` (plain tensors/ints,
  loaded with ``weights_only=True``) next to TRL's files; ``train(resume_from_checkpoint=...)``
  restores it and rewinds the sampler so that the ``Trainer``'s skipping of consumed batches
  replays exactly the batches the interrupted run had drawn (including the one batch that
  accelerate's dataloader reads ahead). A checkpoint taken inside a generation batch that
  TRL reuses for several steps (``steps_per_generation > gradient_accumulation_steps`` or
  ``num_iterations > 1``) makes TRL generate that batch again on resume (its buffered
  completions are not checkpointed); those rewards are not counted a second time, and the
  next batch gets the same prompts as in the uninterrupted run, but the completions (and
  so the training) differ from there on.

Each row's position is carried in a ``mopps_index`` column added to the training dataset
(reward functions receive it as a keyword argument, like every other column; accept
``**kwargs``). Rewards become successes as in ``mopps.sampler.rewards_to_successes``
(``success_threshold``). Because accelerate reads one batch ahead, generation batch ``t+1``
is chosen from the posterior after the feedback of batch ``t-1`` (one step of lag; with
``dataloader_num_workers > 0`` the lag grows with the prefetch depth, so keep it 0).
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from typing import Any

import torch
from accelerate.utils import gather  # type: ignore[import-not-found]
from transformers.trainer_utils import get_last_checkpoint  # type: ignore[import-not-found]
from trl import GRPOTrainer  # type: ignore[import-not-found]

from lowswitch.errors import InputError, StateError
from mopps.sampler import MoPPSSampler
from mopps.selector import PromptSelector

__all__ = ["SAMPLER_FILE", "MoPPSGRPOTrainer", "add_index_column"]

SAMPLER_FILE = "mopps_sampler.pt"
INDEX_COLUMN = "mopps_index"


def add_index_column(dataset: Any, column: str = INDEX_COLUMN) -> Any:
    """Return ``dataset`` with ``column`` = row position (kept if already exactly that).

    Args:
        dataset: a map-style ``datasets.Dataset``.
        column: the column name.

    Raises:
        InputError: not a map-style dataset, or ``column`` exists with other values.

    Example:
        >>> from datasets import Dataset
        >>> list(add_index_column(Dataset.from_dict({"prompt": ["a", "b"]}))["mopps_index"])
        [0, 1]
    """
    names = getattr(dataset, "column_names", None)
    if names is None or not hasattr(dataset, "__len__"):
        raise InputError(
            f"train_dataset: expected a map-style datasets.Dataset, got {type(dataset).__name__}"
        )
    n = len(dataset)
    if column in names:
        if list(dataset[column]) != list(range(n)):
            raise InputError(f"train_dataset[{column!r}]: expected the row positions 0..{n - 1}")
        return dataset
    return dataset.add_column(column, list(range(n)))


class MoPPSGRPOTrainer(GRPOTrainer):  # type: ignore[misc]
    """``trl.GRPOTrainer`` that picks each generation batch's prompts with MoPPS.

    Args:
        *args: passed to ``GRPOTrainer``.
        prompt_selector: the [`PromptSelector`][mopps.PromptSelector] (default:
            ``PromptSelector(len(train_dataset), seed=args.seed)``).
        success_threshold: ``None`` (rewards in ``[0, 1]`` are fractional successes) or
            ``t`` (a completion succeeds when its reward is ``>= t``).
        reward_index: use only this reward function's column (default: the weighted sum
            TRL uses, ``nansum`` over functions).
        history_blocks: generation batches kept for exact replay on resume (default: enough
            for the gradient-accumulation prefetch).
        **kwargs: passed to ``GRPOTrainer``; ``train_dataset`` is required (map-style).

    Example:
        >>> # trainer = MoPPSGRPOTrainer(model=model, reward_funcs=[acc], args=grpo_args,
        >>> #                            train_dataset=ds, success_threshold=0.5)
        >>> # trainer.train();  trainer.mopps_sampler.selector.predict()
        >>> MoPPSGRPOTrainer.__mro__[1].__name__
        'GRPOTrainer'
    """

    def __init__(
        self,
        *args: Any,
        prompt_selector: PromptSelector | None = None,
        success_threshold: float | None = None,
        reward_index: int | None = None,
        history_blocks: int | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("train_dataset") is None:
            raise InputError("train_dataset: MoPPSGRPOTrainer needs it as a keyword argument")
        kwargs["train_dataset"] = add_index_column(kwargs["train_dataset"])
        super().__init__(*args, **kwargs)
        n = len(self.train_dataset)
        if prompt_selector is None:
            prompt_selector = PromptSelector(n, seed=self.args.seed)
        if prompt_selector.n_prompts != n:
            raise InputError(
                f"prompt_selector: expected n_prompts == len(train_dataset) = {n}, "
                f"got {prompt_selector.n_prompts}"
            )
        cfg = self.args
        repeat = self.num_iterations * cfg.steps_per_generation
        if history_blocks is None:
            history_blocks = math.ceil((cfg.gradient_accumulation_steps + 1) / repeat) + 2
        self.mopps_sampler = MoPPSSampler(
            prompt_selector,
            cfg.generation_batch_size // self.num_generations,
            mini_repeat_count=self.num_generations,
            repeat_count=repeat,
            history_blocks=history_blocks,
        )
        self.mopps_success_threshold = success_threshold
        self.mopps_reward_index = reward_index
        # rows fed per generation batch, latest 100 (for inspection and tests)
        self.mopps_rows_fed: deque[torch.Tensor] = deque(maxlen=100)
        self._mopps_skip_feedback = False

    # ------------------------------------------------------------------ sampling
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        columns: list[str] | None = getattr(self, "_signature_columns", None)
        if columns is not None and INDEX_COLUMN not in columns:
            self._signature_columns = [*columns, INDEX_COLUMN]

    def _get_train_sampler(self, dataset: Any = None) -> MoPPSSampler:
        if dataset is not None and len(dataset) != self.mopps_sampler.selector.n_prompts:
            raise StateError(
                f"train dataset: expected {self.mopps_sampler.selector.n_prompts} rows, "
                f"got {len(dataset)}"
            )
        return self.mopps_sampler

    # ------------------------------------------------------------------ feedback
    def _calculate_rewards(self, inputs: Any, prompts: Any, completions: Any, ids: Any) -> Any:
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, ids)
        if self.model.training and self._mopps_skip_feedback:
            # TRL regenerates the generation batch a mid-batch checkpoint interrupted; its
            # rewards were already counted before the checkpoint
            self._mopps_skip_feedback = False
        elif self.model.training:
            device = rewards_per_func.device
            local = torch.tensor([int(x[INDEX_COLUMN]) for x in inputs], device=device)
            rows = gather(local).cpu()  # same process order as TRL's gather of the rewards
            per_func = rewards_per_func.detach().float()
            if self.mopps_reward_index is not None:
                rewards = per_func[:, self.mopps_reward_index]
            else:
                weights = self.reward_weights.to(device).unsqueeze(0)
                rewards = (per_func * weights).nansum(dim=1)
                rewards[torch.isnan(per_func).all(dim=1)] = torch.nan
            self.mopps_sampler.update_from_rollouts(
                rows, rewards.cpu(), self.mopps_success_threshold
            )
            self.mopps_rows_fed.append(rows)
        return rewards_per_func

    # ------------------------------------------------------------- checkpointing
    def _consumed_items(self, global_step: int | None = None) -> int:
        """Sampler items the Trainer skips when resuming at ``global_step`` (default: now)."""
        args = self.args
        if global_step is None:
            global_step = self.state.global_step
        batches = math.ceil(len(self.mopps_sampler) / args.generation_batch_size)
        per_epoch = max(math.ceil(batches / args.gradient_accumulation_steps), 1)
        steps = global_step % per_epoch
        return steps * args.gradient_accumulation_steps * args.generation_batch_size

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        self.mopps_sampler.check_covers(self._consumed_items())  # before anything is written
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = f"checkpoint-{self.state.global_step}"
            path = os.path.join(self._get_output_dir(trial=trial), folder, SAMPLER_FILE)
            torch.save(self.mopps_sampler.state_dict(), path)

    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs: Any) -> Any:
        """``GRPOTrainer.train``, restoring the MoPPS sampler from the checkpoint first."""
        if isinstance(resume_from_checkpoint, bool) and resume_from_checkpoint:
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise StateError(f"no checkpoint found in {self.args.output_dir}")
        if resume_from_checkpoint:
            path = os.path.join(str(resume_from_checkpoint), SAMPLER_FILE)
            if not os.path.isfile(path):
                raise StateError(f"{path}: no MoPPS sampler state in this checkpoint")
            self.mopps_sampler.load_state_dict(torch.load(path, weights_only=True))
            if 0 < self.mopps_sampler.cursor < len(self.mopps_sampler):
                self.mopps_sampler.rewind()  # the Trainer re-iterates and skips consumed batches
            with open(os.path.join(str(resume_from_checkpoint), "trainer_state.json")) as f:
                step = int(json.load(f)["global_step"])
            consumed = self._consumed_items(step)
            self._mopps_skip_feedback = consumed % self.mopps_sampler.block_length != 0
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
