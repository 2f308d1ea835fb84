"""``ModelHolder``: the told rows, the fitted hyperparameters and the GP built from them.

The model used for a decision is a pure function of (all told rows, fitted
hyperparameters): rows told since the last fit are kept as *chunks* and conditioned into
the model incrementally (``add_observations``); a refit folds them into the fitted rows.
Values are stored with the internal sign (``y`` when maximising, ``-y`` otherwise).

* **Epochs.** At every ``ask`` where data arrived since the last fit (a switch boundary),
  the hyperparameters of the [`UniquePointGP`][lowswitch.gp.model.UniquePointGP] are refitted with
  [`fit_gp`][lowswitch.gp.fit.fit_gp] on the exact likelihood, warm-started from the previous
  values (with ``refit_growth > 1``: only once the evaluations have grown by that factor
  since the last fit; the model is conditioned on every observation either way). Between
  asks, ``tell`` conditions the model incrementally with
  ``add_observations`` (O(q^2), no refit, no acquisition optimisation).

Hyperparameters are saved as plain data, ``{parameter name: nested list}``
(``hyper_to_data``), and loaded onto a fresh model by ``load_hyper``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from lowswitch.errors import StateError
from lowswitch.gp.fit import FTOL
from lowswitch.policies.noise import replicate_noise_floor
from lowswitch.policies.seeds import FIT_STREAM, seeded_generator

_DTYPE = torch.float64

Hyper = dict[str, Any]


def hyper_to_data(model: Any) -> Hyper:
    """A model's hyperparameters as JSON-safe plain data (raw, unconstrained values).

    Example:
        >>> import torch
        >>> from lowswitch import UniquePointGP
        >>> X = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
        >>> m = UniquePointGP(X, torch.tensor([[0.0], [1.0]], dtype=torch.float64))
        >>> load_hyper(m, hyper_to_data(m)) is m
        True
    """
    return {n: p.detach().cpu().tolist() for n, p in model.named_parameters()}


def load_hyper(model: Any, hyper: Hyper) -> Any:
    """Copy saved hyperparameters (from ``hyper_to_data``) into ``model``; returns it."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in hyper.items():
            params[name].copy_(torch.tensor(value, dtype=params[name].dtype))
    return model


#: A refit also restarts from the prior's default hyperparameters when the number of unique
#: points has crossed a power of this factor since the last fit (``1.0``: at every refit).
#: At every refit the restart was about 47 % of the refit time (EI, Styblinski-Tang-5).
COLD_START_GROWTH = 1.5


def cold_start_due(q_fit: int, q_new: int, growth: float | None = None) -> bool:
    """Whether ``q_fit -> q_new`` unique points crossed a power of ``growth``.

    Example:
        >>> [cold_start_due(10, q, 1.5) for q in (11, 12)]  # 1.5^6 = 11.4
        [False, True]
        >>> cold_start_due(10, 11, 1.0)
        True
    """
    g = COLD_START_GROWTH if growth is None else growth
    if g <= 1.0 or q_fit < 1:
        return True
    return math.floor(math.log(q_new) / math.log(g) + 1e-12) > math.floor(
        math.log(q_fit) / math.log(g) + 1e-12
    )


