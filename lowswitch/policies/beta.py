"""Confidence-width schedules ``beta_t`` for GP-UCB: ``UCB(x) = mu(x) + sqrt(beta_t) sigma(x)``.

Two schedules:

* [`IGPUCBBeta`][lowswitch.policies.beta.IGPUCBBeta] (the **default**): the data-dependent IGP-UCB
  width of Chowdhury & Gopalan (2017), ``sqrt(beta_t) = B + R sqrt(2 (gamma_t + 1 + ln(1/delta)))``,
  with ``gamma_t = 1/2 log det(I + N^1/2 K_U N^1/2 / sigma2)`` read off the unique-point GP
  ([`UniquePointGP.information_gain`][lowswitch.gp.model.UniquePointGP.information_gain], cheap from
  the ``q x q`` factor). ``B`` bounds the RKHS norm of the objective and ``R`` is the noise scale,
  both relative to the posterior's own units (the posterior already carries the learned noise
  ``sigma2`` and outputscale, so ``R = 1`` is the literal theory). The theoretical width is known to
  over-explore in practice, so the default multiplies the square-root term by ``scale = 0.1`` (in
  the spirit of Srinivas et al.'s and Kandasamy et al.'s practical recommendation of shrinking the
  theoretical beta by a constant; the value was set on the noisy benchmark suite, where 0.2
  over-explored on Rastrigin-3 and Styblinski-Tang-5 and 0.07 stayed on Ackley-5's plateau, see
  ``docs/maths/switching.md``). Campaign plates are batches and use twice that
  (``lowswitch.campaign.planner.PLATE_UCB_SCALE``). The default is data-dependent because that
  is the schedule the low-switch guarantees are stated for: the width grows only when the log-det
  grows, i.e. when the GP learned something, which with rarely-switching policies happens once per
  epoch rather than once per evaluation.
* [`ConstantBeta`][lowswitch.policies.beta.ConstantBeta]: a fixed ``beta`` (``beta = 4``, i.e. two
  posterior standard deviations, is a common practical choice).

Schedules are small frozen dataclasses, JSON-safe through ``beta_to_dict`` /
``beta_from_dict``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from lowswitch.errors import InputError


@dataclass(frozen=True)
class IGPUCBBeta:
    """IGP-UCB schedule ``sqrt(beta_t) = B + scale * R * sqrt(2 (gamma_t + 1 + ln(1/delta)))``.

    Attributes:
        rkhs_bound: ``B >= 0``, bound on the RKHS norm of the objective (posterior units).
        noise_scale: ``R > 0``, sub-Gaussian noise scale relative to the learned noise.
        delta: failure probability in ``(0, 1)``.
        scale: practical multiplier ``> 0`` on the square-root term (1.0 = theory).

    Example:
        >>> schedule = IGPUCBBeta(rkhs_bound=0.0, noise_scale=1.0, delta=math.exp(-1), scale=1.0)
        >>> round(schedule(0.0), 6)  # sqrt(beta) = sqrt(2 * (0 + 1 + 1)) = 2
        4.0
    """

    rkhs_bound: float = 1.0
    noise_scale: float = 1.0
    delta: float = 0.1
    scale: float = 0.1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rkhs_bound) and self.rkhs_bound >= 0.0):
            raise InputError(f"rkhs_bound: expected a finite number >= 0, got {self.rkhs_bound!r}")
        if not (math.isfinite(self.noise_scale) and self.noise_scale > 0.0):
            raise InputError(f"noise_scale: expected a finite number > 0, got {self.noise_scale!r}")
        if not (0.0 < self.delta < 1.0):
            raise InputError(f"delta: expected a number in (0, 1), got {self.delta!r}")
        if not (math.isfinite(self.scale) and self.scale > 0.0):
            raise InputError(f"scale: expected a finite number > 0, got {self.scale!r}")

    def sqrt_beta(self, information_gain: float) -> float:
        """Width multiplier ``sqrt(beta_t)`` given ``gamma_t``.

        Args:
            information_gain: ``gamma_t >= 0`` (negative rounding is clipped to 0).

        Returns:
            ``sqrt(beta_t)``.

        Example:
            >>> IGPUCBBeta(rkhs_bound=1.0, scale=0.0001).sqrt_beta(5.0) > 1.0
            True
        """
        gamma = max(0.0, float(information_gain))
        root = math.sqrt(2.0 * (gamma + 1.0 + math.log(1.0 / self.delta)))
        return self.rkhs_bound + self.scale * self.noise_scale * root

    def __call__(self, information_gain: float) -> float:
        """``beta_t``, the square of ``sqrt_beta`` (what ``UpperConfidenceBound`` takes)."""
        return self.sqrt_beta(information_gain) ** 2


@dataclass(frozen=True)
class ConstantBeta:
    """A constant ``beta`` (independent of the data).

    Attributes:
        beta: ``beta > 0``.

    Example:
        >>> ConstantBeta(4.0)(123.0)
        4.0
    """

    beta: float = 4.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.beta) and self.beta > 0.0):
            raise InputError(f"beta: expected a finite number > 0, got {self.beta!r}")

    def __call__(self, information_gain: float) -> float:
        """Return ``beta`` whatever ``gamma_t`` is."""
        return float(self.beta)


BetaSchedule = IGPUCBBeta | ConstantBeta


def make_beta(beta: BetaSchedule | float | str | None) -> BetaSchedule:
    """Normalise a user's ``beta`` argument into a schedule.

    Args:
        beta: ``None`` or ``"igp-ucb"`` (default
            [`IGPUCBBeta`][lowswitch.policies.beta.IGPUCBBeta]), a positive number (constant), or a
            schedule instance.

    Returns:
        A schedule.

    Raises:
        InputError: anything else.

    Example:
        >>> make_beta(2.0)
        ConstantBeta(beta=2.0)
        >>> make_beta(None)
        IGPUCBBeta(rkhs_bound=1.0, noise_scale=1.0, delta=0.1, scale=0.1)
    """
    if beta is None or beta == "igp-ucb":
        return IGPUCBBeta()
    if isinstance(beta, IGPUCBBeta | ConstantBeta):
        return beta
    if isinstance(beta, int | float) and not isinstance(beta, bool):
        return ConstantBeta(float(beta))
    raise InputError(
        f"beta: expected None, 'igp-ucb', a positive number or a schedule, got {beta!r}"
    )


def beta_to_dict(schedule: BetaSchedule) -> dict[str, Any]:
    """JSON-safe description of a schedule.

    Example:
        >>> beta_to_dict(ConstantBeta(3.0))
        {'kind': 'constant', 'beta': 3.0}
    """
    kind = "igp-ucb" if isinstance(schedule, IGPUCBBeta) else "constant"
    return {"kind": kind, **asdict(schedule)}


def beta_from_dict(data: dict[str, Any]) -> BetaSchedule:
    """Inverse of ``beta_to_dict``.

    Example:
        >>> beta_from_dict(beta_to_dict(IGPUCBBeta(delta=0.05)))
        IGPUCBBeta(rkhs_bound=1.0, noise_scale=1.0, delta=0.05, scale=0.1)
    """
    fields = {k: float(v) for k, v in data.items() if k != "kind"}
    if data.get("kind") == "igp-ucb":
        return IGPUCBBeta(**fields)
    if data.get("kind") == "constant":
        return ConstantBeta(**fields)
    raise InputError(f"beta state: expected kind 'igp-ucb' or 'constant', got {data.get('kind')!r}")


__all__ = [
    "BetaSchedule",
    "ConstantBeta",
    "IGPUCBBeta",
    "beta_from_dict",
    "beta_to_dict",
    "make_beta",
]
