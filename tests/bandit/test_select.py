"""Selection rules against naive full-sort references."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from lowswitch.bandit import (
    argmax_k,
    band_k,
    closest_k,
    numpy_generator,
    torch_generator,
    uniform_k,
)
from lowswitch.errors import InputError

select_module = importlib.import_module("lowswitch.bandit.select")


def _values(m: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("k", [0, 1, 7, 100])
def test_closest_and_argmax_equal_full_sort(k):
    v = _values(100)
    ref = sorted(range(100), key=lambda i: abs(v[i].item() - 0.37))[:k]
    assert closest_k(v, 0.37, k).tolist() == ref
    ref_max = sorted(range(100), key=lambda i: -v[i].item())[:k]
    assert argmax_k(v, k).tolist() == ref_max


@pytest.mark.parametrize("make", [numpy_generator, torch_generator])
def test_band_picks_inside_when_enough(make):
    v = _values(1000, 1)
    pos = band_k(v, 0.3, 0.7, 50, make(0))
    assert len(set(pos.tolist())) == 50
    assert bool(((v[pos] >= 0.3) & (v[pos] <= 0.7)).all())


def test_band_fallback_takes_all_inside_then_nearest():
    v = torch.tensor([0.0, 0.5, 0.95, 0.8, 0.29, 0.6], dtype=torch.float64)
    pos = band_k(v, 0.3, 0.7, 4, numpy_generator(0))
    # inside: 1 (0.5), 5 (0.6); nearest outside: 4 (0.01 away), 3 (0.1 away)
    assert sorted(pos[:2].tolist()) == [1, 5]
    assert pos[2:].tolist() == [4, 3]


def test_band_is_uniform_inside():
    v = torch.full((10,), 0.5, dtype=torch.float64)
    gen = numpy_generator(0)
    counts = torch.zeros(10)
    for _ in range(2000):
        counts[band_k(v, 0.3, 0.7, 3, gen)] += 1
    assert counts.min() > 500 and counts.max() < 700  # expected 600 each


def test_uniform_distinct():
    pos = uniform_k(50, 50, numpy_generator(1))
    assert sorted(pos.tolist()) == list(range(50))


def test_bad_k():
    with pytest.raises(InputError):
        closest_k(_values(5), 0.5, 6)
    with pytest.raises(InputError):
        argmax_k(_values(5).reshape(5, 1), 1)
    with pytest.raises(InputError):
        band_k(_values(5), 0.7, 0.3, 1, numpy_generator(0))


@pytest.mark.parametrize("k", [0, 1, 13, 40, 100])
def test_ties_broken_by_position_like_a_stable_sort(k):
    v = torch.randint(0, 5, (100,), generator=torch.Generator().manual_seed(3)).double()
    ref = sorted(range(100), key=lambda i: abs(v[i].item() - 2.0))[:k]
    assert closest_k(v, 2.0, k).tolist() == ref
    assert argmax_k(v, k).tolist() == sorted(range(100), key=lambda i: -v[i].item())[:k]


def _stable_reference(score, k):
    return torch.from_numpy(np.argsort(score, kind="stable")[:k].astype(np.int64))


@pytest.mark.parametrize("layout", ["random", "ascending", "descending", "off_stride", "ties"])
@pytest.mark.parametrize("k", [1, 256, 1500])
def test_large_pools_use_the_prefilter_and_equal_a_full_stable_sort(layout, k):
    # 2^17 entries: above the prefilter size, so the subsample cut is used; the layouts
    # make the strided subsample over- or under-estimate the cut (both must stay exact)
    m = 1 << 17
    rng = np.random.default_rng(k)
    values = rng.random(m)
    if layout == "ascending":
        values.sort()
    elif layout == "descending":
        values[::-1].sort()
    elif layout == "off_stride":  # values close to the target never on the stride grid
        stride = m // select_module._SUBSAMPLE
        values = np.where(np.arange(m) % stride == 0, 0.99, values)
    elif layout == "ties":
        values = np.round(values, 2)  # ~1300 entries per value: ties at the k-th
    got = closest_k(torch.from_numpy(values), 0.5, k)
    assert torch.equal(got, _stable_reference(np.abs(values - 0.5), k))
    got = argmax_k(torch.from_numpy(values), k)
    assert torch.equal(got, _stable_reference(-values, k))


def test_prefilter_cut_too_small_falls_back_to_the_full_partition(monkeypatch):
    values = np.random.default_rng(0).random(1 << 17)
    monkeypatch.setattr(select_module, "_prefilter_cut", lambda score, k: -1.0)
    got = closest_k(torch.from_numpy(values), 0.5, 300)
    assert torch.equal(got, _stable_reference(np.abs(values - 0.5), 300))
