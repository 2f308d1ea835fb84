"""The ask/tell façade shared by the low-switch policies (UCB, EI, TS and registered ones).

The pieces live in their own modules: settings in [`config`][lowswitch.policies.config], the
told data and the GP in ``holder``, the initial design in
``design``, batch models, acquisition maximisation and the
switch-cost repeats in ``selection``, the saved state in
[`persist`][lowswitch.policies.persist], seeds in [`seeds`][lowswitch.policies.seeds].

One decision (an *epoch*) picks a point ``x_h`` and a number of repeats ``B_h`` from the
switch rule (``lowswitch.policies.switch``); the pair is a [`Block`][lowswitch.policies.base.Block].
The caller evaluates the block (all at once, in parallel, or piecewise) and tells the results.

Life cycle of [`LowSwitchPolicy`][lowswitch.policies.base.LowSwitchPolicy]:

* **Initial design** (``design``): ``n_initial`` blocks of
  ``initial_repeats`` evaluations at points drawn from the seed.
* **Epochs** (``holder``): hyperparameters refitted at switch
  boundaries; ``tell`` conditions the model incrementally in between.
* **Several blocks** (``ask(n_blocks=k, pending=...)``): after each block the model is
  copied with ``B_h`` zero-innovation observations at ``x_h`` (``model.hallucinate``,
  GP-BUCB), and the pending blocks the caller hands in are hallucinated first. The
  optimiser itself keeps no list of pending blocks, so nothing is counted twice: a
  pending block is passed by the caller until its results are told.

Determinism: every ``ask`` draws from its own generator seeded by ``(seed, ask number)``;
the model used for a decision is a pure function of (all told rows, fitted
hyperparameters); [`state_dict`][lowswitch.tune.Tuner.state_dict] stores exactly those (plus the
tell chunks since the last fit, replayed on load), so a restored optimiser continues bit for bit.

Switch counting: [`n_switches`][lowswitch.tune.Tuner.n_switches] counts blocks handed out by ``ask``
whose point differs from the previously handed-out block's point (the first block counts). Data told
at points never proposed does not count.

Signs: internally the GP models ``y`` if ``maximize`` else ``-y``; blocks, ``tell``,
``recommend`` and the state use the objective's own units.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, overload

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction
from torch import Tensor

from lowswitch.errors import InputError, StateError
from lowswitch.gp.fit import FTOL
from lowswitch.policies import checks
from lowswitch.policies.batch import choose_blocks
from lowswitch.policies.block import Block
from lowswitch.policies.config import PolicyConfig, build_config
from lowswitch.policies.design import default_n_initial
from lowswitch.policies.holder import ModelHolder
from lowswitch.policies.persist import PersistMixin
from lowswitch.policies.seeds import seeded_generator
from lowswitch.policies.selection import (
    argmax_acquisition,
)
from lowswitch.policies.switch import check_switch_cost

_DTYPE = torch.float64
_UNSET: Any = object()
_POSITIONAL = ("switch_threshold", "maximize", "seed", "max_repeats")


class LowSwitchPolicy(PersistMixin, ABC):
    """Base class: a thin ask/tell façade over the design, the model holder and selection.

    Subclasses implement ``_select`` (choose one point on a given model); options of
    their own are checked by ``_configure_extra`` and set by ``_apply_extra``.

    Args:
        bounds: ``(2, d)`` lower/upper bounds of the box (lower < upper, finite).
        candidates: optional ``(m, d)`` finite candidate set inside ``bounds`` (distinct
            rows); then every block is one of its rows and ``tell`` accepts only rows.
        switch_threshold, maximize, seed, max_repeats: positional conveniences for the
            [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] fields of those names.
        config: a [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] with every setting.
        **kwargs: other ``PolicyConfig`` fields (``budget``, ``n_initial``,
            ``initial_repeats``, ``num_restarts``, ``raw_samples``, ``refit_growth``,
            ``fit_tolerance``, ``switch_cost``) and the acquisition's options (e.g. UCB's
            ``beta``), as a convenience that builds the ``PolicyConfig``; each must agree
            with ``config`` when both are given. The fields' meaning and defaults are
            documented once, on [`PolicyConfig`][lowswitch.policies.config.PolicyConfig].

    Class attributes ``default_refit_growth`` and ``default_fit_tolerance``: the
    ``refit_growth`` and ``fit_tolerance`` used when the config leaves them ``None`` (here
    1.0, a refit at every switch boundary with new data, and ``FTOL`` = 1e-6).

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
        >>> opt.config.switch_threshold
        2.0
    """

    default_refit_growth: ClassVar[float] = 1.0
    default_fit_tolerance: ClassVar[float] = FTOL

    def __init__(
        self,
        bounds: Tensor,
        candidates: Tensor | None = None,
        switch_threshold: float = _UNSET,
        maximize: bool = _UNSET,
        seed: int | None = _UNSET,
        max_repeats: int | None = _UNSET,
        *,
        config: PolicyConfig | None = None,
        **kwargs: Any,
    ) -> None:
        given = dict(zip(_POSITIONAL, (switch_threshold, maximize, seed, max_repeats),
                         strict=True))
        given = {k: v for k, v in {**given, **kwargs}.items() if v is not _UNSET}
        self._configure(bounds, candidates, build_config(config, given))
        self._holder = ModelHolder(self.bounds)
        self._n_asks = 0
        self._n_switches = 0
        self._design_cursor = 0
        self._last_x: Tensor | None = None

    # ----------------------------------------------------------------- config
    def _configure(self, bounds: Any, candidates: Any, config: PolicyConfig) -> None:
        """Validate the problem and the configuration, then set them (all or nothing)."""
        bounds_t = checks.check_bounds(bounds)
        d = bounds_t.shape[1]
        cands, index = checks.check_candidates(candidates, bounds_t)
        switch_cost = check_switch_cost(config.switch_cost, d)
        if config.seed is None:
            config = config.replace(seed=int(np.random.SeedSequence().generate_state(1)[0]))
        flat = {"bounds": bounds_t, "candidates": cands, **config.to_dict(), **config.options}
        extra = self._configure_extra(flat)
        unknown = sorted(set(config.options) - set(extra))
        if unknown:
            raise InputError(f"options: {type(self).__name__} takes no option(s) {unknown}"
                             f"; it takes {sorted(extra) or 'none'}")
        # ---- all validated: commit
        self.bounds = bounds_t
        self.candidates: Tensor | None = cands
        self._index = index
        self._base_config = config
        self.switch_threshold = config.switch_threshold
        self.maximize: bool = config.maximize
        self.seed = int(config.seed)  # type: ignore[arg-type]
        self.max_repeats: int | None = config.max_repeats
        self.budget: int | None = config.budget
        m = None if cands is None else cands.shape[0]
        self.n_initial: int = default_n_initial(config.n_initial, d, m)
        self.initial_repeats: int = (
            config.initial_repeats if config.initial_repeats is not None
            else (1 if config.switch_threshold == 1.0 else 2)
        )
        self.num_restarts: int = config.num_restarts
        self.raw_samples: int = config.raw_samples
        self.refit_growth: float = (
            config.refit_growth if config.refit_growth is not None
            else self.default_refit_growth
        )
        self.fit_tolerance: float = (
            config.fit_tolerance if config.fit_tolerance is not None
            else self.default_fit_tolerance
        )
        self.switch_cost: float | tuple[float, ...] = switch_cost
        self.cost_up_front: bool = config.cost_up_front
        self._apply_extra(extra)

    def _configure_extra(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Subclass hook: check the acquisition's options in ``cfg`` (no side effects).

        ``cfg`` holds ``bounds``, ``candidates``, every ``PolicyConfig`` field and the
        options; return ``{option name: checked value}`` for every option the class takes
        (names not returned are refused when given).
        """
        return {}

    def _apply_extra(self, extra: dict[str, Any]) -> None:
        """Subclass hook: set the checked options."""

    def _extra_config(self) -> dict[str, Any]:
        """Subclass hook: the options, JSON-safe, as accepted back by ``_configure_extra``."""
        return {}

    @property
    def config(self) -> PolicyConfig:
        """The settings in force (seed resolved, options as JSON-safe plain data).

        ``PolicyConfig.n_initial`` / ``initial_repeats`` stay ``None`` when defaulted
        (the defaults depend on the problem); ``switch_cost`` is the current value;
        ``refit_growth`` and ``fit_tolerance`` are the ones in force (the class defaults
        when they were ``None``), so a saved policy keeps its refit schedule and tolerance
        if a later version changes the defaults.
        """
        return self._base_config.replace(
            seed=self.seed, switch_cost=self.switch_cost, refit_growth=self.refit_growth,
            fit_tolerance=self.fit_tolerance, options=self._extra_config(),
        )

    # ------------------------------------------------------------- properties
    @property
    def dim(self) -> int:
        """Input dimension ``d``."""
        return int(self.bounds.shape[1])

    @property
    def n_evaluations(self) -> int:
        """Observations told so far."""
        return self._holder.n_evaluations

    @property
    def n_switches(self) -> int:
        """Blocks handed out whose point differs from the previous block's point."""
        return self._n_switches

    @property
    def n_unique(self) -> int:
        """Distinct points among the told observations."""
        return int(self._told_points().shape[0])

    def _told_points(self) -> Tensor:
        """The distinct told points ``(q, d)``, in user units (the model's, once fitted)."""
        if self._model is not None:
            return self._model.unique_X
        X = self._holder.rows()[0]
        return torch.unique(X, dim=0) if X.shape[0] else X

    @property
    def model(self) -> Any:
        """The current [`UniquePointGP`][lowswitch.gp.model.UniquePointGP] (``None`` before the
        first fit).

        It models the objective with the internal sign (``-y`` when minimising).
        """
        return self._holder.model

    @property
    def _model(self) -> Any:  # the name subclasses read
        return self._holder.model

    # ---------------------------------------------------------------- tell
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
        yt = checks.check_values(y)
        y_int = yt if self.maximize else -yt
        self._holder.add(xt.unsqueeze(0).expand(yt.shape[0], -1).clone(), y_int)

    # ----------------------------------------------------------------- ask
    @overload
    def ask(self, n_blocks: None = None, pending: Any = None) -> Block: ...

    @overload
    def ask(self, n_blocks: int, pending: Any = None) -> list[Block]: ...

    def ask(self, n_blocks: int | None = None, pending: Any = None) -> Block | list[Block]:
        """Next block (``n_blocks=None``) or a list of ``n_blocks`` distinct blocks.

        Args:
            n_blocks: ``None`` for one [`Block`][lowswitch.policies.base.Block], or ``k >= 1`` for a
                list of up to ``k`` distinct blocks chosen with hallucinated variance updates
                (GP-BUCB). Fewer are returned only when the budget runs out or a candidate set is
                exhausted.
            pending: blocks handed out earlier and not yet told, as ``[(x, n), ...]``; they
                are hallucinated (``n`` zero-innovation observations at ``x``) before choosing.

        Returns:
            A [`Block`][lowswitch.policies.base.Block], or a list of them when ``n_blocks`` is
            given.

        Raises:
            InputError: bad ``n_blocks`` or ``pending`` (the optimiser is unchanged).
            StateError: the budget is exhausted.
        """
        k = checks.check_block_count(n_blocks)
        Xp, np_ = checks.check_pending(pending, self.bounds, self._index)
        remaining = None
        if self.budget is not None:
            remaining = self.budget - self.n_evaluations - int(np_.sum())
            if remaining < 1:
                raise StateError(
                    f"ask: budget of {self.budget} evaluations exhausted "
                    f"({self.n_evaluations} told, {int(np_.sum())} pending)"
                )
        blocks, cursor = choose_blocks(self, k, list(Xp), [int(n) for n in np_.tolist()],
                                       remaining)
        # ---- commit counters
        self._n_asks += 1
        self._design_cursor = cursor
        for b in blocks:
            if self._last_x is None or not torch.equal(b.x, self._last_x):
                self._n_switches += 1
            self._last_x = b.x
        return blocks[0] if n_blocks is None else blocks

    # ------------------------------------------------------------ selection
    #: whether ``_candidate_scores`` computes the acquisition from posterior moments
    #: (then finite candidate sets use ``CandidatePosterior``)
    _scores_from_moments: bool = False

    def _candidate_scores(self, mean: Tensor, variance: Tensor) -> Tensor:
        """Acquisition values ``(m,)`` from latent posterior means and variances ``(m,)``.

        Only called when ``_scores_from_moments`` is true (UCB overrides both).
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
        """Maximise an analytic acquisition (see
        ``argmax_acquisition``)."""
        return argmax_acquisition(
            acq, self.candidates, self.bounds, self.raw_samples, self.num_restarts,
            generator, exclude_x, exclude_index,
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
        return self._holder.best_sample_mean()


__all__ = ["Block", "LowSwitchPolicy", "build_config", "seeded_generator"]
