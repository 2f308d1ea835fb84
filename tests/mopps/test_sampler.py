"""MoPPSSampler: layout, pull-based selection, feedback, state round trips, DataLoaders."""

from __future__ import annotations

import io
from collections import defaultdict

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from lowswitch.errors import InputError, StateError
from mopps.sampler import MoPPSSampler, aggregate_rollouts, rewards_to_successes
from mopps.selector import PromptSelector


class Rows(Dataset[int]):
    """Map-style dataset whose item i is i (so a DataLoader batch shows the rows)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


def feedback(rows: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Deterministic fake rollout results: 4 rollouts, successes depend on row and step."""
    rows = torch.as_tensor(rows).unique()
    succ = ((rows * 7 + step * 3) % 5).clamp(max=4).to(torch.float64)
    return rows, succ, torch.full_like(succ, 4.0)


def reference_blocks(n: int, b: int, steps: int, seed: int = 0, **kw) -> list[list[int]]:
    """Naive loop: select, feed back, select, ... on a bare PromptSelector."""
    sel = PromptSelector(n, seed=seed, **kw)
    out = []
    for step in range(steps):
        idx = sel.select(b)
        out.append(idx.tolist())
        sel.update(*feedback(idx, step))
    return out


def test_layout_and_len():
    s = MoPPSSampler(PromptSelector(30, seed=1), 4, mini_repeat_count=3, repeat_count=2)
    assert s.block_length == 24
    assert len(s) == (30 // 4) * 24
    items = list(s)
    assert len(items) == len(s)
    for blk in range(len(items) // 24):
        block = items[blk * 24 : (blk + 1) * 24]
        first = block[:12]
        assert block[12:] == first  # repeat_count copies
        prompts = first[::3]
        assert len(set(prompts)) == 4  # distinct within a block
        assert first == [p for p in prompts for _ in range(3)]  # mini repeats consecutive


def test_pull_based_matches_naive_loop():
    n, b, steps = 50, 5, 8
    ref = reference_blocks(n, b, steps, seed=3)
    s = MoPPSSampler(PromptSelector(n, seed=3), b)
    it = iter(s)
    for step in range(steps):
        block = [next(it) for _ in range(b)]
        assert block == ref[step]
        s.update(*feedback(torch.tensor(block), step))


def test_selection_uses_feedback_given_before_pull():
    # feedback that makes prompt 0..9 certain failures must keep them out of later blocks
    s = MoPPSSampler(PromptSelector(20, seed=0), 5)
    it = iter(s)
    [next(it) for _ in range(5)]
    s.update(torch.arange(10), torch.zeros(10), 1000)
    for _ in range(2):
        block = [next(it) for _ in range(5)]
        assert min(block) >= 10


def test_torch_dataloader_one_block_per_batch():
    n, b, steps = 40, 4, 6
    ref = reference_blocks(n, b, steps, seed=7)
    s = MoPPSSampler(PromptSelector(n, seed=7), b)
    loader = DataLoader(Rows(n), batch_size=b, sampler=s, num_workers=0)
    got = []
    for step, batch in enumerate(loader):
        if step == steps:
            break
        got.append(batch.tolist())
        s.update(*feedback(batch, step))
    assert got == ref


def drive(s: MoPPSSampler, it, n_items: int, fed: list[int]) -> list[int]:
    """Pull n_items; feed back each block once it is complete."""
    out = []
    for _ in range(n_items):
        out.append(next(it))
        if s.cursor % s.block_length == 0:
            block = s.cursor // s.block_length - 1
            if block not in fed:
                fed.append(block)
                s.update(*feedback(torch.tensor(out[-s.block_length :]), block))
    return out


@pytest.mark.parametrize("stop", [3, 8, 13])  # mid-block, block edge, mid-block
def test_state_round_trip_mid_epoch_is_bit_identical(stop):
    def make(seed):
        return MoPPSSampler(PromptSelector(60, seed=seed, decay=0.7), 4, mini_repeat_count=2)

    a = make(11)
    it_a, fed = iter(a), []
    drive(a, it_a, stop, fed)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    rest_a = drive(a, it_a, 40, fed)

    b = make(999)  # different seed: everything must come from the state
    b.load_state_dict(state)
    fed_b = list(range(stop // a.block_length))
    rest_b = drive(b, iter(b), 40, fed_b)
    assert rest_a == rest_b
    assert torch.equal(a.selector.alpha, b.selector.alpha)
    assert torch.equal(a.selector.beta, b.selector.beta)


def test_epoch_rollover_and_restore_at_epoch_end():
    s = MoPPSSampler(PromptSelector(12, seed=2), 4, num_batches=2)
    first = list(s)
    assert len(first) == 8 and s.epoch == 1
    end_state = s.state_dict()
    second = list(s)
    assert len(second) == 8 and s.epoch == 2
    t = MoPPSSampler(PromptSelector(12, seed=0), 4, num_batches=2)
    t.load_state_dict(end_state)
    assert list(t) == second  # a finished epoch resumes into the next one


def test_rewind_replays_kept_blocks_and_placeholders_older():
    n = 30
    s = MoPPSSampler(PromptSelector(n, seed=4), 3, repeat_count=2, history_blocks=2)
    it = iter(s)
    items = [next(it) for _ in range(4 * 6 + 2)]  # 4 full blocks + 2 items of the 5th
    state = s.state_dict()
    cont = [next(it) for _ in range(10)]

    r = MoPPSSampler(PromptSelector(n, seed=0), 3, repeat_count=2, history_blocks=2)
    r.load_state_dict(state)
    r.check_covers(3 * 6)  # blocks 3 and 4 are kept
    with pytest.raises(StateError, match="history_blocks"):
        r.check_covers(2 * 6)
    r.rewind()
    it_r = iter(r)
    prefix = [next(it_r) for _ in range(len(items))]
    assert prefix[: 3 * 6] == [n] * (3 * 6)  # older than the history: placeholder n_prompts
    assert prefix[3 * 6 :] == items[3 * 6 :]
    assert [next(it_r) for _ in range(10)] == cont


def test_placeholder_is_never_a_valid_row():
    s = MoPPSSampler(PromptSelector(6, seed=0), 2, history_blocks=1)
    it = iter(s)
    [next(it) for _ in range(4)]
    s.rewind()
    with pytest.raises(IndexError):
        Rows(6)[next(iter(s))]


def test_update_from_rollouts_equals_hand_counts():
    s = MoPPSSampler(PromptSelector(5, seed=0, decay=1.0), 2)
    n = s.update_from_rollouts([3, 3, 3, 0, 0, 3], [1.0, 0.5, float("nan"), 0.0, 1.0, 1.0])
    assert n == 2
    assert s.selector.alpha.tolist() == [2.0, 1.0, 1.0, 3.5, 1.0]
    assert s.selector.beta.tolist() == [2.0, 1.0, 1.0, 1.5, 1.0]


def test_aggregate_rollouts_matches_dict_reference():
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 20, (200,), generator=g)
    succ = torch.rand(200, generator=g, dtype=torch.float64)
    succ[::17] = float("nan")
    ref_s: dict[int, float] = defaultdict(float)
    ref_k: dict[int, float] = defaultdict(float)
    for r, v in zip(rows.tolist(), succ.tolist(), strict=True):
        if v == v:
            ref_s[r] += v
            ref_k[r] += 1
    u, s, k = aggregate_rollouts(rows, succ)
    assert u.tolist() == sorted(ref_s)
    assert torch.allclose(s, torch.tensor([ref_s[i] for i in sorted(ref_s)], dtype=torch.float64))
    assert k.tolist() == [ref_k[i] for i in sorted(ref_k)]


def test_rewards_to_successes():
    r = torch.tensor([0.0, 0.25, 1.0, float("nan")])
    out = rewards_to_successes(r)
    assert torch.equal(out[:3], r[:3].double()) and torch.isnan(out[3])
    with pytest.raises(InputError, match="success_threshold"):
        rewards_to_successes(torch.tensor([1.0, -1.0]))
    assert rewards_to_successes(torch.tensor([2.0, -1.0]), 0.5).tolist() == [1.0, 0.0]


def test_bad_input_and_state_unchanged():
    sel = PromptSelector(10, seed=0)
    with pytest.raises(InputError, match="batch_size"):
        MoPPSSampler(sel, 11)
    with pytest.raises(InputError, match="mini_repeat_count"):
        MoPPSSampler(sel, 2, mini_repeat_count=0)
    with pytest.raises(InputError, match="selector"):
        MoPPSSampler(object(), 2)  # type: ignore[arg-type]
    s = MoPPSSampler(sel, 2)
    other = MoPPSSampler(PromptSelector(10, seed=1), 3)
    before = s.state_dict()
    with pytest.raises(InputError, match="batch_size"):
        s.load_state_dict(other.state_dict())
    with pytest.raises(InputError):
        s.update([0, 99], [1, 1], 1)
    after = s.state_dict()
    assert torch.equal(before["selector"]["alpha"], after["selector"]["alpha"])
    assert before["cursor"] == after["cursor"]


def test_stateful_dataloader_resume_mid_epoch():
    sdl = pytest.importorskip(
        "torchdata.stateful_dataloader", reason="torchdata not installed (verl extra has it)"
    )
    n, b = 64, 4

    def make(seed):
        s = MoPPSSampler(PromptSelector(n, seed=seed, decay=0.8), b)
        return s, sdl.StatefulDataLoader(Rows(n), batch_size=b, sampler=s, num_workers=0)

    s1, l1 = make(5)
    it = iter(l1)
    stream1, saved = [], None
    for step in range(10):
        batch = next(it)
        stream1.append(batch.tolist())
        s1.update(*feedback(batch, step))
        if step == 3:
            saved = l1.state_dict()
    s2, l2 = make(1234)
    l2.load_state_dict(saved)
    stream2 = []
    for step, batch in zip(range(4, 10), l2, strict=False):
        stream2.append(batch.tolist())
        s2.update(*feedback(batch, step))
    assert stream2 == stream1[4:]
    assert torch.equal(s1.selector.alpha, s2.selector.alpha)


def test_import_mopps_pulls_in_no_framework():
    import subprocess
    import sys

    code = (
        "import sys, mopps\n"
        "from mopps import MoPPSSampler, PromptSelector\n"
        "import mopps.integrations\n"
        "bad = [m for m in ('gpytorch', 'botorch', 'verl', 'trl', 'transformers') "
        "if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _state_after_two_blocks() -> tuple[MoPPSSampler, dict]:
    s = MoPPSSampler(PromptSelector(30, seed=0), batch_size=3, mini_repeat_count=2)
    it = iter(s)
    rows = [next(it) for _ in range(8)]  # one block and a part of the next
    s.update(torch.tensor(rows[:6:2]), torch.tensor([1.0, 0.0, 2.0]), 2)
    return s, s.state_dict()


def _tamper(state: dict, key: str, value) -> dict:
    out = {**state, "selector": dict(state["selector"])}
    out[key] = value
    return out


@pytest.mark.parametrize(("key", "value", "match"), [
    ("candidates", "abc", "candidates"),           # the old code loaded the selector first
    ("candidates", [1, 2, 99], r"rows in \[0, 30\)"),
    ("candidates", [1.5, 2, 3], "non-negative int"),
    ("recent", {0: [1] * 6, 1: [2, 2, 40, 40, 5, 5]}, r"recent\[1\].*\[0, 30\)"),
    ("recent", {0: [1] * 5, 1: [2] * 6}, r"recent\[0\]: expected 6 items"),
    ("recent", {7: [1] * 6}, "recent block 7"),
    ("epoch", -1, "epoch"),
    ("n_feedback", -2, "n_feedback"),
    ("cursor", 2.9, "cursor"),
])
def test_tampered_state_is_refused_before_anything_is_applied(key, value, match):
    """Issue 13, item 9: load_state_dict used to load the selector's posterior and then
    fail on the rest (half-applied), and accepted out-of-range rows and negative counters."""
    a, state = _state_after_two_blocks()
    b = MoPPSSampler(PromptSelector(30, seed=4), batch_size=3, mini_repeat_count=2)
    before = (b.selector.state_dict(), b.cursor, b.blocks_started, b.epoch, b.n_feedback)
    with pytest.raises(InputError, match=match):
        b.load_state_dict(_tamper(state, key, value))
    after = (b.selector.state_dict(), b.cursor, b.blocks_started, b.epoch, b.n_feedback)
    assert str(after) == str(before)
    b.load_state_dict(state)  # the untampered state still loads
    assert b.cursor == a.cursor == 8


@pytest.mark.parametrize("rows", [[0.0, 1.5, 2.0], [0.0, float("nan")], [True, False]])
def test_update_from_rollouts_refuses_non_integer_rows(rows):
    """Row 1.5 used to be truncated to 1, crediting a prompt that was never rolled out."""
    s = MoPPSSampler(PromptSelector(5, seed=0), batch_size=2)
    before = s.selector.state_dict()
    with pytest.raises(InputError, match="integer prompt rows"):
        s.update_from_rollouts(torch.tensor(rows), torch.ones(len(rows)))
    assert str(s.selector.state_dict()) == str(before) and s.n_feedback == 0
    assert s.update_from_rollouts(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 0.0])) == 2
