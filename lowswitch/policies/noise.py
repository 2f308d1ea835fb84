r"""A floor for the learned noise variance, from the replicates themselves.

With repeats, the within-point sums of squares give an estimate of the noise that does
not depend on the GP at all: the pooled variance

.. math::  s^2 = \frac{\sum_i Q_i}{t - q}, \qquad \nu = t - q \text{ degrees of freedom},

unbiased for a homoscedastic ``sigma2`` whatever ``f`` is, with
:math:`\nu s^2 / \sigma^2 \sim \chi^2_\nu` under Gaussian noise. A MAP fit can still drive
``sigma2`` far below it when many *distinct* points happen to give near-identical values
(a plateau, or a deterministic first fold in cross-validation): the GP then explains the
data as noiseless, and the switch rule, which compares posterior variance with
``sigma2``, stops repeating.

The policies therefore constrain ``sigma2`` from below by the one-sided lower confidence
limit

.. math::  \sigma^2_{\text{floor}} = \frac{\nu s^2}{\chi^2_{\nu,\,1-\alpha}}, \qquad \alpha = 0.01,

i.e. the smallest noise variance the replicates do not reject at the 1% level. The factor
:math:`\nu / \chi^2_{\nu, 0.99}` is 0.15 at one degree of freedom, 0.43 at 10, 0.74 at
100 and tends to 1: with few replicates the floor is loose, with many it is close to the
pooled estimate. Without replicates (``t = q``) there is no floor.
"""

from __future__ import annotations

from typing import Any

from scipy.stats import chi2

FLOOR_CONFIDENCE = 0.99
"""Confidence of the lower limit used as the noise floor (``1 - alpha``)."""


def pooled_noise_floor(
    sum_squares: float, n_observations: int, n_unique: int, confidence: float = FLOOR_CONFIDENCE
) -> float | None:
    r"""Lower confidence limit of ``sigma2`` from within-point sums of squares.

    Args:
        sum_squares: :math:`\sum_i Q_i`, the within-point sums of squared deviations.
        n_observations: ``t``, all observations.
        n_unique: ``q``, distinct points.
        confidence: ``1 - alpha`` of the one-sided interval.

    Returns:
        :math:`\nu s^2 / \chi^2_{\nu, \text{confidence}}` with :math:`\nu = t - q`, or
        ``None`` when there are no replicates (``t = q``).

    Example:
        >>> round(pooled_noise_floor(10.0, 20, 10), 4)   # s^2 = 1 on 10 d.o.f.
        0.4309
        >>> pooled_noise_floor(0.0, 5, 5) is None
        True
    """
    dof = n_observations - n_unique
    if dof < 1:
        return None
    return float(sum_squares) / float(chi2.ppf(confidence, dof))


def replicate_noise_floor(model: Any, confidence: float = FLOOR_CONFIDENCE) -> float | None:
    """``pooled_noise_floor`` of a [`UniquePointGP`][lowswitch.gp.model.UniquePointGP]'s data.

    In the model's *original* outcome units; ``None`` without replicates or with known
    (given) noise variances.
    """
    stats = model.stats
    if model.heteroscedastic:
        return None
    return pooled_noise_floor(float(stats.m2.sum()), int(stats.t), int(stats.q), confidence)


__all__ = ["FLOOR_CONFIDENCE", "pooled_noise_floor", "replicate_noise_floor"]