class ModelHolder:
    """Told rows, chunks since the last fit, hyperparameters and the current GP.

    Args:
        bounds: ``(2, d)`` box (the model normalises inputs with it).

    Example:
        >>> import torch
        >>> h = ModelHolder(torch.tensor([[0.0], [1.0]], dtype=torch.float64))
        >>> h.add(torch.tensor([[0.2], [0.2]], dtype=torch.float64),
        ...       torch.tensor([1.0, 1.1], dtype=torch.float64))
        >>> h.n_evaluations, h.model is None
        (2, True)
    """

    def __init__(self, bounds: Tensor) -> None:
        self.bounds = bounds
        d = int(bounds.shape[1])
        self.X_fit = torch.empty(0, d, dtype=_DTYPE)
        self.Y_fit = torch.empty(0, dtype=_DTYPE)  # internal sign
        self.chunks: list[tuple[Tensor, Tensor]] = []  # told since the last fit
        self.hyper: Hyper | None = None
        self.model: Any = None  # UniquePointGP | None
        self.n_evaluations = 0
        self.q_fit = 0  # unique points of the fitted rows

    def rows(self) -> tuple[Tensor, Tensor]:
        """All told rows ``(X (t, d), Y (t,))``, fitted ones first."""
        if not self.chunks:
            return self.X_fit, self.Y_fit
        X = torch.cat([self.X_fit, *[c[0] for c in self.chunks]])
        Y = torch.cat([self.Y_fit, *[c[1] for c in self.chunks]])
        return X, Y

    def add(self, X: Tensor, y: Tensor) -> None:
        """Tell rows ``X (k, d)`` with values ``y (k,)`` (internal sign); O(q^2) update."""
        if self.model is not None:
            self.model.add_observations(X, y.unsqueeze(-1))
        self.chunks.append((X, y))
        self.n_evaluations += int(y.shape[0])

    def build(self, X: Tensor, Y: Tensor, hyper: Hyper | None) -> Any:
        """The GP on rows ``X`` ``(t, d)`` (user units), ``Y`` ``(t,)`` (internal sign).

        Inputs are normalised to the unit cube inside the model (BoTorch ``Normalize`` with
        the box's fixed bounds): unique points stay exact in user units, the kernel and its
        lengthscale prior see ``(x - lower) / (upper - lower)``. The noise variance is
        floored at ``replicate_noise_floor`` of the rows.
        """
        from botorch.models.transforms.input import Normalize
        from gpytorch.constraints import GreaterThan

        from lowswitch.gp.model import UniquePointGP

        d = int(self.bounds.shape[1])
        model = UniquePointGP(X, Y.unsqueeze(-1), input_transform=Normalize(d, bounds=self.bounds))
        noise = model.likelihood.noise_covar
        floor = replicate_noise_floor(model)
        if floor is not None:
            _, sd = model.outcome_scale
            lower = max(float(noise.raw_noise_constraint.lower_bound), floor / sd**2)
            noise.register_constraint("raw_noise", GreaterThan(lower, transform=None))
        if hyper is not None:
            load_hyper(model, hyper)
        with torch.no_grad():  # a warm start from a fit with a lower floor
            noise.raw_noise.clamp_min_(float(noise.raw_noise_constraint.lower_bound))
        model.clear_cache()
        model.eval()
        return model

    def needs_refit(self, refit_growth: float) -> bool:
        """No model yet, or data arrived and the evaluations grew by ``refit_growth``."""
        if self.model is None:
            return True
        return bool(self.chunks) and (self.n_evaluations >= refit_growth * self.X_fit.shape[0])

    def refit(self, seed: int, n_asks: int, ftol: float = FTOL) -> None:
        """Refit hyperparameters on all told rows (a switch boundary).

        Starts: the previous fit (warm, optimised jointly from where it was) and, at the
        first fit and whenever the number of unique points has crossed a power of
        ``COLD_START_GROWTH`` since the last fit, also the prior's default initialisation
        (noise started at the pooled replicate variance), so a refit is never stuck for
        long where an earlier, smaller data set left it; the higher (log-likelihood +
        log-prior) wins, ties to the warm start. The schedule depends on the told rows
        alone, so runs and restored runs agree. ``fit_gp``'s random restarts draw from a
        generator seeded by ``(seed, FIT_STREAM, n_asks)``, not from the caller's global RNG.
        ``ftol``: the fit's stopping tolerance (``fit_gp``'s).

        The winning model becomes the holder's model as it is (no rebuild): it holds the
        same rows, transforms and hyperparameters that ``load`` would build it from, so it
        is bit-identical to the model a restored policy builds (tested); with one start
        its likelihood is not evaluated again (there is nothing to compare it with).
        """
        from lowswitch.gp.fit import fit_gp
        from lowswitch.gp.likelihood import ExactReplicateMLL

        X, Y = self.rows()
        starts: list[Hyper | None] = [None]
        if self.hyper is not None and self.model is not None:  # conditioned on every row
            due = cold_start_due(self.q_fit, self.model.n_unique)
            starts = [self.hyper, None] if due else [self.hyper]
        best: tuple[float, Any] | None = None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seeded_generator(seed, FIT_STREAM, n_asks).initial_seed()))
            for start in starts:
                model = self.build(X, Y, start)
                model.train()
                fit_gp(model, noise_from_replicates=start is None, ftol=ftol)
                value = 0.0
                if len(starts) > 1:
                    model.train()
                    with torch.no_grad():
                        value = float(ExactReplicateMLL(model)())
                model.eval()
                if best is None or value > best[0]:
                    best = (value, model)
        assert best is not None
        self.load(X, Y, hyper_to_data(best[1]), fitted=best[1])

    def load(self, X: Tensor, Y: Tensor, hyper: Hyper | None, fitted: Any = None) -> None:
        """Make ``(X, Y)`` the fitted rows with ``hyper`` (no chunks; ``None``: no model).

        The model is built from (rows, hyperparameters) alone, so a live optimiser and a
        restored one hold bit-identical models, or is ``fitted``, the model a refit built
        with ``build`` on these rows and fitted to ``hyper`` (the same model, tested); it is
        factorised so later tells update it.
        """
        self.X_fit, self.Y_fit, self.chunks = X, Y, []
        self.n_evaluations = int(X.shape[0])
        self.hyper = hyper
        self.model = None
        self.q_fit = 0
        if hyper is not None:
            if fitted is None:
                fitted = self.build(X, Y, hyper)
            fitted.eval()
            fitted.clear_cache()
            fitted.factorize()
            self.model = fitted
            self.q_fit = fitted.n_unique

    def best_sample_mean(self) -> Tensor:
        """The told point ``(d,)`` with the best sample mean (internal sign).

        Raises:
            StateError: nothing told yet.
        """
        X, Y = self.rows()
        if X.shape[0] == 0:
            raise StateError("recommend: no observations told yet")
        U, inverse = torch.unique(X, dim=0, return_inverse=True)
        sums = torch.zeros(U.shape[0], dtype=_DTYPE).index_add_(0, inverse, Y)
        counts = torch.bincount(inverse, minlength=U.shape[0]).to(_DTYPE)
        return U[int(torch.argmax(sums / counts))].clone()

    def hallucinated(self, X: Tensor, n: list[int]) -> Any:
        """The model with ``n_i`` zero-innovation observations at ``X[i]`` (GP-BUCB)."""
        if X.shape[0] == 0:
            return self.model
        return self.model.hallucinate(X, n)


__all__ = [
    "COLD_START_GROWTH",
    "Hyper",
    "ModelHolder",
    "cold_start_due",
    "hyper_to_data",
    "load_hyper",
]
