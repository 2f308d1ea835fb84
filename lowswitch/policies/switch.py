"""The switch rule: how many times to repeat a chosen candidate before deciding again.

An *epoch* picks ``x_h`` and commits to ``B_h`` evaluations of it (docs/maths/switching.md)::

    B_h = max(1, ceil((C - 1) * sigma2 / sigma2_h(x_h)))
    B_h = min(B_h, remaining budget, max_repeats)

``sigma2`` is the per-observation noise variance and ``sigma2_h(x_h)`` the posterior
variance of ``f(x_h)`` when the epoch starts. ``B`` repeats shrink that variance by the
factor ``1 + B sigma2_h / sigma2`` (exactly so for an isolated point, at most so in
general); the rule stops at factor ``C``. ``C = 1`` gives one evaluation per decision.

Everything here is a pure function of numbers: no model, no state.
"""

from __future__ import annotations

import math

from lowswitch.errors import InputError
from lowswitch.validation import check_switch_cost

#: Hard ceiling on a block, whatever the rule says (keeps the count a machine integer
#: when ``sigma2_h`` underflows to zero).
MAX_BLOCK: int = 2**31 - 1


def check_threshold(switch_threshold: float) -> float:
    """Validate the switch threshold ``C`` (must be a finite number ``>= 1``).

    Args:
        switch_threshold: the constant ``C`` of the rule.

    Returns:
        ``C`` as a Python float.

    Raises:
        InputError: if ``C`` is not a finite number ``>= 1``.

    Example:
        >>> check_threshold(2)
        2.0
    """
    try:
        value = float(switch_threshold)
    except (TypeError, ValueError):
        raise InputError(
            f"switch_threshold: expected a number >= 1, got {switch_threshold!r}"
        ) from None
    if not math.isfinite(value) or value < 1.0:
        raise InputError(f"switch_threshold: expected a finite number >= 1, got {value!r}")
    return value


def switch_repeats(
    posterior_variance: float,
    noise_variance: float,
    switch_threshold: float,
    remaining: int | None = None,
    max_repeats: int | None = None,
) -> int:
    """Number of repeats ``B_h`` of the switch rule.

    ``B_h = max(1, ceil((C - 1) * noise_variance / posterior_variance))``, then capped by
    ``remaining`` and ``max_repeats`` (each ignored when ``None``) and by ``MAX_BLOCK``.
    A non-positive posterior variance (rounding) counts as "infinitely many repeats
    needed", i.e. the caps decide. ``C = 1`` always gives ``1``.

    Args:
        posterior_variance: ``sigma2_h(x_h)``, posterior variance of ``f`` at the choice.
        noise_variance: ``sigma2``, per-observation noise variance (same units).
        switch_threshold: ``C >= 1``.
        remaining: evaluations left in the budget (``>= 1``), or ``None``.
        max_repeats: user cap on one block (``>= 1``), or ``None``.

    Returns:
        ``B_h``, an int in ``[1, min(remaining, max_repeats, MAX_BLOCK)]``.

    Raises:
        InputError: on a threshold below 1, a NaN or negative noise variance, or caps < 1.

    Example:
        >>> switch_repeats(0.1, 1.0, 2.0)  # ceil(1 * 1.0 / 0.1)
        10
        >>> switch_repeats(0.1, 1.0, 2.0, remaining=4)
        4
        >>> switch_repeats(0.1, 1.0, 1.0)
        1
    """
    c = check_threshold(switch_threshold)
    if not (noise_variance >= 0.0) or math.isnan(posterior_variance):
        raise InputError(
            "noise_variance/posterior_variance: expected non-negative numbers, got "
            f"{noise_variance!r} and {posterior_variance!r}"
        )
    cap = MAX_BLOCK
    for name, value in (("remaining", remaining), ("max_repeats", max_repeats)):
        if value is None:
            continue
        if int(value) < 1:
            raise InputError(f"{name}: expected an int >= 1 or None, got {value!r}")
        cap = min(cap, int(value))
    if c == 1.0 or noise_variance == 0.0:
        return 1
    if posterior_variance <= 0.0:
        return cap
    ratio = (c - 1.0) * noise_variance / posterior_variance
    if not math.isfinite(ratio) or ratio >= cap:
        return cap
    return max(1, min(cap, math.ceil(ratio)))


def move_cost(
    switch_cost: float | tuple[float, ...], previous: list[float] | None, new: list[float]
) -> float:
    """Cost of moving from ``previous`` to ``new`` (0 when they are equal).

    A scalar cost is paid for any change; per-input costs add ``s_j`` for every input
    ``j`` that changes. With no previous point (the first block) every input is set up.

    Example:
        >>> move_cost((10.0, 1.0), [0.1, 0.5], [0.1, 0.7])   # only input 1 changes
        1.0
        >>> move_cost(3.0, [0.1], [0.1])
        0.0
    """
    if previous is not None and previous == new:
        return 0.0
    if isinstance(switch_cost, tuple):
        if previous is None:
            return float(sum(switch_cost))
        return float(sum(s for s, a, b in zip(switch_cost, previous, new, strict=True) if a != b))
    return float(switch_cost)


