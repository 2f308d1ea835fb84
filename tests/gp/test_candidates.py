"""CandidatePosterior against chains of model.hallucinate."""

from __future__ import annotations

import pytest
import torch

from lowswitch import UniquePointGP
from lowswitch.gp.candidates import CandidatePosterior

DT = torch.float64


@pytest.mark.parametrize("known_noise", [False, True])
def test_rank_one_updates_equal_hallucinated_models(known_noise):
    g = torch.Generator().manual_seed(0)
    U = torch.rand(6, 2, generator=g, dtype=DT)
    X = U.repeat(3, 1)
    Y = torch.sin(4 * X).sum(-1, keepdim=True) + 0.2 * torch.randn(18, 1, generator=g, dtype=DT)
    V = 0.05 + 0.1 * torch.rand(18, 1, generator=g, dtype=DT) if known_noise else None
    model = UniquePointGP(X, Y, V)
    with torch.no_grad():
        model.covar_module.lengthscale = torch.tensor([[0.3, 0.5]], dtype=DT)
    model.clear_cache()
    cands = torch.cat([torch.rand(40, 2, generator=g, dtype=DT), U[:2]])  # incl. known points
    cp = CandidatePosterior(model, cands)
    torch.testing.assert_close(
        cp.mean, model.posterior(cands).mean.reshape(-1), rtol=1e-9, atol=1e-10
    )
    ref = model
    for index, count in [(3, 2), (40, 5), (3, 1), (17, 1000)]:
        cp.hallucinate(index, count)
        ref = ref.hallucinate(cands[index : index + 1], [count])
        post = ref.posterior(cands)
        torch.testing.assert_close(cp.variance, post.variance.reshape(-1), rtol=1e-8, atol=1e-12)
        torch.testing.assert_close(cp.mean, post.mean.reshape(-1), rtol=1e-8, atol=1e-10)
