"""Maximising an acquisition function over a box, in the box's own units.

The policies' continuous search: score scrambled-Sobol points and the evaluated unique
points, start L-BFGS-B (BoTorch ``optimize_acqf``) from the best of them *on the unit cube*
(the optimiser's tolerances and first steps are not scale invariant, so the same decisions
come out, up to rounding, on any affine image of the box), and return an evaluated point
exactly when it scores at least as high as the optimiser's answer (a repeat).
"""

from __future__ import annotations

import math

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim import optimize_acqf
from torch import Tensor
from torch.quasirandom import SobolEngine

from lowswitch.policies.checks import canonical, row_key

_DTYPE = torch.float64


def maximize_on_box(
    acq: AcquisitionFunction,
    bounds: Tensor,
    unique_X: Tensor,
    raw_samples: int,
    num_restarts: int,
    generator: torch.Generator,
    exclude_x: list[Tensor],
) -> tuple[Tensor, None]:
    """Best point of ``acq`` in the box ``bounds`` ``(2, d)``, avoiding ``exclude_x``.

    Args:
        acq: analytic acquisition on inputs in the box's units.
        bounds: ``(2, d)`` lower and upper bounds.
        unique_X: ``(q, d)`` evaluated points, scored and returned exactly if best.
        raw_samples: Sobol points scored to choose the starts.
        num_restarts: L-BFGS-B starts.
        generator: seeds the Sobol sequence.
        exclude_x: points already chosen in this batch (each ``(d,)``).

    Returns:
        ``(x (d,), None)`` (``None``: no candidate index on a continuous box).
    """
    taken = {row_key(e) for e in exclude_x}
    U = unique_X.detach().to(_DTYPE)
    keep = [j for j, row in enumerate(U.tolist()) if tuple(row) not in taken]
    U = U[keep]
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    engine = SobolEngine(bounds.shape[1], scramble=True, seed=seed)
    lo, hi = bounds[0], bounds[1]
    raw_unit = engine.draw(raw_samples, dtype=_DTYPE)
    raw = lo + (hi - lo) * raw_unit
    pool = torch.cat([raw, U])
    values = score_points(acq, pool)
    n_start = min(num_restarts, pool.shape[0])
    # L-BFGS-B runs on the unit cube (its tolerances and first steps are not scale
    # invariant): the same decisions, up to rounding, on any affine image of the box
    pool_unit = torch.cat([raw_unit, (U - lo) / (hi - lo)])
    starts = pool_unit[torch.topk(values, n_start).indices].unsqueeze(1)
    unit = torch.stack([torch.zeros_like(lo), torch.ones_like(hi)])
    z_opt, v_opt = optimize_acqf(
        _OnUnitCube(acq, lo, hi),
        bounds=unit,
        q=1,
        num_restarts=n_start,
        batch_initial_conditions=starts,
        options={"maxiter": 200},
        retry_on_optimization_warning=False,
    )
    z = z_opt.detach().reshape(-1).to(_DTYPE)
    x = canonical(lo + (hi - lo) * z).clamp(lo, hi)  # -0.0 -> 0.0, as the GP's dedupe
    best = float(v_opt) if v_opt is not None else -math.inf
    if U.shape[0]:
        u_vals = values[raw.shape[0] :]
        j = int(torch.argmax(u_vals))
        if float(u_vals[j]) >= best:
            x = U[j].clone()
    if row_key(x) in taken:  # the optimiser landed on a chosen block
        order = torch.argsort(values, descending=True)
        for j in order.tolist():
            if row_key(pool[j]) not in taken:
                return pool[j].clone(), None
    return x, None


class _OnUnitCube(AcquisitionFunction):
    """``acq`` composed with the map ``z -> lower + (upper - lower) z`` from the unit cube.

    On the unit box itself the map is exactly the identity (``0 + 1 * z``), so values and
    gradients are bit-identical to ``acq``'s.
    """

    def __init__(self, acq: AcquisitionFunction, lower: Tensor, upper: Tensor) -> None:
        super().__init__(model=acq.model)
        self.acq = acq
        self.lower: Tensor = lower
        self.scale: Tensor = upper - lower

    def forward(self, X: Tensor) -> Tensor:
        """Acquisition values at unit-cube points ``X`` ``(b, q, d)`` -> ``(b,)``."""
        return self.acq(self.lower + self.scale * X)


def score_points(acq: AcquisitionFunction, X: Tensor, chunk: int = 2048) -> Tensor:
    """Acquisition values at the rows of ``X`` ``(m, d)`` -> ``(m,)``, without gradients."""
    out = []
    with torch.no_grad():
        for start in range(0, X.shape[0], chunk):
            out.append(acq(X[start : start + chunk].unsqueeze(1)).reshape(-1))
    return torch.cat(out) if out else torch.empty(0, dtype=_DTYPE)


__all__ = ["maximize_on_box", "score_points"]
