"""Tests of the switch rule (pure functions) and of its variance-shrink guarantee."""

from __future__ import annotations

import math

import pytest
import torch

from lowswitch.errors import InputError
from lowswitch.policies.switch import (
    MAX_BLOCK,
    check_threshold,
    max_switches_bound,
    switch_repeats,
    variance_shrink_factor,
)


def naive_repeats(var: float, noise: float, c: float) -> int:
    """Smallest B >= 1 with 1 + B var / noise >= c, by counting."""
    b = 1
    while 1.0 + b * var / noise < c * (1 - 1e-12):
        b += 1
    return b


@pytest.mark.parametrize("c", [1.0, 1.5, 2.0, 4.0, 10.0])
@pytest.mark.parametrize("var", [1e-3, 0.07, 0.3, 1.0, 5.0])
@pytest.mark.parametrize("noise", [0.01, 0.25, 1.0])
def test_rule_is_smallest_block_reaching_factor_c(c: float, var: float, noise: float) -> None:
    b = switch_repeats(var, noise, c)
    assert b == naive_repeats(var, noise, c)
    assert variance_shrink_factor(var, noise, b) >= c * (1 - 1e-12)
    if b > 1:
        assert variance_shrink_factor(var, noise, b - 1) < c


def test_c_one_always_one() -> None:
    for var in (0.0, 1e-300, 1e-3, 1.0, 1e6):
        assert switch_repeats(var, 1.0, 1.0) == 1
        assert switch_repeats(var, 1.0, 1.0, remaining=5, max_repeats=3) == 1


def test_caps() -> None:
    assert switch_repeats(0.01, 1.0, 2.0) == 100
    assert switch_repeats(0.01, 1.0, 2.0, remaining=7) == 7
    assert switch_repeats(0.01, 1.0, 2.0, max_repeats=5, remaining=7) == 5
    assert switch_repeats(0.0, 1.0, 2.0) == MAX_BLOCK
    assert switch_repeats(0.0, 1.0, 2.0, remaining=12) == 12
    assert switch_repeats(1e-320, 1.0, 2.0) == MAX_BLOCK


@pytest.mark.parametrize(
    "args",
    [
        (0.1, 1.0, 0.5),
        (0.1, 1.0, math.nan),
        (0.1, math.nan, 2.0),
        (math.nan, 1.0, 2.0),
        (0.1, -1.0, 2.0),
    ],
)
def test_bad_numbers(args: tuple[float, float, float]) -> None:
    with pytest.raises(InputError):
        switch_repeats(*args)


def test_bad_caps() -> None:
    with pytest.raises(InputError, match="remaining"):
        switch_repeats(0.1, 1.0, 2.0, remaining=0)
    with pytest.raises(InputError, match="max_repeats"):
        switch_repeats(0.1, 1.0, 2.0, max_repeats=0)
    with pytest.raises(InputError, match="switch_threshold"):
        check_threshold("two")  # type: ignore[arg-type]


def test_switch_bound() -> None:
    assert max_switches_bound(5.0, 1.0) == math.inf
    assert max_switches_bound(5.0, 2.0) == pytest.approx(1 + 10 / math.log(2))


def test_repeats_shrink_gp_variance_exactly_by_the_factor() -> None:
    """After B repeats at x the GP variance there is var / (1 + B var / sigma2), exactly.

    (Conditioning the current posterior of f(x) on B more observations at x; holds for any
    correlation with the data.) Hence the rule's B reaches factor C.
    """
    from lowswitch import UniquePointGP

    g = torch.Generator().manual_seed(0)
    X = torch.rand(8, 2, generator=g, dtype=torch.float64).repeat(2, 1)
    Y = torch.sin(3 * X).sum(-1, keepdim=True) + 0.3 * torch.randn(
        16, 1, generator=g, dtype=torch.float64
    )
    model = UniquePointGP(X, Y).eval()
    noise = float(model.noise_variance)
    for x in (X[0], torch.tensor([0.5, 0.5], dtype=torch.float64)):
        with torch.no_grad():
            var = float(model.posterior(x[None]).variance)
            b = switch_repeats(var, noise, 2.0)
            after = float(model.hallucinate(x[None], [b]).posterior(x[None]).variance)
        assert after == pytest.approx(var / (1 + b * var / noise), rel=1e-8)
        assert var / after >= 2.0 * (1 - 1e-9)
