"""UniqueStats against hand-computed per-point moments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lowswitch import InputError, UniqueStats
from lowswitch.gp import grouping as grouping_module
from lowswitch.gp import stats as stats_module
from lowswitch.gp.stats import canonicalize, group_rows, merge_moments

DT = torch.float64


def reference(X, Y, Yvar=None):
    out = {}
    for x, y, v in zip(
        X.tolist(), Y.tolist(), [None] * len(Y) if Yvar is None else Yvar.tolist(), strict=True
    ):
        out.setdefault(tuple(x), []).append((y, v))
    return out


def test_matches_hand_counts_in_first_seen_order():
    g = torch.Generator().manual_seed(0)
    U = torch.rand(6, 2, generator=g, dtype=DT)
    idx = torch.randint(0, 6, (50,), generator=g)
    X, Y = U[idx], 1e6 + torch.randn(50, generator=g, dtype=DT)  # far-from-zero mean
    s = UniqueStats(X, Y)
    ref = reference(X, Y)
    assert [tuple(r) for r in s.X.tolist()] == list(ref)  # first-seen order
    for i, key in enumerate(ref):
        ys = torch.tensor([y for y, _ in ref[key]], dtype=DT)
        assert s.n[i] == len(ys)
        assert s.mean[i].item() == pytest.approx(ys.mean().item(), rel=1e-15)
        assert s.m2[i].item() == pytest.approx(((ys - ys.mean()) ** 2).sum().item(), rel=1e-9)


def test_streaming_equals_batch():
    g = torch.Generator().manual_seed(1)
    U = torch.rand(4, 3, generator=g, dtype=DT)
    idx = torch.randint(0, 4, (40,), generator=g)
    X, Y = U[idx], torch.randn(40, generator=g, dtype=DT)
    V = 0.1 + torch.rand(40, generator=g, dtype=DT)
    batch = UniqueStats(X, Y, V)
    stream = UniqueStats(X[:1], Y[:1], V[:1])
    for i in range(1, 40):
        rows = stream.add(X[i : i + 1], Y[i : i + 1], V[i : i + 1])
        assert torch.equal(stream.X[rows[0]], X[i])
    order = [stream.index_of(x) for x in batch.X]
    for name in ("n", "mean", "m2", "W", "wmean", "wm2", "logvar"):
        torch.testing.assert_close(
            getattr(stream, name)[order], getattr(batch, name), rtol=1e-10, atol=1e-12
        )


def test_weighted_moments_by_hand():
    X = torch.zeros(3, 1, dtype=DT)
    Y = torch.tensor([1.0, 2.0, 4.0], dtype=DT)
    V = torch.tensor([1.0, 0.5, 0.25], dtype=DT)
    s = UniqueStats(X, Y, V)
    w = 1 / V
    wbar = (w * Y).sum() / w.sum()
    assert s.W.item() == pytest.approx(w.sum().item())
    assert s.wmean.item() == pytest.approx(wbar.item())
    assert s.wm2.item() == pytest.approx((w * (Y - wbar) ** 2).sum().item())
    assert s.logvar.item() == pytest.approx(V.log().sum().item())


def test_total_moments_equal_raw_rows():
    g = torch.Generator().manual_seed(2)
    X = torch.randint(0, 5, (200, 1), generator=g).double()
    Y = torch.randn(200, generator=g, dtype=DT) * 3 + 7
    t, mean, ss = UniqueStats(X, Y).total_moments()
    assert t == 200
    assert mean == pytest.approx(Y.mean().item(), rel=1e-14)
    assert ss == pytest.approx(((Y - Y.mean()) ** 2).sum().item(), rel=1e-12)


def test_merge_is_chan():
    a = torch.tensor([1.0, 2.0, 3.0], dtype=DT)
    b = torch.tensor([10.0, 20.0], dtype=DT)
    both = torch.cat([a, b])
    n, mean, m2 = merge_moments(
        torch.tensor([3.0], dtype=DT),
        a.mean().reshape(1),
        ((a - a.mean()) ** 2).sum().reshape(1),
        torch.tensor([2.0], dtype=DT),
        b.mean().reshape(1),
        ((b - b.mean()) ** 2).sum().reshape(1),
    )
    assert n.item() == 5
    assert mean.item() == pytest.approx(both.mean().item())
    assert m2.item() == pytest.approx(((both - both.mean()) ** 2).sum().item())


def test_canonical_negative_zero_and_mixed_noise_error():
    assert torch.equal(canonicalize(torch.tensor([[-0.0]])), torch.tensor([[0.0]], dtype=DT))
    s = UniqueStats(torch.zeros(1, 1), torch.zeros(1))
    with pytest.raises(InputError, match="Yvar"):
        s.add(torch.zeros(1, 1), torch.zeros(1), torch.ones(1))


def test_counts_equal_materialised_rows():
    g = torch.Generator().manual_seed(5)
    X0 = torch.rand(3, 2, generator=g, dtype=DT)
    Y0 = torch.randn(3, generator=g, dtype=DT)
    V0 = 0.1 + torch.rand(3, generator=g, dtype=DT)
    x = torch.cat([X0[:1], torch.rand(1, 2, generator=g, dtype=DT), X0[:1]])
    y = torch.tensor([0.3, -1.0, 2.0], dtype=DT)
    v = torch.tensor([0.2, 0.5, 0.4], dtype=DT)
    c = torch.tensor([4, 2, 3])
    a = UniqueStats(X0, Y0, V0)
    a.add(x, y, v, counts=c)
    b = UniqueStats(X0, Y0, V0)
    rows = torch.repeat_interleave(torch.arange(3), c)
    b.add(x[rows], y[rows], v[rows])
    for name in ("X", "n", "mean", "m2", "W", "wmean", "wm2", "logvar"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------- O(t) grouping by hashed rows
def _reference_groups(X):
    """First-seen unique canonical rows and the inverse, by a Python dict of bytes."""
    Xc = canonicalize(X)
    first, inverse = {}, []
    for row in Xc:
        inverse.append(first.setdefault(row.numpy().tobytes(), len(first)))
    rows = {i: key for key, i in first.items()}
    U = torch.stack([torch.frombuffer(bytearray(rows[i]), dtype=DT) for i in range(len(rows))])
    return U, torch.tensor(inverse)


@pytest.mark.parametrize("d", [1, 3, 7])
def test_group_rows_matches_dict_reference_with_signed_zeros_and_grids(d):
    g = torch.Generator().manual_seed(d)
    # integer grid (exponent-only bit differences), 1-ulp neighbours and signed zeros
    U = torch.randint(-3, 4, (40, d), generator=g).double()
    U[:5] = torch.nextafter(U[:5], torch.full_like(U[:5], 10.0))
    U[5:10] = -U[5:10]  # turns 0.0 into -0.0 in some entries
    idx = torch.randint(0, 40, (3_000,), generator=g)
    X = U[idx]
    got_U, got_inv = group_rows(X)
    ref_U, ref_inv = _reference_groups(X)
    assert torch.equal(got_U.view(torch.int64), ref_U.view(torch.int64))  # bitwise, order
    assert torch.equal(got_inv, ref_inv)
    assert not bool((got_U.view(torch.int64) == torch.iinfo(torch.int64).min).any())  # no -0.0


def test_hash_collisions_never_merge_rows(monkeypatch):
    g = torch.Generator().manual_seed(3)
    U = torch.rand(30, 2, generator=g, dtype=DT)
    X = U[torch.randint(0, 30, (500,), generator=g)]
    Y = torch.randn(500, generator=g, dtype=DT)
    honest = UniqueStats(X, Y)

    # every row gets the same key: the exact checks must notice, retry and fall back
    def same_key(A, seed=0):
        return np.zeros(len(A), np.uint64)

    monkeypatch.setattr(grouping_module, "row_keys", same_key)  # grouping a batch
    monkeypatch.setattr(stats_module, "row_keys", same_key)  # looking up stored rows
    U_c, inv_c = group_rows(X)
    ref_U, ref_inv = _reference_groups(X)
    assert torch.equal(U_c, ref_U) and torch.equal(inv_c, ref_inv)
    colliding = UniqueStats(X[:250], Y[:250])
    colliding.add(X[250:], Y[250:])
    assert colliding.index_of(X[7]) == honest.index_of(X[7])
    assert colliding.index_of(torch.full((2,), 5.0, dtype=DT)) is None
    for name in ("X", "n", "mean", "m2"):
        torch.testing.assert_close(getattr(colliding, name), getattr(honest, name))


def test_add_appends_new_points_in_first_seen_order_like_one_build():
    g = torch.Generator().manual_seed(4)
    U = torch.rand(50, 3, generator=g, dtype=DT)
    X = U[torch.randint(0, 50, (2_000,), generator=g)]
    Y = torch.randn(2_000, generator=g, dtype=DT) + 1e6
    whole = UniqueStats(X, Y)
    parts = UniqueStats(X[:100], Y[:100])
    rows = parts.add(X[100:], Y[100:])
    assert torch.equal(parts.X, whole.X)  # the old add appended new points sorted
    assert torch.equal(parts.X[rows], canonicalize(X[100:]))
    for name in ("n", "mean", "m2"):
        torch.testing.assert_close(
            getattr(parts, name), getattr(whole, name), rtol=1e-12, atol=1e-6
        )


@pytest.mark.parametrize("heteroscedastic", [False, True])
def test_from_chunks_and_merge_equal_one_build(heteroscedastic):
    g = torch.Generator().manual_seed(6)
    U = torch.rand(200, 4, generator=g, dtype=DT)
    t = 100_000
    X = U[torch.randint(0, 200, (t,), generator=g)]
    Y = 3.0 + torch.randn(t, generator=g, dtype=DT)
    V = 0.1 + torch.rand(t, generator=g, dtype=DT) if heteroscedastic else None
    whole = UniqueStats(X, Y, V)

    def chunks():
        for s in range(0, t, 7_000):
            yield (X[s : s + 7_000], Y[s : s + 7_000], None if V is None else V[s : s + 7_000])

    streamed = UniqueStats.from_chunks(chunks())
    left = UniqueStats(X[: t // 2], Y[: t // 2], None if V is None else V[: t // 2])
    right = UniqueStats(X[t // 2 :], Y[t // 2 :], None if V is None else V[t // 2 :])
    left.merge(right)
    names = ["n", "mean", "m2"] + (["W", "wmean", "wm2", "logvar"] if heteroscedastic else [])
    for other in (streamed, left):
        assert torch.equal(other.X, whole.X)
        assert torch.equal(other.n, whole.n)
        for name in names:
            torch.testing.assert_close(
                getattr(other, name), getattr(whole, name), rtol=1e-12, atol=0
            )


def test_from_chunks_and_merge_refuse_bad_input():
    with pytest.raises(InputError, match="at least one chunk"):
        UniqueStats.from_chunks([])
    with pytest.raises(InputError, match=r"tuples \(X, Y\)"):
        UniqueStats.from_chunks([torch.zeros(2, 1)])
    a = UniqueStats(torch.zeros(1, 1), torch.zeros(1))
    with pytest.raises(InputError, match="d=1"):
        a.merge(UniqueStats(torch.zeros(1, 2), torch.zeros(1)))


@pytest.mark.parametrize("heteroscedastic", [False, True])
def test_construction_in_internal_chunks_equals_one_piece(monkeypatch, heteroscedastic):
    g = torch.Generator().manual_seed(8)
    U = torch.rand(30, 2, generator=g, dtype=DT)
    X = U[torch.randint(0, 30, (1_000,), generator=g)]
    Y = torch.randn(1_000, generator=g, dtype=DT) - 5e5
    V = 0.1 + torch.rand(1_000, generator=g, dtype=DT) if heteroscedastic else None
    whole = UniqueStats(X, Y, V)
    monkeypatch.setattr(stats_module, "_CHUNK_ROWS", 7)  # 143 internal chunks
    pieces = UniqueStats(X, Y, V)
    assert torch.equal(pieces.X, whole.X) and torch.equal(pieces.n, whole.n)
    names = ["mean", "m2"] + (["W", "wmean", "wm2", "logvar"] if heteroscedastic else [])
    for name in names:  # merged sums of squares lose a few digits to the mean's rounding
        rtol = 1e-9 if name in ("m2", "wm2") else 1e-12
        torch.testing.assert_close(getattr(pieces, name), getattr(whole, name), rtol=rtol, atol=0)
