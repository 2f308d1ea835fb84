"""Factor updates against fresh factorisations."""

from __future__ import annotations

import pytest
import torch

from lowswitch.gp.linalg import append_rows, cholesky_psd, scale_row_and_downdate

DT = torch.float64


def spd(q: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    B = torch.randn(q, q, generator=g, dtype=DT)
    return torch.eye(q, dtype=DT) + B @ B.T / q


@pytest.mark.parametrize("i", [0, 3, 7])
@pytest.mark.parametrize("c", [1.0001, 1.5, 9.0])
def test_scale_row_and_downdate(i, c):
    A = spd(8, i)
    C = torch.ones(8, dtype=DT)
    C[i] = c
    target = C[:, None] * A * C[None, :]
    target[i, i] += 1 - c * c
    L = scale_row_and_downdate(torch.linalg.cholesky(A), i, c)
    torch.testing.assert_close(L, torch.linalg.cholesky(target), rtol=1e-10, atol=1e-12)


def test_append_rows():
    A = spd(9, 1)
    L = append_rows(torch.linalg.cholesky(A[:6, :6]), A[6:, :6], A[6:, 6:])
    torch.testing.assert_close(L, torch.linalg.cholesky(A), rtol=1e-10, atol=1e-12)


def test_cholesky_psd_adds_jitter_on_singular():
    v = torch.randn(5, 1, dtype=DT, generator=torch.Generator().manual_seed(0))
    L = cholesky_psd(v @ v.T)  # rank one
    assert bool(torch.isfinite(L).all())
    with pytest.raises(torch.linalg.LinAlgError):
        cholesky_psd(-torch.eye(3, dtype=DT))
