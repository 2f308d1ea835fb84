"""Shared ask/tell machinery of the low-switch policies (UCB, EI, TS).

One decision (an *epoch*) picks a point ``x_h`` and a number of repeats ``B_h`` from the
switch rule (:mod:`lowswitch.policies.switch`); the pair is a :class:`Block`. The caller
evaluates the block (all at once, in parallel, or piecewise) and tells the results.

Life cycle of :class:`LowSwitchPolicy`:

* **Initial design.** Until ``n_initial`` design blocks are issued (or the told data
  already holds ``n_initial`` unique points) ``ask`` returns blocks of
  ``initial_repeats`` evaluations at scrambled-Sobol points of the box (finite sets: a
  random permutation of the candidates), drawn from the policy's seed. The default size
  is ``2 d`` (at least 2, at most 20 and at most the number of candidates). The GP is
  never fitted on fewer than 2 unique points: the design is extended while that is the
  case. ``initial_repeats`` defaults to 2 when ``C > 1`` and to 1 when ``C = 1``: with
  single evaluations only, the noise variance is not identified and the MAP fit tends to
  explain noise by short lengthscales and a tiny ``sigma2`` (measured on Hartmann-6 with
  noise variance 0.25: learned 0.002), which would also make the switch rule
  meaningless; a duplicate per design point puts the within-point sum of squares into
  the exact likelihood. ``C = 1`` keeps one evaluation per decision (the standard
  baseline).
* **Epochs.** At every ``ask`` where data arrived since the last fit (a switch boundary),
  the hyperparameters of the :class:`~lowswitch.gp.model.UniquePointGP` are refitted with
  :func:`~lowswitch.gp.fit.fit_gp` on the exact likelihood, warm-started from the previous
  values (with ``refit_growth > 1``: only once the evaluations have grown by that factor
  since the last fit; the model is conditioned on every observation either way). Between
  asks, ``tell`` conditions the model incrementally with
  ``add_observations`` (O(q^2), no refit, no acquisition optimisation).
* **Several blocks** (``ask(n_blocks=k, pending=...)``): after each block the model is
  copied with ``B_h`` zero-innovation observations at ``x_h`` (``model.hallucinate``,
  GP-BUCB), and the pending blocks the caller hands in are hallucinated first. The
  optimiser itself keeps no list of pending blocks, so nothing is counted twice: a
  pending block is passed by the caller until its results are told.

Determinism: every ``ask`` draws from its own generator seeded by ``(seed, ask number)``;
the model used for a decision is a pure function of (all told rows, fitted
hyperparameters); :meth:`state_dict` stores exactly those (plus the tell chunks since the
last fit, replayed on load), so a restored optimiser continues bit for bit.

Switch counting: :attr:`n_switches` counts blocks handed out by ``ask`` whose point differs
from the previously handed-out block's point (the first block counts). Data told at
points never proposed does not count.

Signs: internally the GP models ``y`` if ``maximize`` else ``-y``; blocks, ``tell``,
``recommend`` and the state use the objective's own units.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from torch import Tensor
from torch.quasirandom import SobolEngine

from lowswitch.errors import InputError, StateError
from lowswitch.gp.candidates import CandidatePosterior
from lowswitch.policies.acquisition import maximize_on_box, score_points
from lowswitch.policies.noise import replicate_noise_floor
from lowswitch.policies.state import state_count, state_matrix, state_vector
from lowswitch.policies.switch import (
    check_switch_cost,
    check_threshold,
    move_cost,
    stay_repeats,
    switch_repeats,
)
from lowswitch.validation import MAX_ABS_MEASUREMENT

_DTYPE = torch.float64
_STATE_VERSION = 1
_DESIGN_STREAM = 0
_ASK_STREAM = 1
_FIT_STREAM = 2


@dataclass(frozen=True, eq=False)
class Block:
    """A decision: evaluate ``x`` ``repeats`` times.

    Attributes:
        x: ``(d,)`` float64 point (exactly the value to evaluate).
        repeats: ``B_h >= 1`` evaluations the switch rule asks for.
        index: row of ``x`` in the candidate set, or ``None`` for a continuous box.

    Example:
        >>> b = Block(torch.tensor([0.5], dtype=torch.float64), repeats=3)
        >>> b.repeats, b.index
        (3, None)
    """

    x: Tensor
    repeats: int
    index: int | None = None


def seeded_generator(seed: int, *stream: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``(seed, *stream)`` via numpy's SeedSequence.

    Counter-based: the ``k``-th ask uses ``seeded_generator(seed, 1, k)``, so no generator
    state has to be stored.

    Example:
        >>> a = torch.rand(2, generator=seeded_generator(0, 1, 5))
        >>> torch.equal(a, torch.rand(2, generator=seeded_generator(0, 1, 5)))
        True
    """
    words = np.random.SeedSequence([int(seed), *[int(s) for s in stream]]).generate_state(2)
    gen = torch.Generator()
    gen.manual_seed(int(words[0]) << 31 ^ int(words[1]))
    return gen


