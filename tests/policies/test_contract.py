"""Contract tests every low-switch policy passes (UCB, EI, TS; box and candidate set)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
import torch

from lowswitch import Block, InputError, LowSwitchGPEI, LowSwitchGPTS, LowSwitchGPUCB, StateError
from lowswitch.policies.base import LowSwitchPolicy
from lowswitch.policies.config import PolicyConfig

DT = torch.float64
BOUNDS = torch.tensor([[0.0, -1.0], [1.0, 2.0]], dtype=DT)
_g = torch.Generator().manual_seed(3)
CANDIDATES = BOUNDS[0] + (BOUNDS[1] - BOUNDS[0]) * torch.rand(40, 2, generator=_g, dtype=DT)
POLICIES = [LowSwitchGPUCB, LowSwitchGPEI, LowSwitchGPTS]
SMALL: dict[str, Any] = {"num_restarts": 2, "raw_samples": 32, "n_initial": 3}


def make(cls: type[LowSwitchPolicy], space: str, **kw: Any) -> LowSwitchPolicy:
    opts = {**SMALL, **kw}
    if cls is LowSwitchGPTS:
        opts.setdefault("n_discrete", 64)
        opts.setdefault("n_local", 16)
    cands = CANDIDATES if space == "set" else None
    return cls(BOUNDS, candidates=cands, **opts)


def objective(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    value = torch.sin(3 * x[0]) + torch.cos(2 * x[1]) - 0.5 * (x[0] - 0.6) ** 2
    return value + 0.2 * torch.randn(k, generator=gen, dtype=DT)


def drive(opt: LowSwitchPolicy, n: int, gen: torch.Generator) -> list[tuple[list[float], int]]:
    """n ask/tell rounds; returns the (x, repeats) sequence."""
    seq = []
    for _ in range(n):
        b = opt.ask()
        k = min(b.repeats, 5)  # tell at most 5 (partial blocks allowed)
        opt.tell(b.x, objective(b.x, k, gen))
        seq.append((b.x.tolist(), b.repeats))
    return seq


params = pytest.mark.parametrize(
    ("cls", "space"),
    [(c, s) for c in POLICIES for s in ("box", "set")],
    ids=lambda v: v.__name__ if isinstance(v, type) else v,
)


@params
def test_ask_tell_round_trip(cls: type[LowSwitchPolicy], space: str) -> None:
    opt = make(cls, space, seed=0)
    gen = torch.Generator().manual_seed(0)
    told = 0
    for _ in range(7):
        b = opt.ask()
        assert isinstance(b, Block)
        assert b.x.shape == (2,) and b.x.dtype == DT and b.repeats >= 1
        assert bool(((b.x >= BOUNDS[0]) & (b.x <= BOUNDS[1])).all())
        if space == "set":
            assert b.index is not None and torch.equal(CANDIDATES[b.index], b.x)
        else:
            assert b.index is None
        k = min(b.repeats, 4)
        opt.tell(b.x, objective(b.x, k, gen))
        told += k
    assert opt.n_evaluations == told
    assert 1 <= opt.n_unique <= 7 and 1 <= opt.n_switches <= 7
    assert opt.model is not None and opt.model.n_observations == told
    rec = opt.recommend()
    assert rec.shape == (2,)
    assert any(torch.equal(rec, u) for u in opt.model.unique_X)


@params
def test_same_seed_same_suggestions(cls: type[LowSwitchPolicy], space: str) -> None:
    a = drive(make(cls, space, seed=4), 7, torch.Generator().manual_seed(1))
    b = drive(make(cls, space, seed=4), 7, torch.Generator().manual_seed(1))
    assert a == b
    c = drive(make(cls, space, seed=5), 7, torch.Generator().manual_seed(1))
    assert a != c


@params
def test_state_round_trip_continues_identically(cls: type[LowSwitchPolicy], space: str) -> None:
    gen = torch.Generator().manual_seed(2)
    opt = make(cls, space, seed=1, maximize=False)
    drive(opt, 6, gen)
    b = opt.ask()
    opt.tell(b.x, objective(b.x, 1, gen))  # a partial block: saved between tells
    state = json.loads(json.dumps(opt.state_dict()))
    twin = cls.from_state_dict(state)
    assert twin.n_evaluations == opt.n_evaluations and twin.n_switches == opt.n_switches
    assert torch.equal(twin.recommend(), opt.recommend())
    g1 = torch.Generator().manual_seed(9)
    g2 = torch.Generator().manual_seed(9)
    assert drive(opt, 4, g1) == drive(twin, 4, g2)
    assert json.dumps(opt.state_dict()) == json.dumps(twin.state_dict())


@params
def test_partial_blocks_and_out_of_order_tells(cls: type[LowSwitchPolicy], space: str) -> None:
    opt = make(cls, space, seed=2, switch_threshold=4.0)
    gen = torch.Generator().manual_seed(0)
    drive(opt, 5, gen)
    b1, b2 = opt.ask(n_blocks=2)
    opt.tell(b2.x, objective(b2.x, 1, gen))
    opt.tell(b1.x, objective(b1.x, 2, gen))
    opt.tell(b1.x, objective(b1.x, 1, gen))
    n = opt.n_evaluations
    nxt = opt.ask()
    assert nxt.repeats >= 1 and opt.n_evaluations == n


@params
def test_bad_input_leaves_optimiser_unchanged(cls: type[LowSwitchPolicy], space: str) -> None:
    opt = make(cls, space, seed=0)
    drive(opt, 5, torch.Generator().manual_seed(0))
    before = json.dumps(opt.state_dict())
    x = opt.recommend()
    bad_calls: list[Callable[[], object]] = [
        lambda: opt.tell(x[:1], torch.ones(1)),  # wrong x shape
        lambda: opt.tell(x[None], torch.ones(1)),  # (1, d) instead of (d,)
        lambda: opt.tell(x, torch.ones(2, 1)),  # wrong y shape
        lambda: opt.tell(x, torch.ones(0)),  # no observation
        lambda: opt.tell(x, torch.tensor([1.0, float("nan")])),
        lambda: opt.tell(x, torch.tensor([float("inf")])),
        lambda: opt.tell(torch.tensor([float("nan"), 0.0]), torch.ones(1)),
        lambda: opt.tell(torch.tensor([1.5, 0.0]), torch.ones(1)),  # outside bounds
        lambda: opt.tell("abc", torch.ones(1)),
        lambda: opt.ask(n_blocks=0),
        lambda: opt.ask(pending=[(x, 0)]),
        lambda: opt.ask(pending=[(torch.tensor([5.0, 0.0]), 1)]),
        lambda: opt.ask(pending=[x]),
        lambda: opt.load_state_dict({"version": 1, "policy": "Other"}),
        lambda: opt.load_state_dict({**json.loads(before), "data": {"X_fit": [[0.1]]}}),
    ]
    if space == "set":
        off = (CANDIDATES[0] + CANDIDATES[1]) / 2
        bad_calls.append(lambda: opt.tell(off, torch.ones(1)))  # not a candidate
    for call in bad_calls:
        with pytest.raises(InputError):
            call()
        assert json.dumps(opt.state_dict()) == before


@params
def test_threshold_one_never_repeats(cls: type[LowSwitchPolicy], space: str) -> None:
    opt = make(cls, space, seed=0, switch_threshold=1.0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(8):
        for b in opt.ask(n_blocks=2):
            assert b.repeats == 1
            opt.tell(b.x, objective(b.x, 1, gen))


@params
def test_batch_blocks_are_distinct_and_respect_budget(
    cls: type[LowSwitchPolicy], space: str
) -> None:
    opt = make(cls, space, seed=3, budget=40)
    gen = torch.Generator().manual_seed(0)
    drive(opt, 5, gen)
    pending = [(opt.recommend(), 3)]
    blocks = opt.ask(n_blocks=3, pending=pending)
    assert 1 <= len(blocks) <= 3
    xs = {tuple(b.x.tolist()) for b in blocks}
    assert len(xs) == len(blocks)
    assert sum(b.repeats for b in blocks) <= 40 - opt.n_evaluations - 3
    while opt.n_evaluations < 40:
        b = opt.ask()
        assert b.repeats <= 40 - opt.n_evaluations
        opt.tell(b.x, objective(b.x, b.repeats, gen))
    assert opt.n_evaluations == 40
    with pytest.raises(StateError):
        opt.ask()


def test_minimise_finds_low_end_on_a_candidate_grid() -> None:
    grid = torch.linspace(0, 1, 21, dtype=DT).unsqueeze(-1)
    for cls in POLICIES:
        opt = cls(torch.tensor([[0.0], [1.0]], dtype=DT), candidates=grid, maximize=False, seed=0)
        gen = torch.Generator().manual_seed(0)
        for _ in range(12):
            b = opt.ask()
            opt.tell(
                b.x, (b.x - 0.2) ** 2 * 10 + 0.05 * torch.randn(b.repeats, generator=gen, dtype=DT)
            )
        assert abs(float(opt.recommend()[0]) - 0.2) <= 0.15, cls.__name__


def test_constructor_validation() -> None:
    with pytest.raises(InputError, match="bounds"):
        LowSwitchGPUCB(torch.tensor([[1.0], [0.0]]))
    with pytest.raises(InputError, match="bounds"):
        LowSwitchGPUCB(torch.zeros(3, 2))
    with pytest.raises(InputError, match="candidates"):
        LowSwitchGPUCB(BOUNDS, candidates=torch.zeros(3, 3))
    with pytest.raises(InputError, match="candidates"):
        LowSwitchGPUCB(BOUNDS, candidates=torch.tensor([[5.0, 0.0]]))
    with pytest.raises(InputError, match="identical"):
        LowSwitchGPUCB(BOUNDS, candidates=torch.tensor([[0.5, 0.0], [0.5, -0.0]]))
    with pytest.raises(InputError, match="switch_threshold"):
        LowSwitchGPUCB(BOUNDS, switch_threshold=0.5)
    with pytest.raises(InputError, match="seed"):
        LowSwitchGPUCB(BOUNDS, seed=-1)
    with pytest.raises(InputError, match="beta"):
        LowSwitchGPUCB(BOUNDS, beta="wide")
    with pytest.raises(StateError):
        LowSwitchGPUCB(BOUNDS).recommend()


@params
def test_tells_between_asks_update_incrementally_without_refit(
    cls: type[LowSwitchPolicy], space: str
) -> None:
    opt = make(cls, space, seed=0)
    gen = torch.Generator().manual_seed(0)
    drive(opt, 5, gen)
    b = opt.ask()
    model = opt.model
    hyper = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(3):
        opt.tell(b.x, objective(b.x, 2, gen))
    assert opt.model is model  # same object: conditioned in place, not rebuilt
    assert model.n_observations == opt.n_evaluations
    for n, p in model.named_parameters():
        assert torch.equal(p, hyper[n]), n  # no refit between switch boundaries
    opt.ask()  # a switch boundary: refit on everything told
    assert opt.model is not model and opt.model.n_observations == opt.n_evaluations


def test_ucb_candidate_fast_path_equals_hallucinated_copies():
    """Rank-one candidate-variance updates choose the same blocks as model.hallucinate."""
    from lowswitch import LowSwitchGPUCB

    g = torch.Generator().manual_seed(0)
    cands = torch.rand(300, 2, generator=g, dtype=torch.float64)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)

    def f(x):
        return torch.sin(5 * x[0]) * torch.cos(3 * x[1])

    plans = []
    for fast in (True, False):
        opt = LowSwitchGPUCB(bounds, candidates=cands, seed=3, switch_threshold=3.0)
        opt._scores_from_moments = fast
        for i in range(12):
            x = cands[(37 * i) % 300]
            noise = 0.1 * torch.randn(
                2, generator=torch.Generator().manual_seed(i), dtype=torch.float64
            )
            opt.tell(x, f(x) + noise)
        blocks = opt.ask(n_blocks=6, pending=[(cands[5], 3)])
        plans.append([(b.index, b.repeats) for b in blocks])
    assert plans[0] == plans[1]


@pytest.mark.parametrize("space", ["box", "set"])
def test_refit_growth_refits_geometrically_and_round_trips(
    space: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """refit_growth=1.5: a refit only once t >= 1.5 t_last_fit; the model still sees all data."""
    import lowswitch.gp.fit as fit_module

    fitted_at: list[int] = []
    real_fit = fit_module.fit_gp

    def counting_fit(model: Any, **kw: Any) -> Any:
        # a refit fits twice on the same rows (warm start and prior start): count refits
        if not fitted_at or fitted_at[-1] != int(model.n_observations):
            fitted_at.append(int(model.n_observations))
        return real_fit(model, **kw)

    monkeypatch.setattr(fit_module, "fit_gp", counting_fit)
    gen = torch.Generator().manual_seed(5)
    opt = make(LowSwitchGPUCB, space, seed=3, switch_threshold=1.0, refit_growth=1.5)
    drive(opt, 20, gen)
    assert opt.n_evaluations == 20 and opt.model.n_observations == 20
    assert len(fitted_at) >= 2
    assert all(b >= 1.5 * a for a, b in itertools.pairwise(fitted_at))
    every = make(LowSwitchGPUCB, space, seed=3, switch_threshold=1.0, refit_growth=1.0)
    fitted_at.clear()
    drive(every, 20, torch.Generator().manual_seed(5))
    assert len(fitted_at) == 20 - 3  # every ask after the 3-point design
    # the state keeps the rows told since the last fit; a restored twin continues identically
    state = json.loads(json.dumps(opt.state_dict()))
    assert state["config"]["refit_growth"] == 1.5 and state["data"]["chunks"]
    twin = LowSwitchGPUCB.from_state_dict(state)
    g1, g2 = torch.Generator().manual_seed(8), torch.Generator().manual_seed(8)
    assert drive(opt, 6, g1) == drive(twin, 6, g2)


@pytest.mark.parametrize(("cls", "growth"), [(LowSwitchGPEI, 1.0), (LowSwitchGPUCB, 1.0),
                                             (LowSwitchGPTS, 1.1)])
def test_refit_growth_default_is_the_acquisitions(cls: type, growth: float) -> None:
    """None (the default) takes the class's ``default_refit_growth``, stated in the config
    and in the saved state, so a restored policy keeps its schedule; a given value wins."""
    opt = cls(BOUNDS, seed=0)
    assert PolicyConfig().refit_growth is None
    assert opt.refit_growth == cls.default_refit_growth == growth
    assert opt.config.refit_growth == growth
    assert opt.state_dict()["config"]["refit_growth"] == growth
    assert cls(BOUNDS, seed=0, refit_growth=1.3).refit_growth == 1.3
    assert cls(BOUNDS, config=PolicyConfig(refit_growth=1.0)).refit_growth == 1.0


def test_ts_state_keeps_the_pool_and_refit_schedule_it_was_saved_with() -> None:
    """States store the pool options and refit_growth explicitly: one saved under the
    earlier defaults (1,024 + 512, a refit at every switch) restores with them."""
    state = json.loads(json.dumps(LowSwitchGPTS(BOUNDS, seed=0).state_dict()))
    cfg = state["config"]
    assert (cfg["n_discrete"], cfg["n_local"], cfg["refit_growth"]) == (512, 256, 1.1)
    cfg.update(n_discrete=1024, n_local=512, refit_growth=1.0)
    twin = LowSwitchGPTS.from_state_dict(state)
    assert (twin.n_discrete, twin.n_local, twin.refit_growth) == (1024, 512, 1.0)


@pytest.mark.parametrize("bad", [0.5, float("nan"), "often", 0])
def test_refit_growth_validation(bad: Any) -> None:
    with pytest.raises(InputError, match="refit_growth"):
        LowSwitchGPUCB(BOUNDS, refit_growth=bad)
