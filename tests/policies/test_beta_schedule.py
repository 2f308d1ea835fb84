"""Tests of the beta_t schedules."""

from __future__ import annotations

import json
import math

import pytest

from lowswitch.errors import InputError
from lowswitch.policies.beta import (
    ConstantBeta,
    IGPUCBBeta,
    beta_from_dict,
    beta_to_dict,
    make_beta,
)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 10.0, 1234.5])
def test_igp_ucb_formula(gamma: float) -> None:
    s = IGPUCBBeta(rkhs_bound=2.0, noise_scale=0.5, delta=0.05, scale=0.3)
    root = 2.0 + 0.3 * 0.5 * math.sqrt(2 * (gamma + 1 + math.log(1 / 0.05)))
    assert s.sqrt_beta(gamma) == pytest.approx(root, rel=1e-14)
    assert s(gamma) == pytest.approx(root**2, rel=1e-14)


def test_igp_ucb_grows_with_information_gain() -> None:
    s = IGPUCBBeta()
    values = [s(g) for g in (0.0, 1.0, 10.0, 100.0)]
    assert values == sorted(values) and values[0] < values[-1]
    assert s(-1e-12) == s(0.0)  # rounding below zero is clipped


def test_constant_and_make() -> None:
    assert ConstantBeta(3.0)(0.0) == ConstantBeta(3.0)(99.0) == 3.0
    assert make_beta(2) == ConstantBeta(2.0)
    assert make_beta(None) == IGPUCBBeta() == make_beta("igp-ucb")
    s = IGPUCBBeta(delta=0.2)
    assert make_beta(s) is s


@pytest.mark.parametrize(
    "schedule", [ConstantBeta(1.5), IGPUCBBeta(), IGPUCBBeta(0.0, 2.0, 0.01, 1.0)]
)
def test_dict_round_trip(schedule: ConstantBeta | IGPUCBBeta) -> None:
    data = json.loads(json.dumps(beta_to_dict(schedule)))
    assert beta_from_dict(data) == schedule


@pytest.mark.parametrize(
    "bad",
    [
        lambda: ConstantBeta(0.0),
        lambda: ConstantBeta(math.inf),
        lambda: IGPUCBBeta(delta=1.0),
        lambda: IGPUCBBeta(rkhs_bound=-1.0),
        lambda: IGPUCBBeta(scale=0.0),
        lambda: make_beta("huge"),
        lambda: make_beta(True),
        lambda: beta_from_dict({"kind": "nope"}),
    ],
)
def test_bad(bad: object) -> None:
    with pytest.raises(InputError):
        bad()  # type: ignore[operator]
