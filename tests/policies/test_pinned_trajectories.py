"""Trajectories of UCB / EI / TS pinned, so that refactors cannot move them.

``pinned_trajectories.json`` holds every block's point (as ``float.hex``), repeats and
candidate row, then the recommendation, on a noisy 2-d problem (box and 6 x 6 grid, one
block per ask and batches of two, a switch-cost run). EI runs with ``ei_variant="plain"``.

First recorded at 6d29f8b (before ``PolicyConfig``, the registry and the split of
``base.py``), which the refactor reproduced bit for bit. Re-recorded once, on purpose, when
the refits changed (the prior-mode restart only when the unique points cross a power of
``COLD_START_GROWTH``; the warm start optimised jointly) and single-point posteriors came
straight from the factor (same values to rounding, so optimiser paths move in the last
bits). Candidate-set runs are compared bit for bit; box runs, whose L-BFGS-B paths amplify
the CPU's BLAS rounding, to ``BOX_TOLERANCE``. Re-record only for a change of the maths,
never to make a refactor pass: ``python tests/policies/test_pinned_trajectories.py``
rewrites the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lowswitch.policies import PolicyConfig, get_policy

_PINNED = json.loads((Path(__file__).parent / "pinned_trajectories.json").read_text())
_BOUNDS = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
_GRID = torch.cartesian_prod(*[torch.linspace(0, 1, 6, dtype=torch.float64)] * 2)
_OPTIONS: dict[str, dict[str, Any]] = {
    "ucb": {}, "ei": {"ei_variant": "plain"}, "ts": {"n_discrete": 64, "n_local": 16},
}


def _f(x: torch.Tensor) -> float:
    return -float(((x - 0.3) ** 2).sum()) + 0.5 * float(torch.sin(5 * x).sum())


def _run(name: str, cands: torch.Tensor | None, threshold: float, n_blocks: int | None,
         options: dict[str, Any], via_config: bool, **extra: Any) -> list[Any]:
    cls = get_policy(name)
    settings = dict(switch_threshold=threshold, seed=3, num_restarts=2, raw_samples=32,
                    budget=40, **extra)
    if via_config:
        opt = cls(_BOUNDS, candidates=cands, config=PolicyConfig(**settings, options=options))
    else:
        opt = cls(_BOUNDS, candidates=cands, **settings, **options)
    noise = torch.Generator().manual_seed(11)
    out: list[Any] = []
    while opt.n_evaluations < 40:
        blocks = opt.ask(n_blocks=n_blocks) if n_blocks else [opt.ask()]
        for b in blocks:
            out.append([[v.hex() for v in b.x.tolist()], b.repeats, b.index])
            y = _f(b.x) + 0.1 * torch.randn(b.repeats, generator=noise, dtype=torch.float64)
            opt.tell(b.x, y)
    out.append([v.hex() for v in opt.recommend().tolist()])
    return out


#: How far a box trajectory's points may sit from the pinned ones. L-BFGS-B amplifies
#: last-bit differences of the CPU's BLAS kernels: on a second machine type, with the same
#: libraries, the UCB and EI box runs moved by up to 8.9e-10 (same blocks, repeats and
#: order); candidate-set runs stayed bit-identical. A change of the maths moves points by
#: far more than this.
BOX_TOLERANCE = 1e-7


def _assert_close_trajectory(got: list[Any], want: list[Any]) -> None:
    """Same blocks (repeats, candidate rows) and points within ``BOX_TOLERANCE``."""
    assert len(got) == len(want)
    for g, w in zip(got[:-1], want[:-1], strict=True):
        assert g[1:] == w[1:]
        gx, wx = [float.fromhex(v) for v in g[0]], [float.fromhex(v) for v in w[0]]
        assert gx == pytest.approx(wx, abs=BOX_TOLERANCE, rel=0)
    rec = [float.fromhex(v) for v in got[-1]]
    assert rec == pytest.approx([float.fromhex(v) for v in want[-1]], abs=BOX_TOLERANCE, rel=0)


@pytest.mark.parametrize("name", ["ucb", "ei", "ts"])
def test_trajectories_match_the_pinned_ones(name: str) -> None:
    opts = _OPTIONS[name]
    _assert_close_trajectory(_run(name, None, 2.0, None, opts, via_config=False),
                             _PINNED[f"{name}-box-C2"])
    assert _run(name, _GRID, 2.0, 2, opts, via_config=True) == _PINNED[f"{name}-cand-C2-nb2"]


def test_box_tolerance_catches_a_moved_point() -> None:
    want = _PINNED["ucb-box-C2"]
    moved = [list(b) for b in want]
    x = float.fromhex(moved[3][0][0])
    moved[3] = [[(x + 10 * BOX_TOLERANCE).hex(), *moved[3][0][1:]], *moved[3][1:]]
    with pytest.raises(AssertionError):
        _assert_close_trajectory(moved, want)
    _assert_close_trajectory(want, want)


def test_switch_cost_trajectory_is_bit_identical_to_the_pinned_one() -> None:
    got = _run("ucb", _GRID, 1.5, None, {"beta": 2.0}, via_config=True, switch_cost=2.0)
    assert got == _PINNED["ucb-cand-C1-cost"]


def _record() -> dict[str, Any]:
    out = {}
    for name, opts in _OPTIONS.items():
        out[f"{name}-box-C2"] = _run(name, None, 2.0, None, opts, via_config=False)
        out[f"{name}-cand-C2-nb2"] = _run(name, _GRID, 2.0, 2, opts, via_config=True)
    out["ucb-cand-C1-cost"] = _run(
        "ucb", _GRID, 1.5, None, {"beta": 2.0}, via_config=True, switch_cost=2.0
    )
    return out


if __name__ == "__main__":  # re-record (see the module docstring)
    path = Path(__file__).parent / "pinned_trajectories.json"
    path.write_text(json.dumps(_record(), indent=1) + "\n")
