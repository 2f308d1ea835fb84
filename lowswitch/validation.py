"""Checks shared by every public boundary that takes a measured value.

Pure Python (no torch), so that the campaign CLI, the tuning API, the integrations and
``mopps`` can all use it without importing the GP stack.

Measurements must be finite and at most ``MAX_ABS_MEASUREMENT`` in absolute value.
The bound keeps the exact statistics representable in float64: the outcome
standardisation sums squared values over all t observations, and ``t * y**2`` must stay
far below the float64 maximum (about 1.8e308) for t up to 1e8 rows. A value outside the
range is refused with an [`InputError`][lowswitch.errors.InputError] before anything is stored,
so one mistyped number can never make a campaign or a study unusable.
"""

from __future__ import annotations

import math
from typing import Any

from lowswitch.errors import InputError

MAX_ABS_MEASUREMENT = 1e100
"""Largest accepted absolute value of a measurement (objective value, yield, reward)."""


def check_measurement(value: Any, name: str = "value") -> float:
    """Return ``value`` as a float after checking it is a usable measurement.

    Args:
        value: a real number (``bool`` is refused: ``True`` is not a measurement).
        name: what to call the value in the error message.

    Returns:
        ``float(value)``.

    Raises:
        InputError: ``value`` is not a real number, is NaN or infinite, or its absolute
            value exceeds ``MAX_ABS_MEASUREMENT``.

    Example:
        >>> check_measurement(3)
        3.0
        >>> try:
        ...     check_measurement(1e160, "yield")
        ... except ValueError as err:
        ...     print(err)
        yield: expected a finite number with |value| <= 1e+100, got 1e+160
    """
    if isinstance(value, bool):
        raise InputError(f"{name}: expected a real number, got the bool {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name}: expected a real number, got {value!r}") from None
    if not math.isfinite(number) or abs(number) > MAX_ABS_MEASUREMENT:
        raise InputError(
            f"{name}: expected a finite number with |value| <= {MAX_ABS_MEASUREMENT:g}, "
            f"got {number!r}"
        )
    return number


def check_switch_cost(switch_cost: Any, dim: int | None = None) -> float | tuple[float, ...]:
    """Validate a switch cost: a number ``s >= 0`` or ``d`` per-input costs ``s_j >= 0``.

    Costs are in units of one evaluation's cost: ``s = 10`` means setting up a new point
    costs as much as ten evaluations. Per-input costs price a move by the inputs it changes
    (``move_cost``).

    Args:
        switch_cost: a finite number ``>= 0``, or a sequence of ``dim`` of them.
        dim: the input dimension a sequence must have (``None``: any length >= 1).

    Returns:
        A float, or a tuple of floats for per-input costs.

    Raises:
        InputError: negative, NaN, infinite, bool, or a sequence of the wrong length.

    Example:
        >>> check_switch_cost(10)
        10.0
        >>> check_switch_cost([5, 0.5], dim=2)
        (5.0, 0.5)
    """

    def number(value: Any, name: str) -> float:
        if isinstance(value, bool):
            raise InputError(f"{name}: expected a number >= 0, got {value!r}")
        try:
            out = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{name}: expected a number >= 0, got {value!r}") from None
        if not math.isfinite(out) or out < 0.0:
            raise InputError(f"{name}: expected a finite number >= 0, got {value!r}")
        return out

    if isinstance(switch_cost, str) or not hasattr(switch_cost, "__iter__"):
        return number(switch_cost, "switch_cost")
    costs = tuple(number(v, f"switch_cost[{j}]") for j, v in enumerate(switch_cost))
    if not costs or (dim is not None and len(costs) != dim):
        raise InputError(
            f"switch_cost: expected a number or {dim if dim is not None else 'd'} per-input "
            f"costs, got {len(costs)}"
        )
    return costs




def check_fit_tolerance(value: Any, name: str = "fit_tolerance") -> float:
    """A number in ``(0, 1)``: a hyperparameter fit's L-BFGS-B stopping tolerance.

    Example:
        >>> check_fit_tolerance(1e-4)
        0.0001
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise InputError(f"{name}: expected a number in (0, 1), got {value!r}")
    return float(value)


__all__ = ["MAX_ABS_MEASUREMENT", "check_fit_tolerance", "check_measurement", "check_switch_cost"]
