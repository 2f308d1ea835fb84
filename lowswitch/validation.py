"""Checks shared by every public boundary that takes a measured value.

Pure Python (no torch), so that the campaign CLI, the tuning API, the integrations and
:mod:`mopps` can all use it without importing the GP stack.

Measurements must be finite and at most :data:`MAX_ABS_MEASUREMENT` in absolute value.
The bound keeps the exact statistics representable in float64: the outcome
standardisation sums squared values over all t observations, and ``t * y**2`` must stay
far below the float64 maximum (about 1.8e308) for t up to 1e8 rows. A value outside the
range is refused with an :class:`~lowswitch.errors.InputError` before anything is stored,
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
            value exceeds :data:`MAX_ABS_MEASUREMENT`.

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


__all__ = ["MAX_ABS_MEASUREMENT", "check_measurement"]