def _phi_root(target: float) -> float:
    """The root ``u >= 1`` of ``u ln u - u + 1 = target`` (``target >= 0``), by bisection."""
    if target <= 0.0:
        return 1.0

    def phi(x: float) -> float:
        return x * math.log(x) - x + 1.0

    lo, hi = 1.0, 2.0
    while phi(hi) < target:  # phi is increasing on [1, inf) and grows like u ln u
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if phi(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return hi


def move_rate(noise_variance: float, fresh_variance: float, switch_cost: float) -> float:
    r"""Best information per unit cost of moving to a fresh point: ``R* = max_B I(B) / (s + B)``.

    A fresh point has posterior variance ``v`` (the prior's, far from the data); ``B``
    evaluations there give ``I(B) = 1/2 ln(1 + B v / sigma2)`` nats about ``f`` at it and
    cost ``s + B``. With ``rho = sigma2 / v`` and ``u = 1 + B / rho`` the maximum is where
    ``u ln u - u + 1 = s / rho`` (unique root ``u* >= 1``), so
    ``R* = 1/2 ln(u*) / (s + rho (u* - 1))``.

    Args:
        noise_variance: ``sigma2 > 0``.
        fresh_variance: ``v > 0``, variance of ``f`` at a point far from the data.
        switch_cost: ``s >= 0``.

    Returns:
        ``R*`` in nats per evaluation (``inf`` when ``s = 0``: moving is free).

    Example:
        >>> round(move_rate(1.0, 1.0, 10.0), 4)   # u* = 8.17, B* = 7.17
        0.0612
    """
    s = float(switch_cost)
    if s <= 0.0:
        return math.inf
    rho = noise_variance / fresh_variance
    u = _phi_root(s / rho)
    return 0.5 * math.log(u) / (s + rho * (u - 1.0))


def stay_repeats(
    posterior_variance: float,
    noise_variance: float,
    fresh_variance: float,
    switch_cost: float,
) -> int:
    r"""Repeats worth making at ``x_h`` before moving on, when a move costs ``s``.

    The marginal-value rule (leave a patch when what it still yields per unit of effort
    drops below what moving elsewhere would yield, the move included): the ``b``-th
    repeat at ``x_h`` gains ``1/2 ln(1 + 1 / (rho + b - 1))`` nats
    (``rho = sigma2 / sigma2_h``), which decreases in ``b``; repeat while it is at least
    ``move_rate`` ``R*``. That is

    .. math::  B = \left\lfloor \frac{1}{e^{2 R^*} - 1} - \rho + 1 \right\rfloor^+ .

    A well-known point (``rho`` large) gets no extra repeats, a point as uncertain as a
    fresh one gets about the ``B*`` that maximises the rate of a move, and tiny noise
    (``R*`` large) gives short blocks. ``s = 0`` gives 0 (the plain rule decides).

    Args:
        posterior_variance: ``sigma2_h(x_h) >= 0``.
        noise_variance: ``sigma2 > 0``.
        fresh_variance: variance of ``f`` at a point far from the data (``> 0``).
        switch_cost: ``s >= 0``.

    Returns:
        ``B >= 0`` (capped at ``MAX_BLOCK``).

    Example:
        >>> stay_repeats(1.0, 1.0, 1.0, 10.0), stay_repeats(0.1, 1.0, 1.0, 10.0)
        (7, 0)
        >>> stay_repeats(1.0, 1.0, 1.0, 0.0)
        0
    """
    if switch_cost <= 0.0 or noise_variance <= 0.0 or fresh_variance <= 0.0:
        return 0
    rate = move_rate(noise_variance, fresh_variance, switch_cost)
    if posterior_variance <= 0.0:
        return 0
    rho = noise_variance / posterior_variance
    limit = 1.0 / math.expm1(2.0 * rate) - rho + 1.0
    if not limit >= 1.0:
        return 0
    return int(min(MAX_BLOCK, math.floor(limit)))


def variance_shrink_factor(posterior_variance: float, noise_variance: float, repeats: int) -> float:
    """Factor ``1 + B sigma2_h / sigma2`` by which ``B`` repeats shrink an isolated variance.

    After ``B`` repeats at ``x_h`` the variance there is ``sigma2_h / factor`` when ``x_h`` is
    uncorrelated with the rest of the data, and at most that otherwise. The rule picks the
    smallest ``B`` with ``factor >= C``.

    Args:
        posterior_variance: ``sigma2_h(x_h) > 0``.
        noise_variance: ``sigma2 > 0``.
        repeats: ``B >= 0``.

    Returns:
        The factor (a float ``>= 1``).

    Example:
        >>> variance_shrink_factor(0.5, 1.0, 2)
        2.0
    """
    return 1.0 + repeats * posterior_variance / noise_variance


def max_switches_bound(information_gain: float, switch_threshold: float) -> float:
    """Upper bound ``1 + 2 gamma_T / ln C`` on the number of epochs (``C > 1``).

    Each epoch multiplies ``det(I + N^1/2 K_U N^1/2 / sigma2)`` by at least ``C`` when it
    completes; the log-det is ``2 gamma_T``. Infinite for ``C = 1``.

    Args:
        information_gain: ``gamma_T = 1/2 log det(I + N^1/2 K_U N^1/2 / sigma2)``.
        switch_threshold: ``C >= 1``.

    Returns:
        The bound (``math.inf`` when ``C = 1``).

    Example:
        >>> round(max_switches_bound(10.0, math.e), 6)
        21.0
    """
    c = check_threshold(switch_threshold)
    if c == 1.0:
        return math.inf
    return 1.0 + 2.0 * float(information_gain) / math.log(c)


__all__ = [
    "MAX_BLOCK",
    "check_switch_cost",
    "check_threshold",
    "max_switches_bound",
    "move_cost",
    "move_rate",
    "stay_repeats",
    "switch_repeats",
    "variance_shrink_factor",
]
