"""Low-switch GP Thompson sampling over a finite pool, through
[`lowswitch.bandit`][lowswitch.bandit].

Each decision draws one joint sample of ``f`` from the GP posterior over a pool of points
([`lowswitch.bandit.GaussianArms`][lowswitch.bandit.GaussianArms], with the ask's explicit
generator) and picks its argmax; the switch rule then sets the repeats. The pool is

* the candidate set, when one is given;
* otherwise ``n_discrete`` (512) scrambled-Sobol points of the box, ``n_local`` (256) Gaussian
  perturbations (standard deviation ``local_scale`` of the box width) of the best
  evaluated points by posterior mean, and all evaluated unique points (so that a sample
  can choose an exact repeat). All of it is drawn from the ask's generator.

The draw over the pool is exact by default (``sampler="exact"``): the joint covariance costs
``O(m^2 q + m^3)`` per decision for a pool of ``m`` points. The defaults keep ``m`` near 800:
at the earlier 1,024 + 512 the draw took about 0.2 s at ``q = 250`` (about twice a refit), and
TS cost up to 2.1x Optuna GPSampler's time per evaluation where it switches at most
evaluations; with the smaller pool and ``refit_growth`` 1.1 (``default_refit_growth``, a
refit once the evaluations grew by 10 %) it is below it (docs/benchmarks/bo.md).
``sampler="pathwise"`` draws one function instead, by Matheron's rule
(BoTorch ``draw_matheron_paths``: a random-Fourier-feature prior sample updated exactly on
the unique points with their replicate noise ``sigma2 / n_i``), and evaluates it on the same
pool: ``O(m (F + q))`` for ``F`` = 1,024 features, so the sample is approximate only through
the prior's feature approximation.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.quasirandom import SobolEngine

from lowswitch.bandit import GaussianArms
from lowswitch.errors import InputError
from lowswitch.policies.base import LowSwitchPolicy
from lowswitch.policies.checks import canonical, row_key

_DEFAULTS: dict[str, Any] = {
    "n_discrete": 512, "n_local": 256, "local_scale": 0.05, "sampler": "exact",
}
SAMPLERS = ("exact", "pathwise")


class LowSwitchGPTS(LowSwitchPolicy):
    """Rarely-switching GP Thompson sampling with ask/tell.

    Takes the arguments of [`LowSwitchPolicy`][lowswitch.policies.base.LowSwitchPolicy].

    Options (keywords, or in ``PolicyConfig.options``):
        ``n_discrete``: Sobol points of the pool (continuous boxes), default 512.
        ``n_local``: perturbations of the best evaluated points (continuous boxes),
        default 256. ``local_scale``: their standard deviation as a fraction of the box
        width, default 0.05. ``sampler``: ``"exact"`` (joint Gaussian draw over the pool,
        default) or ``"pathwise"`` (one Matheron path evaluated on the pool; much cheaper
        for large pools, see the module docstring).

    Example:
        >>> import torch
        >>> from lowswitch import LowSwitchGPTS
        >>> cands = torch.linspace(0, 1, 21, dtype=torch.float64).unsqueeze(-1)
        >>> opt = LowSwitchGPTS(torch.tensor([[0.0], [1.0]]), candidates=cands, seed=0)
        >>> for _ in range(5):
        ...     b = opt.ask()
        ...     opt.tell(b.x, torch.full((b.repeats,), -float(b.x[0] - 0.4) ** 2))
        >>> b.index is not None
        True
    """

    default_refit_growth = 1.1

    def _configure_extra(self, cfg: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("n_discrete", "n_local"):
            value = cfg.get(name, _DEFAULTS[name])
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"{name}: expected an int >= 0, got {value!r}")
            out[name] = value
        if out["n_discrete"] + out["n_local"] < 1:
            raise InputError("n_discrete + n_local: expected at least 1 pool point")
        scale = cfg.get("local_scale", _DEFAULTS["local_scale"])
        if not isinstance(scale, int | float) or not (math.isfinite(scale) and scale > 0):
            raise InputError(f"local_scale: expected a finite number > 0, got {scale!r}")
        out["local_scale"] = float(scale)
        sampler = cfg.get("sampler", _DEFAULTS["sampler"])
        if sampler not in SAMPLERS:
            raise InputError(f"sampler: expected one of {list(SAMPLERS)}, got {sampler!r}")
        out["sampler"] = sampler
        return out

    def _apply_extra(self, extra: dict[str, Any]) -> None:
        self.n_discrete: int = extra["n_discrete"]
        self.n_local: int = extra["n_local"]
        self.local_scale: float = extra["local_scale"]
        self.sampler: str = extra.get("sampler", "exact")  # states written before it existed

    def _extra_config(self) -> dict[str, Any]:
        return {
            "n_discrete": self.n_discrete,
            "n_local": self.n_local,
            "local_scale": self.local_scale,
            "sampler": self.sampler,
        }

    def _pool(self, model: Any, generator: torch.Generator) -> Tensor:
        """``(m, d)`` points to sample over on a continuous box (see module docstring)."""
        lo, hi = self.bounds[0], self.bounds[1]
        parts = []
        if self.n_discrete:
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
            u = SobolEngine(self.dim, scramble=True, seed=seed).draw(
                self.n_discrete, dtype=lo.dtype
            )
            parts.append(lo + (hi - lo) * u)
        U = model.unique_X.detach().to(lo.dtype)
        if self.n_local:
            with torch.no_grad():
                mean = model.posterior(U).mean.reshape(-1)
            top = U[torch.topk(mean, min(10, U.shape[0])).indices]
            centres = top[torch.arange(self.n_local) % top.shape[0]]
            noise = torch.randn(self.n_local, self.dim, generator=generator, dtype=lo.dtype)
            parts.append(
                torch.minimum(torch.maximum(centres + self.local_scale * (hi - lo) * noise, lo), hi)
            )
        parts.append(U)
        return canonical(torch.cat(parts))

    def _select(
        self,
        model: Any,
        generator: torch.Generator,
        exclude_x: list[Tensor],
        exclude_index: list[int | None],
    ) -> tuple[Tensor, int | None]:
        pool = self.candidates if self.candidates is not None else self._pool(model, generator)
        if self.sampler == "pathwise":
            sample = path_sample(model, pool, generator)
        else:
            with torch.no_grad():
                mvn = model.posterior(pool).distribution
                mean = mvn.mean.reshape(-1)
                cov = mvn.covariance_matrix.reshape(mean.shape[0], mean.shape[0])
            sample = GaussianArms(mean, cov).sample(generator, 1)[0]
        if self.candidates is not None:
            for i in exclude_index:
                if i is not None:
                    sample[i] = -math.inf
            i = int(torch.argmax(sample))
            return self.candidates[i].clone(), i
        taken = {row_key(e) for e in exclude_x}
        for j in torch.argsort(sample, descending=True).tolist():
            if row_key(pool[j]) not in taken:
                return pool[j].clone(), None
        raise InputError("ask: every pool point is already in this batch")  # pragma: no cover


def path_sample(model: Any, X: Tensor, generator: torch.Generator) -> Tensor:
    """One posterior function drawn by Matheron's rule, evaluated at ``X`` ``(m, d)`` -> ``(m,)``.

    BoTorch's ``draw_matheron_paths`` draws from torch's global generator; it runs here
    under a forked global state seeded from ``generator``, so the draw depends on the
    ask's generator alone and the caller's global state is left as it was.
    """
    # replicate-aware through the update registered in lowswitch.gp.botorch_dispatch
    from botorch.sampling.pathwise import draw_matheron_paths

    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        path = draw_matheron_paths(model, sample_shape=torch.Size([1]))
        with torch.no_grad():
            return path(X).reshape(-1).to(X.dtype)


__all__ = ["SAMPLERS", "LowSwitchGPTS", "path_sample"]