def _as_float64(name: str, value: Any) -> Tensor:
    try:
        out = torch.as_tensor(value, dtype=_DTYPE)
    except (TypeError, ValueError, RuntimeError) as err:
        raise InputError(
            f"{name}: expected a real tensor, got {type(value).__name__} ({err})"
        ) from None
    return out.detach().cpu().clone()


def _canonical(x: Tensor) -> Tensor:
    """float64, ``-0.0 -> 0.0`` (same canonicalisation as the GP's dedupe)."""
    return x + 0.0


class LowSwitchPolicy(ABC):
    """Base class: validation, design, refits, hallucination, switch rule, state.

    Subclasses implement :meth:`_select` (choose one point on a given model).

    Args:
        bounds: ``(2, d)`` lower/upper bounds of the box (lower < upper, finite).
        candidates: optional ``(m, d)`` finite candidate set inside ``bounds`` (distinct
            rows); then every block is one of its rows and ``tell`` accepts only rows.
        switch_threshold: ``C >= 1`` of the switch rule (``1`` = one evaluation per decision).
        maximize: maximise (default) or minimise the objective.
        seed: non-negative int (``None``: drawn once from OS entropy and stored).
        max_repeats: optional cap on ``B_h``.
        budget: optional total number of evaluations; blocks never exceed what is left.
        n_initial: initial design size (default ``clip(2 d, 2, 20)``, at most ``m``).
        initial_repeats: evaluations per design point (default 2 if ``C > 1`` else 1).
        num_restarts: L-BFGS restarts of ``optimize_acqf`` (continuous boxes).
        raw_samples: Sobol points scored to pick the restarts (continuous boxes).
        refit_growth: refit the hyperparameters at a switch boundary only once the told
            evaluations number at least ``refit_growth`` times those of the last fit
            (``1.0``, the default: at every switch boundary where data arrived). Between
            refits the model is conditioned exactly on every observation with the old
            hyperparameters. ``1.05`` makes ``C = 1`` runs of thousands of evaluations
            affordable (O(log t) refits instead of t).
        switch_cost: what moving to a new point costs, in evaluations (``0``, the
            default: the plain rule). A number ``s``, or ``d`` per-input costs ``s_j``
            (a move costs the sum over the inputs it changes). A block then repeats at
            least as long as a repeat there still yields more information per unit cost
            than moving to a fresh point would, the move included
            (:func:`~lowswitch.policies.switch.stay_repeats`); never less than the plain
            rule.

    Example:
        >>> import torch
        >>> from lowswitch import LowSwitchGPEI
        >>> cands = torch.linspace(0, 1, 11, dtype=torch.float64).unsqueeze(-1)
        >>> opt = LowSwitchGPEI(torch.tensor([[0.0], [1.0]]), candidates=cands, seed=0)
        >>> isinstance(opt, LowSwitchPolicy)
        True
        >>> blocks = opt.ask(n_blocks=2)          # design blocks (2 evaluations each at C=2)
        >>> [b.repeats for b in blocks]
        [2, 2]
    """

    def __init__(
        self,
        bounds: Tensor,
        candidates: Tensor | None = None,
        switch_threshold: float = 2.0,
        maximize: bool = True,
        seed: int | None = 0,
        max_repeats: int | None = None,
        *,
        budget: int | None = None,
        n_initial: int | None = None,
        initial_repeats: int | None = None,
        num_restarts: int = 4,
        raw_samples: int = 256,
        refit_growth: float = 1.0,
        switch_cost: float | Sequence[float] = 0.0,
    ) -> None:
        self._configure(
            {
                "bounds": bounds,
                "candidates": candidates,
                "switch_threshold": switch_threshold,
                "maximize": maximize,
                "seed": seed,
                "max_repeats": max_repeats,
                "budget": budget,
                "n_initial": n_initial,
                "initial_repeats": initial_repeats,
                "num_restarts": num_restarts,
                "raw_samples": raw_samples,
                "refit_growth": refit_growth,
                "switch_cost": switch_cost,
            }
        )
        self._reset_data()

    # ----------------------------------------------------------------- config
    def _configure(self, cfg: dict[str, Any]) -> None:
        """Validate the configuration and set it (nothing is set if validation fails)."""
        bounds = _as_float64("bounds", cfg["bounds"])
        if bounds.dim() != 2 or bounds.shape[0] != 2 or bounds.shape[1] < 1:
            raise InputError(
                f"bounds: expected shape (2, d) with d >= 1, got {tuple(bounds.shape)}"
            )
        if not bool(torch.isfinite(bounds).all()) or not bool((bounds[0] < bounds[1]).all()):
            raise InputError("bounds: expected finite values with lower < upper in every dimension")
        d = bounds.shape[1]
        candidates = cfg["candidates"]
        index: dict[tuple[float, ...], int] | None = None
        if candidates is not None:
            candidates = _canonical(_as_float64("candidates", candidates))
            if candidates.dim() != 2 or candidates.shape[1] != d or candidates.shape[0] < 1:
                raise InputError(
                    f"candidates: expected shape (m, {d}) with m >= 1, "
                    f"got {tuple(candidates.shape)}"
                )
            if not bool(torch.isfinite(candidates).all()):
                raise InputError("candidates: expected finite values, got NaN or inf")
            if not bool(((candidates >= bounds[0]) & (candidates <= bounds[1])).all()):
                raise InputError("candidates: expected every row inside bounds")
            index = {}
            for i, row in enumerate(candidates.tolist()):
                key = tuple(row)
                if key in index:
                    raise InputError(f"candidates: rows {index[key]} and {i} are identical")
                index[key] = i
        threshold = check_threshold(cfg["switch_threshold"])
        if not isinstance(cfg["maximize"], bool):
            raise InputError(f"maximize: expected a bool, got {cfg['maximize']!r}")
        seed = cfg["seed"]
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError(f"seed: expected a non-negative int or None, got {seed!r}")
        ints: dict[str, int | None] = {}
        for name in ("max_repeats", "budget", "n_initial", "initial_repeats"):
            value = cfg[name]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1
            ):
                raise InputError(f"{name}: expected an int >= 1 or None, got {value!r}")
            ints[name] = None if value is None else int(value)
        for name in ("num_restarts", "raw_samples"):
            value = cfg[name]
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise InputError(f"{name}: expected an int >= 1, got {value!r}")
            ints[name] = int(value)
        try:
            refit_growth = float(cfg.get("refit_growth", 1.0))
        except (TypeError, ValueError):
            refit_growth = math.nan
        if not (math.isfinite(refit_growth) and refit_growth >= 1.0):
            raise InputError(
                f"refit_growth: expected a finite number >= 1, got {cfg.get('refit_growth')!r}"
            )
        switch_cost = check_switch_cost(cfg.get("switch_cost", 0.0), d)
        n_initial = ints["n_initial"]
        if n_initial is None:
            n_initial = min(20, max(2, 2 * d))
        if candidates is not None:
            n_initial = min(n_initial, candidates.shape[0])
        extra = self._configure_extra(cfg)
        # ---- all validated: commit
        self.bounds = bounds
        self.candidates: Tensor | None = candidates
        self._index = index
        self.switch_threshold = threshold
        self.maximize: bool = cfg["maximize"]
        self.seed = int(seed)
        self.max_repeats: int | None = ints["max_repeats"]
        self.budget: int | None = ints["budget"]
        self.n_initial: int = n_initial
        self._n_initial_arg: int | None = ints["n_initial"]
        self._initial_repeats_arg: int | None = ints["initial_repeats"]
        init_rep = ints["initial_repeats"]
        self.initial_repeats: int = (
            init_rep if init_rep is not None else (1 if threshold == 1.0 else 2)
        )
        self.num_restarts: int = int(ints["num_restarts"] or 1)
        self.raw_samples: int = int(ints["raw_samples"] or 1)
        self.refit_growth: float = refit_growth
        self.switch_cost: float | tuple[float, ...] = switch_cost
        self._apply_extra(extra)

    def _configure_extra(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Subclass hook: validate policy-specific options from ``cfg`` (no side effects)."""
        return {}

    def _apply_extra(self, extra: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Subclass hook: set validated policy-specific options."""

    def _extra_config(self) -> dict[str, Any]:
        """Subclass hook: policy-specific options, JSON-safe, as accepted by ``__init__``."""
        return {}

    def _reset_data(self) -> None:
        d = self.dim
        self._X_fit = torch.empty(0, d, dtype=_DTYPE)
        self._Y_fit = torch.empty(0, dtype=_DTYPE)  # internal sign
        self._chunks: list[tuple[Tensor, Tensor]] = []  # told since the last fit
        self._hyper: dict[str, list[Any]] | None = None
        self._model: Any = None  # UniquePointGP | None
        self._n_evaluations = 0
        self._n_asks = 0
        self._n_switches = 0
        self._design_cursor = 0
        self._last_x: Tensor | None = None

    # ------------------------------------------------------------- properties
    @property
    def dim(self) -> int:
        """Input dimension ``d``."""
        return int(self.bounds.shape[1])

    @property
    def n_evaluations(self) -> int:
        """Observations told so far."""
        return self._n_evaluations

    @property
    def n_switches(self) -> int:
        """Blocks handed out whose point differs from the previous block's point."""
        return self._n_switches

    @property
    def n_unique(self) -> int:
        """Distinct points among the told observations."""
        if self._model is not None:
            return int(self._model.n_unique)
        X = self._all_rows()[0]
        return int(torch.unique(X, dim=0).shape[0]) if X.shape[0] else 0

    @property
    def model(self) -> Any:
        """The current :class:`~lowswitch.gp.model.UniquePointGP` (``None`` before the first fit).

        It models the objective with the internal sign (``-y`` when minimising).
        """
        return self._model

    # -------------------------------------------------------------- validation
    def _check_x(self, name: str, x: Any) -> tuple[Tensor, int | None]:
        """Validate one point; returns ``(x (d,), index or None)``."""
        xt = _canonical(_as_float64(name, x))
        if xt.dim() != 1 or xt.shape[0] != self.dim:
            raise InputError(f"{name}: expected shape ({self.dim},), got {tuple(xt.shape)}")
        if not bool(torch.isfinite(xt).all()):
            raise InputError(f"{name}: expected finite values, got {xt.tolist()}")
        if not bool(((xt >= self.bounds[0]) & (xt <= self.bounds[1])).all()):
            raise InputError(f"{name}: point {xt.tolist()} lies outside bounds")
        idx = None
        if self._index is not None:
            idx = self._index.get(tuple(xt.tolist()))
            if idx is None:
                raise InputError(f"{name}: point {xt.tolist()} is not a row of candidates")
        return xt, idx

    def _check_pending(self, pending: Any) -> tuple[Tensor, Tensor]:
        if pending is None:
            return torch.empty(0, self.dim, dtype=_DTYPE), torch.empty(0, dtype=torch.long)
        try:
            items = list(pending)
        except TypeError:
            raise InputError(
                f"pending: expected a list of (x, n) pairs, got {type(pending).__name__}"
            ) from None
        xs, ns = [], []
        for j, item in enumerate(items):
            try:
                x, n = item
            except (TypeError, ValueError):
                raise InputError(f"pending[{j}]: expected an (x, n) pair, got {item!r}") from None
            xs.append(self._check_x(f"pending[{j}].x", x)[0])
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise InputError(f"pending[{j}].n: expected an int >= 1, got {n!r}")
            ns.append(int(n))
        if not xs:
            return torch.empty(0, self.dim, dtype=_DTYPE), torch.empty(0, dtype=torch.long)
        return torch.stack(xs), torch.tensor(ns, dtype=torch.long)

    # ---------------------------------------------------------------- data
    def _all_rows(self) -> tuple[Tensor, Tensor]:
        if not self._chunks:
            return self._X_fit, self._Y_fit
        X = torch.cat([self._X_fit, *[c[0] for c in self._chunks]])
        Y = torch.cat([self._Y_fit, *[c[1] for c in self._chunks]])
        return X, Y

    def _build_model(self, X: Tensor, Y: Tensor, hyper: dict[str, list[Any]] | None) -> Any:
        """The GP on rows ``X`` ``(t, d)`` (user units), ``Y`` ``(t,)`` (internal sign).

        Inputs are normalised to the unit cube inside the model (BoTorch ``Normalize`` with
        the box's fixed bounds): unique points stay exact in user units, the kernel and its
        lengthscale prior see ``(x - lower) / (upper - lower)``. The noise variance is
        floored at :func:`replicate_noise_floor` of the told rows.
        """
        from botorch.models.transforms.input import Normalize
        from gpytorch.constraints import GreaterThan

        from lowswitch.gp.model import UniquePointGP

        model = UniquePointGP(
            X, Y.unsqueeze(-1), input_transform=Normalize(self.dim, bounds=self.bounds)
        )
        noise = model.likelihood.noise_covar
        floor = replicate_noise_floor(model)
        if floor is not None:
            _, sd = model.outcome_scale
            lower = max(float(noise.raw_noise_constraint.lower_bound), floor / sd**2)
            noise.register_constraint("raw_noise", GreaterThan(lower, transform=None))
        if hyper is not None:
            params = dict(model.named_parameters())
            with torch.no_grad():
                for name, value in hyper.items():
                    params[name].copy_(torch.tensor(value, dtype=params[name].dtype))
        with torch.no_grad():  # a warm start from a fit with a lower floor
            noise.raw_noise.clamp_min_(float(noise.raw_noise_constraint.lower_bound))
        model.clear_cache()
        model.eval()
        return model

    def _needs_refit(self) -> bool:
        """No model yet, or data arrived and the evaluations grew by ``refit_growth``."""
        if self._model is None:
            return True
        # refit_growth = 1: any told row since the last fit triggers a refit
        return bool(self._chunks) and (
            self._n_evaluations >= self.refit_growth * self._X_fit.shape[0]
        )

    def _refit(self) -> None:
        """Refit hyperparameters on all told rows (a switch boundary)."""
        from lowswitch.gp.fit import fit_gp
        from lowswitch.gp.likelihood import ExactReplicateMLL

        X, Y = self._all_rows()
        # Two starts: the previous fit (warm) and the prior's default initialisation, so a
        # refit is never stuck where an earlier, smaller data set left it; the higher
        # (log-likelihood + log-prior) wins, ties to the warm start.
        starts = [self._hyper, None] if self._hyper is not None else [None]
        best: tuple[float, Any] | None = None
        # fit_gp restarts from random prior samples when L-BFGS fails: seed that from the
        # policy (not the caller's global RNG) so that runs and restored runs agree.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(
                int(seeded_generator(self.seed, _FIT_STREAM, self._n_asks).initial_seed())
            )
            for start in starts:
                model = self._build_model(X, Y, start)
                model.train()
                fit_gp(model)
                model.train()
                with torch.no_grad():
                    value = float(ExactReplicateMLL(model)())
                model.eval()
                if best is None or value > best[0]:
                    best = (value, model)
        assert best is not None
        model = best[1]
        hyper = {n: p.detach().cpu().tolist() for n, p in model.named_parameters()}
        # Rebuild from (rows, hyperparameters) alone so that a restored optimiser, which
        # does the same, holds a bit-identical model.
        self._model = self._build_model(X, Y, hyper)
        self._model.factorize()  # later tells update this factor (as a restore does)
        self._hyper = hyper
        self._X_fit, self._Y_fit, self._chunks = X, Y, []

    def tell(self, x: Any, y: Any) -> None:
        """Record observations ``y`` made at ``x``.

        ``x`` need not be the last block's point: results may arrive in any order and any
        valid point may be told (re-measurements, warm-start data).

        Args:
            x: ``(d,)`` point inside ``bounds`` (a row of ``candidates`` if given).
            y: ``(k,)`` observations at ``x`` (``k >= 1``; a 0-d scalar counts as ``k = 1``),
                in the objective's own units.

        Raises:
            InputError: wrong shape, NaN/inf, point outside bounds or not a candidate; the
                optimiser is unchanged.
        """
        xt, _ = self._check_x("x", x)
        yt = _as_float64("y", y)
        if yt.dim() == 0:
            yt = yt.reshape(1)
        if yt.dim() != 1 or yt.shape[0] < 1:
            raise InputError(f"y: expected shape (k,) with k >= 1, got {tuple(yt.shape)}")
        bad = ~torch.isfinite(yt) | (yt.abs() > MAX_ABS_MEASUREMENT)
        if bool(bad.any()):
            raise InputError(
                f"y: expected finite values with |value| <= {MAX_ABS_MEASUREMENT:g}, "
                f"got {float(yt[bad][0])!r}"
            )
        y_int = yt if self.maximize else -yt
        X = xt.unsqueeze(0).expand(yt.shape[0], -1).clone()
        if self._model is not None:
            self._model.add_observations(X, y_int.unsqueeze(-1))
        self._chunks.append((X, y_int))
        self._n_evaluations += int(yt.shape[0])

    # ----------------------------------------------------------------- ask
    @overload
    def ask(self, n_blocks: None = None, pending: Any = None) -> Block: ...

    @overload
    def ask(self, n_blocks: int, pending: Any = None) -> list[Block]: ...

    def ask(self, n_blocks: int | None = None, pending: Any = None) -> Block | list[Block]:
        """Next block (``n_blocks=None``) or a list of ``n_blocks`` distinct blocks.

        Args:
            n_blocks: ``None`` for one :class:`Block`, or ``k >= 1`` for a list of up to ``k``
                distinct blocks chosen with hallucinated variance updates (GP-BUCB). Fewer
                are returned only when the budget runs out or a candidate set is exhausted.
            pending: blocks handed out earlier and not yet told, as ``[(x, n), ...]``; they
                are hallucinated (``n`` zero-innovation observations at ``x``) before choosing.

        Returns:
            A :class:`Block`, or a list of them when ``n_blocks`` is given.

        Raises:
            InputError: bad ``n_blocks`` or ``pending`` (the optimiser is unchanged).
            StateError: the budget is exhausted.
        """
        single = n_blocks is None
        k = 1 if single else n_blocks
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InputError(f"n_blocks: expected None or an int >= 1, got {n_blocks!r}")
        Xp, np_ = self._check_pending(pending)
        remaining = None
        if self.budget is not None:
            remaining = self.budget - self._n_evaluations - int(np_.sum())
            if remaining < 1:
                raise StateError(
                    f"ask: budget of {self.budget} evaluations exhausted "
                    f"({self._n_evaluations} told, {int(np_.sum())} pending)"
                )
        gen = seeded_generator(self.seed, _ASK_STREAM, self._n_asks)
        blocks: list[Block] = []
        cursor = self._design_cursor
        hall_X, hall_n = list(Xp), [int(n) for n in np_.tolist()]
        model_h: Any = None
        cand_post: CandidatePosterior | None = None
        n_told_unique = self.n_unique
        m = None if self.candidates is None else self.candidates.shape[0]
        while len(blocks) < int(k) and (remaining is None or remaining >= 1):
            if m is not None and len(blocks) >= m:
                break
            design = n_told_unique < 2 or (
                cursor < self.n_initial and n_told_unique < self.n_initial
            )
            if design:
                x, idx = self._design_point(cursor, [b.x for b in blocks])
                cursor += 1
                repeats = self.initial_repeats
                if remaining is not None:
                    repeats = min(repeats, remaining)
            else:
                if model_h is None:
                    if self._needs_refit():
                        self._refit()
                    model_h = self._model
                    if hall_X:
                        model_h = model_h.hallucinate(torch.stack(hall_X), hall_n)
                    if self.candidates is not None and self._scores_from_moments:
                        # exact rank-one variance updates instead of a hallucinated copy
                        # per block: O(m q) per block instead of O(m q^2)
                        cand_post = CandidatePosterior(model_h, self.candidates)
                elif blocks:
                    prev = blocks[-1]
                    if cand_post is not None and prev.index is not None:
                        cand_post.hallucinate(prev.index, prev.repeats)
                    else:
                        model_h = model_h.hallucinate(prev.x.unsqueeze(0), [prev.repeats])
                if cand_post is not None:
                    values = self._candidate_scores(cand_post.mean, cand_post.variance)
                    for b in blocks:
                        if b.index is not None:
                            values[b.index] = -math.inf
                    idx = int(torch.argmax(values))
                    x = self.candidates[idx].clone()  # type: ignore[index]
                    var = float(cand_post.variance[idx])
                else:
                    x, idx = self._select(
                        model_h, gen, [b.x for b in blocks], [b.index for b in blocks]
                    )
                    with torch.no_grad():
                        var = float(model_h.posterior(x.unsqueeze(0)).variance.reshape(()))
                noise = float(self._model.noise_variance)
                repeats = switch_repeats(
                    var, noise, self.switch_threshold, remaining, self.max_repeats
                )
                if self.switch_cost:
                    repeats = self._cost_aware_repeats(
                        repeats, x, var, noise, blocks[-1].x if blocks else self._last_x,
                        remaining,
                    )
            blocks.append(Block(x=x, repeats=repeats, index=idx))
            hall_X.append(x)
            hall_n.append(repeats)
            if remaining is not None:
                remaining -= repeats
        # ---- commit counters
        self._n_asks += 1
        self._design_cursor = cursor
        for b in blocks:
            if self._last_x is None or not torch.equal(b.x, self._last_x):
                self._n_switches += 1
            self._last_x = b.x
        return blocks[0] if single else blocks

    def _cost_aware_repeats(
        self,
        repeats: int,
        x: Tensor,
        var: float,
        noise: float,
        previous: Tensor | None,
        remaining: int | None,
    ) -> int:
        """The plain rule's ``repeats``, extended by the marginal-value rule of the switch cost.

        The cost of leaving ``x`` is what this block's move cost (per-input costs: the
        inputs it changes), or, for a block that stays, the cheapest single-input move.
        The fresh-point variance is the prior's at ``x`` (far from all data).
        """
        cost = self.switch_cost
        if isinstance(cost, tuple):
            moved = move_cost(cost, None if previous is None else previous.tolist(), x.tolist())
            positive = [c for c in cost if c > 0.0]
            cost = moved if moved > 0.0 else (min(positive) if positive else 0.0)
        model = self._model
        with torch.no_grad():
            z = model.transform_inputs(x.unsqueeze(0))
            prior = float(model.covar_module(z, diag=True).reshape(()))
        fresh = prior * model.outcome_scale[1] ** 2
        extra = stay_repeats(var, noise, fresh, cost)
        for cap in (remaining, self.max_repeats):
            if cap is not None:
                extra = min(extra, cap)
        return max(repeats, extra)

    def _design_point(self, cursor: int, exclude: list[Tensor]) -> tuple[Tensor, int | None]:
        """The ``cursor``-th initial-design point (Sobol in the box / permuted candidates)."""
        if self.candidates is not None:
            m = self.candidates.shape[0]
            perm = torch.randperm(m, generator=seeded_generator(self.seed, _DESIGN_STREAM))
            taken = {tuple(e.tolist()) for e in exclude}
            for j in range(m):
                i = int(perm[(cursor + j) % m])
                x = self.candidates[i].clone()
                if tuple(x.tolist()) not in taken:
                    return x, i
            raise StateError("ask: every candidate is already in this batch")  # pragma: no cover
        seed = int(seeded_generator(self.seed, _DESIGN_STREAM).initial_seed() % (2**31))
        engine = SobolEngine(self.dim, scramble=True, seed=seed)
        if cursor:
            engine.fast_forward(cursor)
        u = engine.draw(1, dtype=_DTYPE)[0]
        x = _canonical(self.bounds[0] + (self.bounds[1] - self.bounds[0]) * u)
        return x.clamp(self.bounds[0], self.bounds[1]), None

    # ------------------------------------------------------------ selection
    #: whether :meth:`_candidate_scores` computes the acquisition from posterior moments
    #: (then finite candidate sets use :class:`~lowswitch.gp.candidates.CandidatePosterior`)
    _scores_from_moments: bool = False

    def _candidate_scores(self, mean: Tensor, variance: Tensor) -> Tensor:
        """Acquisition values ``(m,)`` from latent posterior means and variances ``(m,)``.

        Only called when :attr:`_scores_from_moments` is true (UCB overrides both).
        """
        raise StateError(f"{type(self).__name__} does not score candidates from moments")

    @abstractmethod
    def _select(
        self,
        model: Any,
        generator: torch.Generator,
        exclude_x: list[Tensor],
        exclude_index: list[int | None],
    ) -> tuple[Tensor, int | None]:
        """Choose one point on ``model`` (maximising, internal sign), avoiding the excluded.

        Returns:
            ``(x (d,), index in candidates or None)``.
        """

    def _argmax_acquisition(
        self,
        acq: AcquisitionFunction,
        generator: torch.Generator,
        exclude_x: list[Tensor],
        exclude_index: list[int | None],
    ) -> tuple[Tensor, int | None]:
        """Maximise an analytic acquisition over the candidates or the box.

        Finite set: exhaustive scoring (chunks of 2,048), excluded rows skipped, first
        maximum. Box: ``raw_samples`` Sobol points (seeded from ``generator``) plus the
        evaluated unique points are scored, the best ``num_restarts`` start L-BFGS-B in
        :func:`botorch.optim.optimize_acqf`; if an evaluated unique point scores at least
        as high as the optimiser's result it is returned exactly (a repeat).
        """
        if self.candidates is not None:
            values = score_points(acq, self.candidates)
            for i in exclude_index:
                if i is not None:
                    values[i] = -math.inf
            i = int(torch.argmax(values))
            return self.candidates[i].clone(), i
        model: Any = acq.model
        return maximize_on_box(
            acq, self.bounds, model.unique_X, self.raw_samples, self.num_restarts,
            generator, exclude_x,
        )

    # -------------------------------------------------------------- results
    def recommend(self) -> Tensor:
        """Current best estimate: the evaluated point with the best posterior mean.

        Before the GP is fitted: the evaluated point with the best sample mean.

        Returns:
            ``(d,)`` float64 point.

        Raises:
            StateError: nothing has been told yet.
        """
        if self._model is not None:
            U = self._model.unique_X
            mean = self._model.posterior_mean(U).reshape(-1)
            return U[int(torch.argmax(mean))].detach().clone().to(_DTYPE)
        X, Y = self._all_rows()
        if X.shape[0] == 0:
            raise StateError("recommend: no observations told yet")
        U, inverse = torch.unique(X, dim=0, return_inverse=True)
        sums = torch.zeros(U.shape[0], dtype=_DTYPE).index_add_(0, inverse, Y)
        counts = torch.bincount(inverse, minlength=U.shape[0]).to(_DTYPE)
        return U[int(torch.argmax(sums / counts))].clone()

    # ---------------------------------------------------------------- state
    def _config(self) -> dict[str, Any]:
        return {
            "bounds": self.bounds.tolist(),
            "candidates": None if self.candidates is None else self.candidates.tolist(),
            "switch_threshold": self.switch_threshold,
            "maximize": self.maximize,
            "seed": self.seed,
            "max_repeats": self.max_repeats,
            "budget": self.budget,
            "n_initial": self._n_initial_arg,
            "initial_repeats": self._initial_repeats_arg,
            "num_restarts": self.num_restarts,
            "raw_samples": self.raw_samples,
            "refit_growth": self.refit_growth,
            "switch_cost": (
                list(self.switch_cost) if isinstance(self.switch_cost, tuple) else self.switch_cost
            ),
            **self._extra_config(),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically, as JSON-safe plain data.

        Layout: ``{"version", "policy", "config", "data": {"X_fit", "Y_fit", "chunks"},
        "hyper", "counters"}``; observations in the objective's own units. Size O(t d).

        Example:
            >>> import json
            >>> from lowswitch import LowSwitchGPUCB
            >>> opt = LowSwitchGPUCB(torch.tensor([[0.0], [1.0]]))
            >>> _ = json.dumps(opt.state_dict())
        """
        sign = 1.0 if self.maximize else -1.0
        return {
            "version": _STATE_VERSION,
            "policy": type(self).__name__,
            "config": self._config(),
            "data": {
                "X_fit": self._X_fit.tolist(),
                "Y_fit": (sign * self._Y_fit).tolist(),
                "chunks": [[c[0][0].tolist(), (sign * c[1]).tolist()] for c in self._chunks],
            },
            "hyper": self._hyper,
            "counters": {
                "n_evaluations": self._n_evaluations,
                "n_asks": self._n_asks,
                "n_switches": self._n_switches,
                "design_cursor": self._design_cursor,
                "last_x": None if self._last_x is None else self._last_x.tolist(),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (configuration included).

        The state is validated and rebuilt into a fresh object first; on any error an
        :class:`~lowswitch.errors.InputError` is raised and this optimiser is unchanged.
        """
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise InputError(f"state: expected a dict with version {_STATE_VERSION}")
        if state.get("policy") != type(self).__name__:
            raise InputError(
                f"state: saved from {state.get('policy')!r}, cannot load into {type(self).__name__}"
            )
        try:
            fresh = type(self)(**state["config"])
            fresh._restore(state)
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as err:
            raise InputError(f"state: malformed ({type(err).__name__}: {err})") from None
        self.__dict__.update(fresh.__dict__)

    def _restore(self, state: dict[str, Any]) -> None:
        """Rebuild from a state; every row and counter is checked (runs on a fresh object)."""
        sign = 1.0 if self.maximize else -1.0
        data = state["data"]
        X_fit = state_matrix("data.X_fit", data["X_fit"], self.dim)
        Y_fit = sign * state_vector("data.Y_fit", data["Y_fit"])
        if X_fit.shape[0] != Y_fit.shape[0]:
            raise InputError(
                f"state: data.X_fit has {X_fit.shape[0]} rows, data.Y_fit {Y_fit.shape[0]} values"
            )
        for i in range(X_fit.shape[0]):  # inside bounds, a candidate row if candidates
            self._check_x(f"state: data.X_fit[{i}]", X_fit[i])
        bad = Y_fit.abs() > MAX_ABS_MEASUREMENT
        if bool(bad.any()):
            raise InputError(
                f"state: data.Y_fit: expected finite values with |value| <= "
                f"{MAX_ABS_MEASUREMENT:g}, got {float(Y_fit[bad][0])!r}"
            )
        hyper = state["hyper"]
        if hyper is not None and not isinstance(hyper, dict):
            raise InputError(f"state: hyper: expected a dict or None, got {type(hyper).__name__}")
        if hyper is None and X_fit.shape[0]:
            raise InputError("state: data.X_fit has rows but hyper is None (no fit recorded)")
        counters = state["counters"]
        n_eval, n_asks, n_switches, cursor = (
            state_count(f"counters.{k}", counters[k])
            for k in ("n_evaluations", "n_asks", "n_switches", "design_cursor")
        )
        self._X_fit, self._Y_fit = X_fit, Y_fit
        self._n_evaluations = int(X_fit.shape[0])  # the chunks' tells add theirs
        self._hyper = hyper
        if hyper is not None:
            self._model = self._build_model(X_fit, Y_fit, hyper)
            self._model.factorize()  # replay the chunks as incremental updates, as live
        if not isinstance(data["chunks"], list):
            raise InputError("state: data.chunks: expected a list of [x, y] pairs")
        for j, (x, y) in enumerate(data["chunks"]):
            try:  # tell checks the point (bounds, candidates) and the values
                self.tell(state_vector(f"data.chunks[{j}].x", x), state_vector("y", y))
            except InputError as err:
                raise InputError(f"state: data.chunks[{j}]: {err}") from None
        if n_eval != self._n_evaluations:
            raise InputError(
                f"state: counters.n_evaluations is {n_eval}, the data hold "
                f"{self._n_evaluations} observations"
            )
        last = counters["last_x"]
        last_x = None if last is None else self._check_x("state: counters.last_x", last)[0]
        # every ask hands out >= 1 block, the first block is a switch, each sets last_x
        if (n_switches == 0) != (last_x is None) or (n_asks == 0) != (n_switches == 0):
            raise InputError(
                f"state: counters inconsistent (n_asks={n_asks}, n_switches={n_switches}, "
                f"last_x={last!r})"
            )
        self._n_asks, self._n_switches, self._design_cursor = n_asks, n_switches, cursor
        self._last_x = last_x

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> LowSwitchPolicy:
        """Build an optimiser directly from a :meth:`state_dict`."""
        opt = cls(**state["config"])
        opt.load_state_dict(state)
        return opt


__all__ = ["Block", "LowSwitchPolicy", "seeded_generator"]
