"""Beta-Bernoulli arms: the update equals the formula exactly, bad input changes nothing."""

from __future__ import annotations

import pytest
import torch

from lowswitch.bandit import BetaArms, discounted_update, numpy_generator, torch_generator
from lowswitch.errors import InputError


def naive_update(alpha, beta, a0, b0, lam, index, succ, trials):
    """Hand counting, one prompt at a time, in plain Python floats."""
    alpha, beta = list(alpha), list(beta)
    for i, s, k in zip(index, succ, trials, strict=True):
        p_a = a0[i] if isinstance(a0, list) else a0
        p_b = b0[i] if isinstance(b0, list) else b0
        alpha[i] = lam * alpha[i] + (1 - lam) * p_a + s
        beta[i] = lam * beta[i] + (1 - lam) * p_b + (k - s)
    return alpha, beta


def test_hand_counts_plain_counting():
    arms = BetaArms.uniform(4)
    arms.update([0, 1, 3], [3, 0, 4], [4, 4, 4])
    arms.update([0], [1], [1])  # k = 1 rollout: same formula (no special case)
    assert arms.alpha.tolist() == [5.0, 1.0, 1.0, 5.0]
    assert arms.beta.tolist() == [2.0, 5.0, 1.0, 1.0]


def test_k_equals_one_is_not_the_reference_slip():
    arms = BetaArms.uniform(2, decay=0.5)
    arms.update([0, 1], [1, 0], [1, 1])
    # lambda a + (1 - lambda) a0 + s with a = a0 = 1: alpha = 1 + s, beta = 1 + (1 - s)
    assert arms.alpha.tolist() == [2.0, 1.0]
    assert arms.beta.tolist() == [1.0, 2.0]
    assert 8.0 not in arms.alpha.tolist()


@pytest.mark.parametrize("lam", [1.0, 0.9, 0.5, 0.1])
def test_many_steps_equal_naive_formula(lam):
    gen = torch.Generator().manual_seed(1)
    m = 7
    arms = BetaArms.uniform(m, prior=(1.5, 0.5), decay=lam)
    ref_a, ref_b = [1.5] * m, [0.5] * m
    for _ in range(20):
        idx = torch.randperm(m, generator=gen)[:4]
        k = torch.randint(1, 9, (4,), generator=gen).double()
        s = torch.rand(4, generator=gen, dtype=torch.float64) * k  # fractional rewards
        arms.update(idx, s, k)
        ref_a, ref_b = naive_update(
            ref_a, ref_b, 1.5, 0.5, lam, idx.tolist(), s.tolist(), k.tolist()
        )
    torch.testing.assert_close(arms.alpha, torch.tensor(ref_a, dtype=torch.float64),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(arms.beta, torch.tensor(ref_b, dtype=torch.float64),
                               rtol=0, atol=1e-12)


def test_per_arm_prior_is_decay_target():
    arms = BetaArms.uniform(3, decay=0.5)
    arms.set_prior([0, 1, 2], [4.0, 1.0, 2.0], [1.0, 4.0, 2.0])
    arms.update([0, 2], [0.0, 1.0], [2.0, 2.0])
    ref_a, ref_b = naive_update(
        [4.0, 1.0, 2.0], [1.0, 4.0, 2.0], [4.0, 1.0, 2.0], [1.0, 4.0, 2.0], 0.5,
        [0, 2], [0.0, 1.0], [2.0, 2.0],
    )
    assert arms.alpha.tolist() == ref_a
    assert arms.beta.tolist() == ref_b


def test_repeated_indices_apply_in_order():
    arms = BetaArms.uniform(3, decay=0.5)
    arms.update([1, 1, 2], [1.0, 0.0, 2.0], [2.0, 2.0, 2.0])
    ref = naive_update([1.0] * 3, [1.0] * 3, 1.0, 1.0, 0.5, [1, 1, 2], [1.0, 0.0, 2.0], [2] * 3)
    assert (arms.alpha.tolist(), arms.beta.tolist()) == ref


def test_pure_function_matches_class():
    a, b = discounted_update(torch.tensor([2.0]), torch.tensor([3.0]), torch.tensor([0.5]),
                             torch.tensor([1.0]), 0.25, 1.0, 2.0)
    assert a.item() == 0.25 * 2 + 0.75 * 1 + 0.5
    assert b.item() == 0.25 * 3 + 0.75 * 2 + 0.5


@pytest.mark.parametrize(
    ("index", "succ", "trials"),
    [
        ([5], [1], [2]),                # out of range
        ([-1], [1], [2]),               # negative index
        ([0], [3], [2]),                # successes > trials
        ([0], [-0.5], [2]),             # negative reward
        ([0], [float("nan")], [2]),     # NaN reward
        ([0, 1], [1], [2, 2]),          # wrong length
        ([0], [0], [0]),                # no rollouts
        ([0.0], [1], [2]),              # float index
    ],
)
def test_bad_input_leaves_state_unchanged(index, succ, trials):
    arms = BetaArms.uniform(3, decay=0.5)
    arms.update([0], [1], [2])
    a, b = arms.alpha.clone(), arms.beta.clone()
    with pytest.raises(InputError):
        arms.update(index, succ, trials)
    assert torch.equal(arms.alpha, a) and torch.equal(arms.beta, b)


def test_bad_decay_and_params():
    with pytest.raises(InputError):
        BetaArms.uniform(3, decay=0.0)
    with pytest.raises(InputError):
        BetaArms.uniform(3, decay=1.5)
    with pytest.raises(InputError):
        BetaArms(torch.tensor([1.0, -1.0]), torch.tensor([1.0, 1.0]))


def test_grow_keeps_old_arms_and_priors():
    arms = BetaArms.uniform(2, prior=(2.0, 3.0))
    arms.update([1], [1], [1])
    arms.grow(2)
    assert arms.alpha.tolist() == [2.0, 3.0, 2.0, 2.0]
    assert isinstance(arms.prior_alpha, float)
    arms.grow(1, prior=(1.0, 1.0))  # different prior: becomes per arm
    assert isinstance(arms.prior_alpha, torch.Tensor)
    assert arms.prior_alpha.tolist() == [2.0, 2.0, 2.0, 2.0, 1.0]


def test_mean_variance_and_sample_moments():
    arms = BetaArms(torch.tensor([2.0, 8.0], dtype=torch.float64),
                    torch.tensor([6.0, 2.0], dtype=torch.float64))
    assert arms.mean.tolist() == [0.25, 0.8]
    torch.testing.assert_close(arms.variance,
                               torch.tensor([12 / (64 * 9), 16 / (100 * 11)], dtype=torch.float64))
    for gen in (numpy_generator(0), torch_generator(0)):
        x = arms.sample(gen, 20000)
        assert x.shape == (20000, 2)
        torch.testing.assert_close(x.mean(0), arms.mean, atol=0.01, rtol=0)
        torch.testing.assert_close(x.var(0), arms.variance, atol=0.003, rtol=0)


def test_sample_subset_and_memory():
    arms = BetaArms.uniform(1000)
    assert arms.sample(numpy_generator(0), index=torch.tensor([3, 5])).shape == (1, 2)
    assert arms.nbytes == 16 * 1000
    arms.set_prior([0], [2.0], [2.0])
    assert arms.nbytes == 32 * 1000
