"""GP-TS's ``sampler`` option: an exact joint draw over the pool, or one Matheron path."""

from __future__ import annotations

import pytest
import torch

from lowswitch import LowSwitchGPTS, UniquePointGP
from lowswitch.errors import InputError
from lowswitch.policies.ts import path_sample

D = torch.float64
BOUNDS = torch.tensor([[-2.0, 0.0], [2.0, 5.0]], dtype=D)


def _run(sampler: str, seed: int = 1, n: int = 24) -> list[tuple[list[float], int]]:
    opt = LowSwitchGPTS(BOUNDS, seed=seed, sampler=sampler, n_discrete=128, n_local=64)
    noise = torch.Generator().manual_seed(5)
    out = []
    while opt.n_evaluations < n:
        b = opt.ask()
        out.append((b.x.tolist(), b.repeats))
        y = -(b.x[0] - 0.5) ** 2 - 0.1 * (b.x[1] - 2.0) ** 2
        opt.tell(b.x, y + 0.1 * torch.randn(b.repeats, generator=noise, dtype=D))
    return out


def test_pathwise_runs_are_reproducible_and_leave_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = _run("pathwise")
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(999)  # a different global state changes nothing
    assert _run("pathwise") == first
    assert _run("pathwise", seed=2) != first


def test_sampler_is_kept_in_the_state_and_checked() -> None:
    opt = LowSwitchGPTS(BOUNDS, seed=0, sampler="pathwise")
    b = opt.ask()
    opt.tell(b.x, torch.zeros(b.repeats, dtype=D))
    restored = LowSwitchGPTS.from_state_dict(opt.state_dict())
    assert restored.sampler == "pathwise"
    assert LowSwitchGPTS(BOUNDS).sampler == "exact"
    with pytest.raises(InputError, match="sampler: expected one of"):
        LowSwitchGPTS(BOUNDS, sampler="rff")


def test_path_samples_have_the_posterior_law() -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(6, 2, generator=g, dtype=D).repeat(3, 1)
    Y = torch.sin(4 * X).sum(-1, keepdim=True) + 0.1 * torch.randn(18, 1, generator=g, dtype=D)
    model = UniquePointGP(X, Y).eval()
    P = torch.rand(5, 2, generator=g, dtype=D)
    post = model.posterior(P)
    mean, sd = post.mean.reshape(-1), post.variance.reshape(-1).sqrt()
    gen = torch.Generator().manual_seed(1)
    draws = torch.stack([path_sample(model, P, gen) for _ in range(400)])
    # 400 draws: the standard error of the mean is 0.05 sd, of the variance ratio ~0.07
    assert float(((draws.mean(0) - mean) / sd).abs().max()) < 0.25
    ratio = draws.var(0) / sd**2
    assert float(ratio.min()) > 0.7 and float(ratio.max()) < 1.4
