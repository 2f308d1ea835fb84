"""Refits: warm start always, the prior-mode restart on a schedule of the unique points.

The restart from the prior's default hyperparameters is what keeps a refit from staying
where a smaller data set left it; it runs at the first fit and whenever the number of
unique points crosses a power of ``COLD_START_GROWTH`` (measured: at every refit it cost
about 45 % of the refit time).
"""

from __future__ import annotations

import copy
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

    def refit(self: ModelHolder, seed: int, n_asks: int, ftol: float = fit_module.FTOL) -> None:
        before = len(calls)
        X, _ = self.rows()
        real_refit(self, seed, n_asks, ftol)
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


def test_a_refit_model_is_bit_identical_to_the_one_a_restore_builds() -> None:
    """The fitted model is kept, not rebuilt; a restored policy rebuilds it from the rows
    and hyperparameters, so the two must hold the same factor and parameters, bit for bit,
    also after later tells (incremental updates)."""
    g = torch.Generator().manual_seed(7)
    h = ModelHolder(torch.tensor([[-2.0, 0.0], [3.0, 50.0]], dtype=D))
    X = torch.tensor([[-2.0, 0.0], [3.0, 50.0]], dtype=D)[0] + torch.tensor(
        [[5.0, 50.0]], dtype=D) * torch.rand(9, 2, generator=g, dtype=D)
    X = torch.cat([X, X[:4]])
    h.add(X, torch.sin(X[:, 0]) + 0.1 * torch.randn(13, generator=g, dtype=D))
    for n_asks in range(3):  # the first fit, then warm refits (one with the prior restart)
        h.refit(seed=1, n_asks=n_asks)
        assert h.hyper is not None
        rebuilt = h.build(*h.rows(), h.hyper)
        rebuilt.factorize()
        kept = copy.deepcopy(h.model)
        extra = torch.rand(2, 2, generator=g, dtype=D) * torch.tensor([5.0, 50.0], dtype=D)
        for model in (kept, rebuilt):
            model.add_observations(torch.cat([extra, X[:1]]), torch.ones(3, 1, dtype=D))
        mine, ref = kept._get_cache(), rebuilt._get_cache()
        for name in ("U", "s", "L", "alpha"):
            assert torch.equal(getattr(mine, name), getattr(ref, name)), name
        for (k, a), (_, b) in zip(kept.state_dict().items(), rebuilt.state_dict().items(),
                                  strict=True):
            assert torch.equal(a, b), k
        h.add(extra, torch.zeros(2, dtype=D))  # new rows for the next refit


@pytest.mark.parametrize("tol", [None, 1e-3])
def test_the_fit_tolerance_reaches_every_fit(monkeypatch: pytest.MonkeyPatch,
                                             tol: float | None) -> None:
    seen: list[float] = []
    real = fit_module.fit_gp

    def spy(model: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["ftol"])
        return real(model, **kwargs)

    monkeypatch.setattr(fit_module, "fit_gp", spy)
    bounds = torch.tensor([[0.0], [1.0]], dtype=D)
    opt = LowSwitchGPEI(bounds, seed=2, switch_threshold=1.0, num_restarts=2, raw_samples=16,
                        fit_tolerance=tol)
    for _ in range(6):
        b = opt.ask()
        opt.tell(b.x, -(b.x[0] - 0.3) ** 2 + 0.01 * torch.zeros(b.repeats, dtype=D))
    expected = fit_module.FTOL if tol is None else tol
    assert seen and set(seen) == {expected}
    assert opt.config.fit_tolerance == expected
