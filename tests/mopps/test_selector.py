"""PromptSelector: exact updates, reproducible streams, persistence, bad input."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

from lowswitch.errors import InputError
from mopps import PromptSelector


def _run(sel: PromptSelector, steps: int, seed: int = 0) -> list[list[int]]:
    """Drive a selector with synthetic rewards; return the selection stream."""
    gen = torch.Generator().manual_seed(seed)
    rate = torch.rand(sel.n_prompts, generator=gen, dtype=torch.float64)
    stream = []
    b = min(8, sel.n_prompts)
    for _ in range(steps):
        idx = sel.select(b)
        s = torch.binomial(torch.full((b,), 4.0, dtype=torch.float64), rate[idx], generator=gen)
        sel.update(idx, s, 4)
        stream.append(idx.tolist())
    return stream


def test_update_matches_hand_counts_with_decay_and_fractions():
    sel = PromptSelector(4, decay=0.5, prior=(1.0, 2.0))
    sel.update(torch.tensor([1, 3]), torch.tensor([2.5, 0.0]), torch.tensor([4, 1]))
    sel.update([1], [1.0], [1])
    a1 = 0.5 * (0.5 * 1 + 0.5 * 1 + 2.5) + 0.5 * 1 + 1.0
    b1 = 0.5 * (0.5 * 2 + 0.5 * 2 + 1.5) + 0.5 * 2 + 0.0
    assert sel.alpha.tolist() == [1.0, a1, 1.0, 1.0]
    assert sel.beta.tolist() == [2.0, b1, 2.0, 3.0]
    assert sel.predict([1]).item() == a1 / (a1 + b1)


@pytest.mark.parametrize("strategy", ["topk", "threshold", "uniform"])
def test_distinct_in_range_and_seeded(strategy):
    a = PromptSelector(300, strategy=strategy, seed=4)
    b = PromptSelector(300, strategy=strategy, seed=4)
    sa, sb = _run(a, 10), _run(b, 10)
    assert sa == sb
    for step in sa:
        assert len(set(step)) == 8 and all(0 <= i < 300 for i in step)
    assert _run(PromptSelector(300, strategy=strategy, seed=5), 10) != sa


def test_topk_prefers_prompts_near_target():
    sel = PromptSelector(3, seed=0)
    sel.update([0, 1, 2], [0, 50, 100], [100, 100, 100])
    assert sel.select(1).tolist() == [1]
    assert sel.last_samples.shape == (1,)


def test_threshold_band_and_fallback():
    sel = PromptSelector(6, strategy="threshold", band=(0.4, 0.6), seed=0)
    sel.update(range(6), [0, 0, 500, 500, 1000, 1000], [1000] * 6)
    assert sorted(sel.select(2).tolist()) == [2, 3]
    picked = sel.select(4).tolist()  # only two in the band: nearest fallback fills
    assert sorted(picked[:2]) == [2, 3] and len(set(picked)) == 4


def test_candidates_subset():
    sel = PromptSelector(100, seed=0)
    cand = torch.tensor([5, 17, 42, 99])
    for _ in range(5):
        assert set(sel.select(3, candidates=cand).tolist()) <= set(cand.tolist())
    for bad in ([5, 5], [100], [-1]):
        with pytest.raises(InputError):
            sel.select(1, candidates=bad)
    with pytest.raises(InputError):
        sel.select(5, candidates=cand)


@pytest.mark.parametrize("strategy", ["topk", "threshold", "uniform"])
@pytest.mark.parametrize("decay", [1.0, 0.5])
def test_state_round_trip_bit_identical_stream(strategy, decay, tmp_path):
    sel = PromptSelector(200, strategy=strategy, decay=decay, seed=11)
    _run(sel, 5, seed=1)
    sd = sel.state_dict()
    path = tmp_path / "sel.pt"
    torch.save(sd, path)
    restored = PromptSelector(1)
    restored.load_state_dict(torch.load(path, weights_only=True))
    from_json = PromptSelector.from_json(json.dumps(json.loads(sel.to_json())))
    expected = _run(sel, 12, seed=2)
    assert _run(restored, 12, seed=2) == expected
    assert _run(from_json, 12, seed=2) == expected
    assert torch.equal(restored.alpha, sel.alpha) and torch.equal(from_json.beta, sel.beta)
    assert len(restored.history) == len(sel.history)


def test_state_dict_is_a_copy():
    sel = PromptSelector(5)
    sd = sel.state_dict()
    sel.update([0], [1], [1])
    assert sd["alpha"][0].item() == 1.0


def test_bad_state_leaves_selector_unchanged():
    sel = PromptSelector(5, seed=0)
    sel.update([0], [1], [2])
    before = sel.state_dict()
    broken = dict(before, alpha=torch.tensor([1.0, -1.0]))
    for bad in (broken, {"format": "x"}, dict(before, strategy="best"), "not a dict"):
        with pytest.raises(InputError):
            sel.load_state_dict(bad)  # type: ignore[arg-type]
    after = sel.state_dict()
    assert torch.equal(after["alpha"], before["alpha"]) and after["rng"] == before["rng"]
    with pytest.raises(InputError):
        sel.load_json("{not json")


@pytest.mark.parametrize(
    ("idx", "succ", "trials"),
    [
        ([10], [1], [4]),
        ([-1], [1], [4]),
        ([0], [5], [4]),
        ([0], [-1], [4]),
        ([0], [math.nan], [4]),
        ([0, 1], [1, 1, 1], [4, 4]),
        ([0, 1], [1, 1], [4]),
    ],
)
def test_bad_update_changes_nothing(idx, succ, trials):
    sel = PromptSelector(10, decay=0.5, seed=0)
    _run(sel, 2)
    before = sel.state_dict()
    with pytest.raises(InputError):
        sel.update(idx, succ, trials)
    after = sel.state_dict()
    assert torch.equal(after["alpha"], before["alpha"])
    assert torch.equal(after["beta"], before["beta"])
    assert after["n_updates"] == before["n_updates"] and after["rng"] == before["rng"]


def test_bad_constructor_and_select_args():
    with pytest.raises(InputError):
        PromptSelector(10, strategy="greedy")
    with pytest.raises(InputError):
        PromptSelector(10, decay=0.0)
    with pytest.raises(InputError):
        PromptSelector(10, target=1.5)
    with pytest.raises(InputError):
        PromptSelector(-1)
    sel = PromptSelector(10)
    with pytest.raises(InputError):
        sel.select(11)
    with pytest.raises(InputError):
        sel.predict([10])


def test_offline_prior_and_decay_target():
    sel = PromptSelector(3, decay=0.5, offline_successes=[4, 0, 2], offline_trials=[4, 4, 4])
    assert sel.alpha.tolist() == [13.0, 1.0, 7.0]
    assert sel.beta.tolist() == [1.0, 13.0, 7.0]
    assert sel.nbytes == 32 * 3
    sel.update([0], [0], [2])
    # decays toward the prompt's own prior a0 = 13, b0 = 1
    assert sel.alpha[0].item() == 0.5 * 13 + 0.5 * 13 + 0
    assert sel.beta[0].item() == 0.5 * 1 + 0.5 * 1 + 2
    with pytest.raises(InputError):
        PromptSelector(3, offline_successes=[5, 0, 0], offline_trials=[4, 4, 4])


def test_grow_mid_training():
    sel = PromptSelector(5, seed=0)
    _run(sel, 2)
    old = sel.alpha.clone()
    new = sel.grow(3)
    assert new.tolist() == [5, 6, 7] and sel.n_prompts == 8
    assert torch.equal(sel.alpha[:5], old) and sel.alpha[5:].tolist() == [1.0] * 3
    sel.update([7], [1], [1])
    sel.grow(1, offline_successes=[1], offline_trials=[1])
    assert sel.alpha[8].item() == 4.0
    with pytest.raises(InputError):
        sel.grow(2, offline_successes=[3, 0], offline_trials=[1, 1])
    assert sel.n_prompts == 9


def test_metrics_recorded_per_update():
    sel = PromptSelector(4)
    sel.update([0, 1, 2, 3], [0, 1, 3, 4], [4, 4, 4, 4])  # predictions all equal: NaN
    assert math.isnan(sel.history[0].spearman)
    assert sel.history[0].zero_variance_fraction == 0.5
    sel.update([0, 1, 2, 3], [0, 1, 3, 4], [4, 4, 4, 4])
    assert sel.last_metrics is not None and sel.last_metrics.spearman == 1.0
    assert sel.last_metrics.step == 2
    json.loads(sel.to_json())  # NaN becomes null: strict JSON


def test_memory_per_prompt_float64():
    sel = PromptSelector(10_000)
    assert sel.alpha.dtype == torch.float64
    assert sel.nbytes / sel.n_prompts == 16


def test_torch_save_weights_only_roundtrip_in_memory():
    sel = PromptSelector(50, seed=2, offline_successes=torch.ones(50), offline_trials=2)
    buf = io.BytesIO()
    torch.save(sel.state_dict(), buf)
    buf.seek(0)
    back = PromptSelector.from_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(back.select(10), sel.select(10))


def test_failed_select_does_not_advance_the_generator():
    sel = PromptSelector(20, seed=0)
    before = sel.state_dict()["rng"]
    for bad in (dict(batch_size=21), dict(batch_size=-1), dict(batch_size=2, candidates=[0, 0])):
        with pytest.raises(InputError):
            sel.select(**bad)
    assert sel.state_dict()["rng"] == before


def test_empty_update_and_scalar_trials():
    sel = PromptSelector(5)
    sel.update(torch.empty(0, dtype=torch.long), torch.empty(0), 4)
    assert sel.alpha.tolist() == [1.0] * 5
    sel.update(torch.tensor([1, 2]), torch.tensor([1, 3]), torch.tensor(4))
    assert sel.beta.tolist() == [1.0, 4.0, 2.0, 1.0, 1.0]


def test_history_is_bounded_and_survives_state_round_trip():
    sel = PromptSelector(10, seed=0, max_history=3)
    for _ in range(5):
        idx = sel.select(2)
        sel.update(idx, torch.ones(2), torch.full((2,), 2))
    assert len(sel.history) == 3 and sel.history[-1].step == 5
    other = PromptSelector(10, seed=1, max_history=3)
    other.load_state_dict(sel.state_dict())
    assert [m.step for m in other.history] == [3, 4, 5]
