"""Smoke and bookkeeping tests of ``python -m lowswitch.benchmark gp --scale``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lowswitch import UniquePointGP
from lowswitch.benchmark.gp_scale import _check_exact, chunks, floor_xy, floor_y, run_cell


def test_chunks_are_prefixes_of_one_stream_and_floors_reduce_them():
    whole = next(chunks(3_000, 7, 3_000, seed=1))
    parts = list(chunks(3_000, 7, 1_000, seed=1))
    assert len(parts) == 3
    # the first chunk is the prefix of the stream with one chunk (same draws)
    assert np.array_equal(parts[0][0], whole[0][:1_000])
    idx, X, y = whole
    n, s, ss, *cols = floor_xy(idx, X, y, 7)
    assert n.sum() == 3_000 and len(cols) == 6
    for g in range(7):
        rows = idx == g
        assert s[g] == pytest.approx(y[rows].sum()) and ss[g] == pytest.approx((y[rows] ** 2).sum())
        assert cols[0][g] == pytest.approx(X[rows, 0].sum())
    assert all(np.array_equal(a, b) for a, b in zip(floor_y(idx, y, 7), (n, s, ss), strict=True))


def test_exactness_check_catches_a_wrong_model():
    idx, X, y = next(chunks(500, 5, 500, seed=2))
    U = np.random.default_rng(2).random((5, 6))
    n, s, _ = floor_y(idx, y, 5)
    model = UniquePointGP(torch.from_numpy(X), torch.from_numpy(y))
    _check_exact(model, n, s, U)
    with pytest.raises(AssertionError, match="means"):
        _check_exact(model, n, s + 1.0, U)
    with pytest.raises(AssertionError, match="counts"):
        _check_exact(model, n + 1, s, U)


@pytest.mark.parametrize("t", [4_000, 20_000])
def test_cell_in_memory_and_streamed(t):
    rec = run_cell(t, 10, chunk=5_000, in_memory_max=5_000, reps=1, m=20, seed=0)
    assert rec["streamed"] == (t > 5_000)
    for key in ("construct", "floor_xy", "floor_y", "fit", "posterior", "peak_rss_mb"):
        assert rec[key] > 0
    assert rec["ratio_xy"] == pytest.approx(rec["construct"] / rec["floor_xy"])
    if rec["streamed"]:
        assert rec["prefix_exact"] is True
    else:
        assert rec["stats"] > 0
