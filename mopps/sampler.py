"""A pull-based ``torch.utils.data.Sampler`` that asks a
[`PromptSelector`][mopps.sampler.PromptSelector] for each batch.

The sampler yields dataset row indices, one *block* at a time. A block is one selection of
``B`` distinct prompts, laid out as RL trainers expect::

    for r in range(repeat_count):          # TRL: num_iterations * steps_per_generation
        for i in selected:                 # the B prompts of this step
            yield i  (mini_repeat_count times, consecutively)   # TRL: num_generations

(verl and plain loops use ``mini_repeat_count = repeat_count = 1``.) The selection of a
block is made when its first index is pulled, so each block is chosen from the posterior
as of the last [`MoPPSSampler.update`][mopps.sampler.MoPPSSampler.update] that happened before that
pull. An *epoch* is ``num_batches`` blocks; ``len(sampler) = num_batches * batch_size *
mini_repeat_count * repeat_count``.

Position bookkeeping (all in [`MoPPSSampler.state_dict`][mopps.sampler.MoPPSSampler.state_dict]):
``cursor`` counts the items yielded in the current epoch, ``started`` the blocks selected so far in
it, and the most recent ``history_blocks`` blocks are kept so that items already handed out can be
replayed exactly. Two resume styles are supported:

- *continue* (torchdata ``StatefulDataLoader``, verl): ``load_state_dict`` and the next
  iterator carries on at ``cursor``.
- *re-iterate and skip* (Hugging Face ``Trainer`` / accelerate ``skip_first_batches``, TRL):
  after ``load_state_dict`` call [`MoPPSSampler.rewind`][mopps.sampler.MoPPSSampler.rewind]; the
  next iterator starts at item 0 of the epoch, yields an out-of-range placeholder (``n_prompts``)
  for items older than the kept history (they are skipped by the trainer, never fetched; if one ever
  is fetched, the dataset raises ``IndexError``), replays the kept blocks, then pulls new ones.

Only one iterator should be consumed at a time (the position lives in the sampler, as in
torchdata's stateful samplers).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Sampler

from lowswitch.bandit.state import read_header, state_header
from lowswitch.errors import InputError, StateError
from mopps.selector import PromptSelector

__all__ = ["MoPPSSampler", "aggregate_rollouts", "rewards_to_successes"]

_KIND = "mopps.MoPPSSampler"
_VERSIONS = (1, 2)  # 1: the pre-shared header "mopps.MoPPSSampler/1"; same payload


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}: expected an int >= 1, got {value!r}")
    return value


def _state_int(name: str, value: Any) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"state: {name}: expected a non-negative int, got {value!r}")
    return value


def _state_rows(name: str, value: Any, n_prompts: int) -> list[int]:
    """Saved prompt rows: a flat sequence of ints in ``0..n_prompts`` (placeholder incl.)."""
    rows = value.tolist() if isinstance(value, torch.Tensor) else value
    if not isinstance(rows, (list, tuple)):
        raise InputError(f"state: {name}: expected a list of rows, got {type(value).__name__}")
    out = [_state_int(f"{name} row", v) for v in rows]
    if any(v >= n_prompts for v in out):
        raise InputError(f"state: {name}: expected rows in [0, {n_prompts}), got {rows!r}")
    return out


def rewards_to_successes(
    rewards: torch.Tensor, success_threshold: float | None = None
) -> torch.Tensor:
    """Map per-rollout rewards to per-rollout successes in ``[0, 1]``.

    Args:
        rewards: ``(n,)`` float rewards, one per rollout; NaN marks an unscored rollout and
            is passed through as NaN (callers drop it from the trials).
        success_threshold: ``None``: rewards must already lie in ``[0, 1]`` and are used as
            fractional successes. A number ``t``: success is ``reward >= t`` (for rewards
            such as ``-1 / +1`` or with format bonuses).

    Returns:
        ``(n,)`` float64 successes (NaN where the reward was NaN).

    Raises:
        InputError: ``success_threshold`` is ``None`` and a finite reward is outside
            ``[0, 1]``.

    Example:
        >>> rewards_to_successes(torch.tensor([1.0, -1.0, 1.0]), success_threshold=0.0).tolist()
        [1.0, 0.0, 1.0]
    """
    r = torch.as_tensor(rewards).detach().to("cpu", torch.float64).reshape(-1)
    finite = ~torch.isnan(r)
    if success_threshold is None:
        bad = finite & ((r < 0) | (r > 1))
        if bool(bad.any()):
            raise InputError(
                "rewards: expected values in [0, 1] (fractional successes) when "
                f"success_threshold is None, got {float(r[bad][0])}; pass success_threshold=t "
                "to count reward >= t as a success"
            )
        return r
    t = float(success_threshold)
    return torch.where(finite, (r >= t).to(torch.float64), r)


def _integer_rows(rows: Any) -> torch.Tensor:
    """``rows`` as int64, refusing booleans and non-integral values (never truncating)."""
    t = torch.as_tensor(rows).detach().reshape(-1).to("cpu")
    if t.dtype == torch.bool or t.is_complex():
        raise InputError(f"rows: expected integer prompt rows, got dtype {t.dtype}")
    if t.is_floating_point():
        bad = ~torch.isfinite(t) | (t != torch.round(t))
        if bool(bad.any()):
            raise InputError(
                f"rows: expected integer prompt rows, got {float(t[bad][0])!r} (a fractional "
                "row is never truncated: it would credit another prompt)"
            )
    return t.to(torch.int64)


def aggregate_rollouts(
    rows: torch.Tensor, successes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group per-rollout results by prompt row: ``(rows, successes, trials)`` per prompt.

    Rollouts whose success is NaN (unscored) are dropped; a prompt whose rollouts are all
    NaN is left out.

    Args:
        rows: ``(n,)`` int prompt row of each rollout (repeats allowed, any order).
        successes: ``(n,)`` float success of each rollout in ``[0, 1]`` (or NaN).

    Returns:
        ``(u,)`` int64 unique rows (ascending), ``(u,)`` float64 summed successes,
        ``(u,)`` float64 rollout counts.

    Example:
        >>> rows = torch.tensor([4, 4, 1, 4])
        >>> r, s, k = aggregate_rollouts(rows, torch.tensor([1.0, 0.0, 1.0, 1.0]))
        >>> r.tolist(), s.tolist(), k.tolist()
        ([1, 4], [1.0, 2.0], [1.0, 3.0])
    """
    rows = _integer_rows(rows)
    s = torch.as_tensor(successes).detach().reshape(-1).to("cpu", torch.float64)
    if rows.shape != s.shape:
        raise InputError(
            f"rows, successes: expected equal lengths, got {rows.numel()} and {s.numel()}"
        )
    keep = ~torch.isnan(s)
    rows, s = rows[keep], s[keep]
    uniq, inverse = torch.unique(rows, return_inverse=True)
    succ = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(0, inverse, s)
    trials = torch.zeros(uniq.numel(), dtype=torch.float64).index_add_(
        0, inverse, torch.ones_like(s)
    )
    return uniq, succ, trials


