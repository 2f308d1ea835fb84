"""A policy's state as JSON-safe plain data, and its checked restore.

Layout: ``{"version", "policy", "config", "data": {"X_fit", "Y_fit", "chunks"}, "hyper",
"counters"}``; observations in the objective's own units. ``config`` is the flat keyword
form the policy constructor accepts (bounds, candidates, every
:class:`~lowswitch.policies.config.PolicyConfig` field and the acquisition's options), so
states written before :class:`PolicyConfig` existed load unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lowswitch.errors import InputError
from lowswitch.policies.state import state_count, state_matrix, state_vector
from lowswitch.validation import MAX_ABS_MEASUREMENT

if TYPE_CHECKING:
    from lowswitch.policies.base import LowSwitchPolicy

STATE_VERSION = 1


def policy_state(policy: LowSwitchPolicy) -> dict[str, Any]:
    """The state dict of ``policy`` (see the module docstring)."""
    h = policy._holder
    sign = 1.0 if policy.maximize else -1.0
    return {
        "version": STATE_VERSION,
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


def check_header(state: Any, cls_name: str) -> None:
    """Version and policy name of a state."""
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise InputError(f"state: expected a dict with version {STATE_VERSION}")
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


__all__ = ["STATE_VERSION", "check_header", "policy_state", "restore_into"]
