"""A policy's state as JSON-safe plain data, and its checked restore.

Layout: ``{"format", "version", "policy", "config", "data": {"X_fit", "Y_fit", "chunks"},
"hyper", "counters"}``: the shared header of [`lowswitch.bandit.state`][lowswitch.bandit.state]
(format ``"lowswitch.LowSwitchPolicy"``), ``policy`` naming the subclass. Observations are in the
objective's own units. ``config`` is the flat keyword form the policy constructor accepts (bounds,
candidates, every [`PolicyConfig`][lowswitch.policies.config.PolicyConfig] field and the
acquisition's options), so states written before [`PolicyConfig`][lowswitch.policies.PolicyConfig]
existed load unchanged.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from torch import Tensor

from lowswitch.bandit.state import read_header, state_header
from lowswitch.errors import InputError, StateError
from lowswitch.policies import checks
from lowswitch.policies.checks import RowIndex
from lowswitch.policies.holder import Hyper, ModelHolder
from lowswitch.policies.state import state_count, state_matrix, state_vector
from lowswitch.validation import MAX_ABS_MEASUREMENT

if TYPE_CHECKING:
    from lowswitch.policies.base import LowSwitchPolicy

STATE_KIND = "lowswitch.LowSwitchPolicy"
#: 1: ``{"version": 1}`` alone (before the shared header); 2: the shared header, same payload
STATE_VERSIONS = (1, 2)


def policy_state(policy: LowSwitchPolicy) -> dict[str, Any]:
    """The state dict of ``policy`` (see the module docstring)."""
    h = policy._holder
    sign = 1.0 if policy.maximize else -1.0
    return {
        **state_header(STATE_KIND, STATE_VERSIONS[-1]),
        "policy": type(policy).__name__,
        "config": policy._config(),
        "data": {
            "X_fit": h.X_fit.tolist(),
            "Y_fit": (sign * h.Y_fit).tolist(),
            "chunks": [[c[0][0].tolist(), (sign * c[1]).tolist()] for c in h.chunks],
        },
        "hyper": h.hyper,
        "counters": {
            "n_evaluations": h.n_evaluations,
            "n_asks": policy._n_asks,
            "n_switches": policy._n_switches,
            "design_cursor": policy._design_cursor,
            "last_x": None if policy._last_x is None else policy._last_x.tolist(),
        },
    }


def flat_config(policy: LowSwitchPolicy) -> dict[str, Any]:
    """The flat constructor keywords of ``policy``: bounds, candidates, fields, options."""
    cfg = policy.config.to_dict()
    base = policy._base_config
    cfg["n_initial"] = base.n_initial  # None when defaulted (the default depends on d, m)
    cfg["initial_repeats"] = base.initial_repeats
    options = cfg.pop("options")
    return {
        "bounds": policy.bounds.tolist(),
        "candidates": None if policy.candidates is None else policy.candidates.tolist(),
        **cfg,
        **options,
    }


def check_header(state: Any, cls_name: str) -> None:
    """Version and policy name of a state."""
    read_header(state, STATE_KIND, STATE_VERSIONS)
    if state.get("policy") != cls_name:
        raise InputError(
            f"state: saved from {state.get('policy')!r}, cannot load into {cls_name}"
        )


def restore_into(policy: LowSwitchPolicy, state: dict[str, Any]) -> None:
    """Rebuild ``policy`` (a fresh object) from ``state``; every row and counter is checked."""
    sign = 1.0 if policy.maximize else -1.0
    data = state["data"]
    X_fit = state_matrix("data.X_fit", data["X_fit"], policy.dim)
    Y_fit = sign * state_vector("data.Y_fit", data["Y_fit"])
    if X_fit.shape[0] != Y_fit.shape[0]:
        raise InputError(
            f"state: data.X_fit has {X_fit.shape[0]} rows, data.Y_fit {Y_fit.shape[0]} values"
        )
    for i in range(X_fit.shape[0]):  # inside bounds, a candidate row if candidates
        policy._check_x(f"state: data.X_fit[{i}]", X_fit[i])
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
    policy._holder.load(X_fit, Y_fit, hyper)  # the chunks are replayed as live tells
    _replay_chunks(policy, data["chunks"])
    if n_eval != policy.n_evaluations:
        raise InputError(
            f"state: counters.n_evaluations is {n_eval}, the data hold "
            f"{policy.n_evaluations} observations"
        )
    last = counters["last_x"]
    last_x = None if last is None else policy._check_x("state: counters.last_x", last)[0]
    # every ask hands out >= 1 block, the first block is a switch, each sets last_x
    if (n_switches == 0) != (last_x is None) or (n_asks == 0) != (n_switches == 0):
        raise InputError(
            f"state: counters inconsistent (n_asks={n_asks}, n_switches={n_switches}, "
            f"last_x={last!r})"
        )
    policy._n_asks, policy._n_switches, policy._design_cursor = n_asks, n_switches, cursor
    policy._last_x = last_x


def _replay_chunks(policy: LowSwitchPolicy, chunks: Any) -> None:
    if not isinstance(chunks, list):
        raise InputError("state: data.chunks: expected a list of [x, y] pairs")
    for j, (x, y) in enumerate(chunks):
        try:  # tell checks the point (bounds, candidates) and the values
            policy.tell(state_vector(f"data.chunks[{j}].x", x), state_vector("y", y))
        except InputError as err:
            raise InputError(f"state: data.chunks[{j}]: {err}") from None


class PersistMixin:
    """State, warm start and hyperparameters of a policy (mixed into ``LowSwitchPolicy``)."""

    _holder: ModelHolder
    _index: RowIndex | None
    _n_asks: int
    bounds: Tensor
    maximize: bool

    def _check_x(self, name: str, x: Any) -> tuple[Tensor, int | None]:
        return checks.check_point(name, x, self.bounds, self._index)

    # ---------------------------------------------------------- warm start
    def warm_start(self, x: Any, y: Any, hyper: Hyper | None = None) -> None:
        """Start a fresh policy from prior evaluations, optionally with their fit.

        Args:
            x: ``(t, d)`` evaluated points (inside ``bounds``, rows of ``candidates`` if
                given), in any order, repeats allowed.
            y: ``(t,)`` their observations, in the objective's own units.
            hyper: hyperparameters fitted on exactly these rows (from
                [`hyperparameters`][lowswitch.policies.LowSwitchGPTS.hyperparameters] of an earlier
                policy on the same problem). Given, the rows become the fitted data and the next
                ``ask`` uses this fit as it is (no refit until more data is told); omitted, the rows
                are told as ordinary observations and the next ``ask`` fits from scratch.

        Raises:
            StateError: the policy has already been asked or told.
            InputError: bad rows or values, or ``hyper`` not a fit of this model (nothing
                changes).

        Example:
            >>> import torch
            >>> from lowswitch import LowSwitchGPUCB
            >>> box = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
            >>> X = torch.tensor([[0.1], [0.1], [0.5], [0.9]], dtype=torch.float64)
            >>> y = torch.tensor([0.0, 0.1, 1.0, 0.2], dtype=torch.float64)
            >>> first = LowSwitchGPUCB(box, seed=0)
            >>> first.warm_start(X, y)
            >>> _ = first.ask()                      # fits the GP on the four rows
            >>> second = LowSwitchGPUCB(box, seed=0)
            >>> second.warm_start(X, y, hyper=first.hyperparameters)
            >>> second.hyperparameters == first.hyperparameters
            True
        """
        if self._holder.n_evaluations or self._n_asks:
            raise StateError("warm_start: expected a fresh policy (nothing asked or told yet)")
        rows, Y = checks.check_rows(x, y, self.bounds, self._index)
        y_int = Y if self.maximize else -Y
        if hyper is None:
            self._holder.add(rows, y_int)
            return
        if not isinstance(hyper, dict):
            raise InputError(f"hyper: expected a dict or None, got {type(hyper).__name__}")
        holder = ModelHolder(self.bounds)
        try:
            holder.load(rows, y_int, hyper)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise InputError(f"hyper: not a fit of this model ({type(err).__name__}: "
                             f"{err})") from None
        self._holder = holder

    @property
    def hyperparameters(self) -> Hyper | None:
        """The last fit's hyperparameters as plain data (``None`` before the first fit)."""
        hyper = self._holder.hyper
        return None if hyper is None else copy.deepcopy(hyper)

    # ---------------------------------------------------------------- state
    def _config(self) -> dict[str, Any]:
        """The flat constructor keywords of this policy (JSON-safe)."""
        return flat_config(self)  # type: ignore[arg-type]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue identically, as JSON-safe plain data.

        Layout: see [`lowswitch.policies.persist`][lowswitch.policies.persist]. Size O(t d).

        Example:
            >>> import json
            >>> import torch
            >>> from lowswitch import LowSwitchGPUCB
            >>> opt = LowSwitchGPUCB(torch.tensor([[0.0], [1.0]]))
            >>> _ = json.dumps(opt.state_dict())
        """
        return policy_state(self)  # type: ignore[arg-type]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from [`state_dict`][lowswitch.tune.Tuner.state_dict] (configuration included).

        The state is validated and rebuilt into a fresh object first; on any error an
        [`InputError`][lowswitch.errors.InputError] is raised and this optimiser is unchanged.
        """
        check_header(state, type(self).__name__)
        try:
            fresh = type(self)(**state["config"])
            restore_into(fresh, state)  # type: ignore[arg-type]
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as err:
            raise InputError(f"state: malformed ({type(err).__name__}: {err})") from None
        self.__dict__.update(fresh.__dict__)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Any:
        """Build an optimiser directly from a [`state_dict`][lowswitch.tune.Tuner.state_dict]."""
        opt = cls(**state["config"])
        opt.load_state_dict(state)
        return opt


__all__ = [
    "STATE_KIND",
    "STATE_VERSIONS",
    "PersistMixin",
    "check_header",
    "flat_config",
    "policy_state",
    "restore_into",
]