class MoPPSSampler(Sampler[int]):
    """Yield prompt rows chosen by MoPPS, one block per training step, and take feedback.

    Args:
        selector: the [`PromptSelector`][mopps.PromptSelector] over the dataset rows
            (``selector.n_prompts`` rows, row ``i`` = dataset item ``i``).
        batch_size: distinct prompts per block (``B``).
        num_batches: blocks per epoch (default ``max(1, n_prompts // batch_size)``, i.e. an
            epoch draws as many prompts as the dataset has, like uniform sampling).
        mini_repeat_count: consecutive copies of each selected row (TRL ``num_generations``).
        repeat_count: times each block is yielded (TRL ``num_iterations * steps_per_generation``).
        candidates: optional ``(c,)`` distinct rows to select from (default: all).
        history_blocks: recent blocks kept in the state for exact replay (>= 1).

    Example:
        >>> import torch
        >>> from mopps import MoPPSSampler, PromptSelector
        >>> sampler = MoPPSSampler(PromptSelector(100, seed=0), batch_size=4)
        >>> it = iter(sampler)
        >>> rows = torch.tensor([next(it) for _ in range(4)])    # first block (pulled now)
        >>> sampler.update(rows, successes=torch.tensor([2.0, 0, 4, 1]), trials=4)
        >>> len(sampler)                                           # 25 blocks of 4
        100
    """

    def __init__(
        self,
        selector: PromptSelector,
        batch_size: int,
        *,
        num_batches: int | None = None,
        mini_repeat_count: int = 1,
        repeat_count: int = 1,
        candidates: Any = None,
        history_blocks: int = 2,
    ) -> None:
        if not isinstance(selector, PromptSelector):
            raise InputError(
                f"selector: expected a mopps.PromptSelector, got {type(selector).__name__}"
            )
        self.selector = selector
        self.batch_size = _positive_int("batch_size", batch_size)
        n_pool = selector.n_prompts if candidates is None else len(candidates)
        if self.batch_size > n_pool:
            raise InputError(
                f"batch_size: expected <= {n_pool} (prompts to choose from), got {batch_size}"
            )
        if num_batches is None:
            num_batches = max(1, n_pool // self.batch_size)
        self.num_batches = _positive_int("num_batches", num_batches)
        self.mini_repeat_count = _positive_int("mini_repeat_count", mini_repeat_count)
        self.repeat_count = _positive_int("repeat_count", repeat_count)
        self.history_blocks = _positive_int("history_blocks", history_blocks)
        self.candidates: torch.Tensor | None = (
            None if candidates is None else torch.as_tensor(candidates, dtype=torch.int64)
        )
        self.epoch = 0  # epochs started
        self._cursor = 0  # items yielded in this epoch
        self._started = 0  # blocks selected in this epoch
        self._recent: dict[int, list[int]] = {}  # block number -> layout (L items)
        self._resume_next = False
        self.n_feedback = 0

    # ----------------------------------------------------------------- geometry
    @property
    def block_length(self) -> int:
        """Items per block: ``batch_size * mini_repeat_count * repeat_count``."""
        return self.batch_size * self.mini_repeat_count * self.repeat_count

    @property
    def cursor(self) -> int:
        """Items yielded so far in the current epoch."""
        return self._cursor

    @property
    def blocks_started(self) -> int:
        """Blocks selected so far in the current epoch."""
        return self._started

    def __len__(self) -> int:
        """Items per epoch: ``num_batches * block_length``."""
        return self.num_batches * self.block_length

    def recent_blocks(self) -> dict[int, torch.Tensor]:
        """The kept blocks: block number in the epoch -> ``(batch_size,)`` selected rows."""
        step = self.mini_repeat_count
        return {
            b: torch.tensor(lay[: self.batch_size * step : step], dtype=torch.int64)
            for b, lay in self._recent.items()
        }

    def _layout(self, selected: torch.Tensor) -> torch.Tensor:
        per_prompt = selected.repeat_interleave(self.mini_repeat_count)
        return per_prompt.repeat(self.repeat_count)

    # ---------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[int]:
        return self._generate()

    def _generate(self) -> Iterator[int]:
        total = len(self)
        if self._resume_next and self._cursor < total:
            self._resume_next = False
        else:  # a fresh epoch
            self._resume_next = False
            self.epoch += 1
            self._cursor, self._started, self._recent = 0, 0, {}
        length = self.block_length
        placeholder = self.selector.n_prompts
        while self._cursor < total:
            block, offset = divmod(self._cursor, length)
            if block >= self._started:  # pull: choose the next block now
                selected = self.selector.select(self.batch_size, self.candidates)
                self._recent[block] = self._layout(selected).tolist()
                self._started = block + 1
                for old in [b for b in self._recent if b <= block - self.history_blocks]:
                    del self._recent[old]
            layout = self._recent.get(block)
            value = placeholder if layout is None else int(layout[offset])
            self._cursor += 1
            yield value

    def rewind(self) -> None:
        """Make the next iterator re-yield this epoch from item 0, then continue.

        For trainers that resume by re-iterating the sampler and skipping the batches
        already consumed (Hugging Face ``Trainer``). Items older than the kept history come
        out as the placeholder ``n_prompts``; the kept blocks are replayed exactly; new blocks
        are pulled after ``blocks_started``.

        Example:
            >>> s = MoPPSSampler(PromptSelector(10, seed=0), batch_size=2)
            >>> it = iter(s)
            >>> first = [next(it), next(it)]
            >>> s.rewind()
            >>> it = iter(s)
            >>> [next(it), next(it)] == first
            True
        """
        self._cursor = 0
        self._resume_next = True

    # ----------------------------------------------------------------- feedback
    def update(self, indices: Any, successes: Any, trials: Any) -> None:
        """Fold rollout results into the posterior (see
        [`PromptSelector.update`][mopps.selector.PromptSelector.update]).

        Args:
            indices: ``(n,)`` prompt rows that were rolled out.
            successes: ``(n,)`` successes (or summed rewards in ``[0, 1]``) per row.
            trials: ``(n,)`` rollouts per row, or one int for all.

        Example:
            >>> s = MoPPSSampler(PromptSelector(5, seed=0), batch_size=2)
            >>> s.update([1, 3], [2.0, 0.0], 2)
            >>> s.selector.alpha.tolist()
            [1.0, 3.0, 1.0, 1.0, 1.0]
        """
        self.selector.update(indices, successes, trials)
        self.n_feedback += 1

    def update_from_rollouts(
        self, rows: Any, rewards: Any, success_threshold: float | None = None
    ) -> int:
        """Group one step's per-rollout rewards by prompt row and
        [`update`][mopps.sampler.MoPPSSampler.update].

        Args:
            rows: ``(n,)`` prompt row of each rollout.
            rewards: ``(n,)`` reward of each rollout (see ``rewards_to_successes``).
            success_threshold: ``None`` (rewards in ``[0, 1]``) or ``t`` (success = reward >= t).

        Returns:
            Number of distinct prompts updated.

        Example:
            >>> s = MoPPSSampler(PromptSelector(5, seed=0), batch_size=2)
            >>> s.update_from_rollouts([2, 2, 4, 4], [1.0, 0.0, 0.0, 0.0])
            2
            >>> s.selector.alpha[[2, 4]].tolist(), s.selector.beta[[2, 4]].tolist()
            ([2.0, 1.0], [2.0, 3.0])
        """
        succ = rewards_to_successes(torch.as_tensor(rewards), success_threshold)
        uniq, s, k = aggregate_rollouts(torch.as_tensor(rows), succ)
        if uniq.numel() > 0:
            self.update(uniq, s, k)
        return int(uniq.numel())

    # -------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain-data state (tensors, ints, lists): selector with its RNG, and the position.

        Works with ``torch.save`` / ``torch.load(weights_only=True)`` and with torchdata's
        ``StatefulDataLoader`` (which calls it when the loader's state is taken).

        Example:
            >>> a = MoPPSSampler(PromptSelector(20, seed=0), batch_size=3)
            >>> it_a = iter(a)
            >>> _ = [next(it_a) for _ in range(4)]                 # stop mid-block
            >>> b = MoPPSSampler(PromptSelector(20, seed=5), batch_size=3)
            >>> b.load_state_dict(a.state_dict())
            >>> it_b = iter(b)
            >>> [next(it_a) for _ in range(5)] == [next(it_b) for _ in range(5)]
            True
        """
        return {
            **state_header(_KIND, _VERSIONS[-1]),
            "selector": self.selector.state_dict(),
            "batch_size": self.batch_size,
            "num_batches": self.num_batches,
            "mini_repeat_count": self.mini_repeat_count,
            "repeat_count": self.repeat_count,
            "history_blocks": self.history_blocks,
            "candidates": None if self.candidates is None else self.candidates.clone(),
            "epoch": self.epoch,
            "cursor": self._cursor,
            "started": self._started,
            "recent": {int(b): list(lay) for b, lay in self._recent.items()},
            "n_feedback": self.n_feedback,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from [`state_dict`][mopps.sampler.MoPPSSampler.state_dict]; the next iterator
        continues at the saved item.

        Raises:
            InputError: malformed state or a layout (batch size, repeats, epoch length)
                different from this sampler's; nothing changes then.
        """
        read_header(state, _KIND, _VERSIONS)
        for key in ("batch_size", "num_batches", "mini_repeat_count", "repeat_count"):
            if state.get(key) != getattr(self, key):
                raise InputError(
                    f"state[{key!r}]: expected {getattr(self, key)} (this sampler's layout), "
                    f"got {state.get(key)!r}"
                )
        # Validate everything (the selector's state last, since loading it commits it),
        # then assign: a bad state leaves this sampler exactly as it was.
        try:
            cursor = _state_int("cursor", state["cursor"])
            started = _state_int("started", state["started"])
            epoch = _state_int("epoch", state["epoch"])
            n_feedback = _state_int("n_feedback", state["n_feedback"])
            recent_raw, candidates_raw, selector_state = (
                state["recent"], state["candidates"], state["selector"])
        except KeyError as err:
            raise InputError(f"state: malformed MoPPSSampler state (missing {err})") from None
        length = self.block_length
        if not 0 <= cursor <= len(self) or not 0 <= started <= self.num_batches:
            raise InputError(
                f"state: cursor {cursor} / started {started} out of range (expected 0..{len(self)}"
                f" / 0..{self.num_batches})"
            )
        if cursor > started * length:
            raise InputError(f"state: cursor {cursor} beyond the {started} selected blocks")
        n_prompts = self.selector.n_prompts
        candidates = None
        if candidates_raw is not None:
            candidates = _state_rows("candidates", candidates_raw, n_prompts)
            if len(set(candidates)) != len(candidates) or len(candidates) < self.batch_size:
                raise InputError(
                    f"state: candidates: expected at least batch_size={self.batch_size} "
                    f"distinct rows, got {candidates_raw!r}"
                )
        if not isinstance(recent_raw, dict):
            raise InputError(f"state: recent: expected a dict, got {type(recent_raw).__name__}")
        recent: dict[int, list[int]] = {}
        for b, lay in recent_raw.items():
            block = _state_int("recent block", int(b) if isinstance(b, str) and b.isdigit()
                               else b)
            if block >= started:
                raise InputError(f"state: recent block {block} not among the {started} started")
            recent[block] = _state_rows(f"recent[{block}]", lay, n_prompts)
            if len(recent[block]) != length:
                raise InputError(
                    f"state: recent[{block}]: expected {length} items (block layout), "
                    f"got {len(recent[block])}"
                )
        self.selector.load_state_dict(selector_state)  # validates in full, then commits
        self.candidates = None if candidates is None else torch.tensor(candidates,
                                                                       dtype=torch.int64)
        self.epoch, self._cursor, self._started = epoch, cursor, started
        self._recent = recent
        self.n_feedback = n_feedback
        self._resume_next = True

    def check_covers(self, consumed: int) -> None:
        """Raise unless items ``consumed ..`` cursor can be replayed after
        [`rewind`][mopps.sampler.MoPPSSampler.rewind].

        Raises:
            StateError: the kept history starts after ``consumed``; raise
                ``history_blocks``.
        """
        if consumed >= self._cursor or consumed >= len(self):
            return
        first = min(self._recent, default=self._started)
        if consumed < first * self.block_length:
            need = self._started - consumed // self.block_length
            raise StateError(
                f"history_blocks: {self.history_blocks} kept blocks do not reach back to item "
                f"{consumed} (cursor {self._cursor}); need at least {need}"
            )

