"""Refits: warm start always, the prior-mode restart on a schedule of the unique points.

The restart from the prior's default hyperparameters is what keeps a refit from staying
where a smaller data set left it; it runs at the first fit and whenever the number of
unique points crosses a power of ``COLD_START_GROWTH`` (measured: at every refit it cost
about 45 % of the refit time).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import lowswitch.gp.fit as fit_module
from lowswitch import LowSwitchGPEI
from lowswitch.policies import holder as holder_module
from lowswitch.policies.holder import ModelHolder, cold_start_due

D = torch.float64


@pytest.mark.parametrize("growth", [1.25, 1.5, 2.0])
def test_cold_start_due_exactly_when_a_power_of_the_growth_is_crossed(growth: float) -> None:
    for q_fit in range(1, 60):
        for q_new in range(q_fit, 80):
            crossed = any(q_fit < growth**k <= q_new + 1e-9 for k in range(0, 40))
            # a power that lands exactly on q_fit was crossed at the previous fit
            assert cold_start_due(q_fit, q_new, growth) == crossed, (q_fit, q_new)


def _run_and_log_starts(monkeypatch: pytest.MonkeyPatch, growth: float) -> list[tuple[int, int]]:
    """(unique points at the refit, number of fit_gp starts) for each refit of a short run."""
    calls: list[bool] = []
    real = fit_module.fit_gp

    def spy(model: Any, **kwargs: Any) -> Any:
        calls.append(bool(kwargs.get("noise_from_replicates", True)))
        return real(model, **kwargs)

    monkeypatch.setattr(fit_module, "fit_gp", spy)
    monkeypatch.setattr(holder_module, "COLD_START_GROWTH", growth)
    log: list[tuple[int, int]] = []
    real_refit = ModelHolder.refit

    def refit(self: ModelHolder, seed: int, n_asks: int) -> None:
        before = len(calls)
        X, _ = self.rows()
        real_refit(self, seed, n_asks)
        log.append((int(torch.unique(X, dim=0).shape[0]), len(calls) - before))

    monkeypatch.setattr(ModelHolder, "refit", refit)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D)
    opt = LowSwitchGPEI(bounds, seed=4, switch_threshold=1.0, num_restarts=2, raw_samples=32)
    noise = torch.Generator().manual_seed(0)
    while opt.n_evaluations < 30:
        b = opt.ask()
        y = -((b.x - 0.4) ** 2).sum() + 0.05 * torch.randn(b.repeats, generator=noise, dtype=D)
        opt.tell(b.x, y)
    return log


def test_prior_mode_restart_runs_on_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _run_and_log_starts(monkeypatch, 1.5)
    assert log[0][1] == 1  # the first fit: the prior's default start only
    q_prev = log[0][0]
    for q, starts in log[1:]:
        due = math.floor(math.log(q) / math.log(1.5) + 1e-12) > math.floor(
            math.log(q_prev) / math.log(1.5) + 1e-12
        )
        assert starts == (2 if due else 1), (q_prev, q, starts)
        q_prev = q
    assert any(s == 1 for _, s in log[1:]) and any(s == 2 for _, s in log[1:])


def test_growth_one_restarts_from_the_prior_at_every_refit(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _run_and_log_starts(monkeypatch, 1.0)
    assert [s for _, s in log[1:]] == [2] * (len(log) - 1)
