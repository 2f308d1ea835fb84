"""Feature prior: hashed n-grams, binomial logistic fit, Beta pseudo-counts for new prompts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import sparse

from lowswitch.errors import InputError, StateError
from mopps import PromptSelector
from mopps.features import FeaturePrior, hashed_ngrams, rollout_counts
from mopps.metrics import spearman


def _sums(texts, n, ngrams=(1, 2, 3), metadata=None):
    return hashed_ngrams(texts, n, ngrams, metadata)


def test_hashed_counts_add_up_to_the_number_of_ngrams():
    texts = ["", "7", "12+34=", "héllo wörld", "aaaa"]
    x = _sums(texts, 16, ngrams=(1, 2, 3))
    counts = np.expm1(x.toarray())  # collisions merge buckets but keep the total
    for row, t in zip(counts, texts, strict=True):
        length = len(t.encode("utf-8")) + 2  # start and end markers
        expected = sum(max(length - g + 1, 0) for g in (1, 2, 3))
        assert row.sum() == pytest.approx(expected, abs=1e-9)


def test_hashing_is_deterministic_and_order_free():
    a = _sums(["3+4=", "10+20="], 256).toarray()
    b = _sums(["10+20=", "3+4="], 256).toarray()
    assert np.array_equal(a[0], b[1]) and np.array_equal(a[1], b[0])
    # no salted hash(): the buckets are fixed across processes and versions (golden value)
    x = _sums(["3+4="], 256)
    assert x.indices.tolist() == [29, 33, 53, 54, 67, 68, 83, 125, 137, 174, 203, 207, 221,
                                  242, 255]


def test_metadata_columns_are_appended_as_given():
    meta = np.array([[0.0, 2.5], [1.0, 0.0]])
    x = _sums(["a", "b"], 8, metadata=meta)
    assert x.shape == (2, 10)
    assert np.array_equal(x.toarray()[:, 8:], meta)
    assert np.array_equal(x.toarray()[:, :8], _sums(["a", "b"], 8).toarray())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"texts": "abc"}, "sequence of str"),
        ({"texts": ["a", 3]}, "sequence of str"),
        ({"texts": ["a"], "n_features": 0}, "n_features"),
        ({"texts": ["a"], "ngrams": (0,)}, "ngrams"),
        ({"texts": ["a"], "metadata": [[1.0], [2.0]]}, r"metadata: expected a finite \(1, m\)"),
        ({"texts": ["a"], "metadata": [[np.nan]]}, "metadata"),
    ],
)
def test_hashed_ngrams_rejects_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        hashed_ngrams(**kwargs)


def _synthetic(n, seed):
    """Sums of 1-4 digit numbers; success rate falls with the digit count (known truth)."""
    rng = np.random.default_rng(seed)
    digits = rng.integers(1, 5, n)
    texts = [f"{rng.integers(10 ** (d - 1), 10 ** d)}+{rng.integers(10 ** (d - 1), 10 ** d)}="
             for d in digits]
    rate = np.array([0.9, 0.6, 0.3, 0.05])[digits - 1]
    return texts, rate, rng


def test_fit_is_the_exact_optimum_of_the_penalised_binomial_likelihood():
    texts, rate, rng = _synthetic(300, 0)
    k = np.full(300, 8.0)
    s = rng.binomial(8, rate).astype(float)
    x = hashed_ngrams(texts, 64)
    fp = FeaturePrior(l2=0.5, max_iter=2000).fit(x, s, k)
    p = fp.predict(x).numpy()
    dense = x.toarray()
    g = k * p - s  # naive stationarity conditions of the objective in the module docstring
    assert np.abs(dense.T @ g + 0.5 * fp.coef_.numpy()).max() < 1e-4 * k.sum()
    assert abs(g.sum()) < 1e-4 * k.sum()
    # dense input and rows without rollouts give the same fit
    extra = np.vstack([dense, dense[:5]])
    s2, k2 = np.append(s, [0] * 5), np.append(k, [0] * 5)
    fp2 = FeaturePrior(l2=0.5, max_iter=2000).fit(extra, s2, k2)
    assert np.allclose(fp2.coef_.numpy(), fp.coef_.numpy(), atol=1e-5)


def test_predicts_difficulty_of_prompts_never_rolled_out():
    texts, rate, rng = _synthetic(1200, 1)
    s = rng.binomial(4, rate[:600]).astype(float)
    x = hashed_ngrams(texts, 512)
    fp = FeaturePrior().fit(x[:600], s, np.full(600, 4.0))
    p = fp.predict(x[600:]).numpy()
    assert spearman(p, rate[600:]) > 0.7
    # calibrated on average per difficulty level, within 0.15
    for level in np.unique(rate):
        assert abs(p[rate[600:] == level].mean() - level) < 0.15


def test_apply_sets_beta_pseudo_counts_through_the_selector():
    texts, rate, rng = _synthetic(40, 2)
    x = hashed_ngrams(texts, 128)
    sel = PromptSelector(40, prior=(1.0, 2.0), decay=0.9, seed=0)
    sel.update(torch.arange(20), torch.as_tensor(rng.binomial(4, rate[:20]), dtype=torch.float64),
               torch.full((20,), 4))
    fp = FeaturePrior(strength=6.0).fit_selector(sel, x)
    assert fp.n_fit_ == 20
    new = torch.arange(20, 40)
    p = fp.apply(sel, new, x[20:])
    assert torch.allclose(sel.alpha[20:], 1.0 + 6.0 * p)
    assert torch.allclose(sel.beta[20:], 2.0 + 6.0 * (1.0 - p))
    assert torch.allclose(sel.predict(new), (1.0 + 6.0 * p) / 9.0)
    # the pseudo-counts are the decay target and are not counted as rollouts
    _, k = rollout_counts(sel)
    assert float(k[20:].abs().max()) < 1e-12 and float(k[:20].sum()) == pytest.approx(80.0)
    sel.update(new[:1], [1.0], [1])
    a0 = 1.0 + 6.0 * float(p[0])
    assert float(sel.alpha[20]) == pytest.approx(0.9 * a0 + 0.1 * a0 + 1.0)


def test_rollout_counts_after_grow_and_offline_prior():
    sel = PromptSelector(2)
    sel.set_offline_prior([2.0, 0.0], [4.0, 4.0])
    sel.update([0, 1], [3.0, 1.0], [5, 2])
    sel.grow(1)
    s, k = rollout_counts(sel)
    assert s.tolist() == [3.0, 1.0, 0.0] and k.tolist() == [5.0, 2.0, 0.0]


def test_errors():
    fp = FeaturePrior()
    x = sparse.csr_matrix(np.eye(3))
    with pytest.raises(StateError, match="fit first"):
        fp.predict(x)
    with pytest.raises(InputError, match="at least one prompt"):
        fp.fit(x, [0, 0, 0], [0, 0, 0])
    with pytest.raises(InputError, match="successes <= trials"):
        fp.fit(x, [2, 0, 0], [1, 1, 1])
    with pytest.raises(InputError, match=r"expected \(3,\) each"):
        fp.fit(x, [1, 0], [1, 1])
    fp.fit(x, [1, 0, 0], [1, 1, 1])
    with pytest.raises(InputError, match="expected 3 columns"):
        fp.predict(np.eye(4))
    with pytest.raises(InputError, match="strength"):
        FeaturePrior(strength=0.0)
    with pytest.raises(InputError, match="rows"):
        fp.fit_selector(PromptSelector(5), x)


def test_import_mopps_stays_free_of_botorch_gpytorch_and_trl():
    code = (
        "import sys, mopps, mopps.features, mopps.selector, mopps.sampler, mopps.benchmark\n"
        "mopps.PromptSelector(3)\n"
        "bad = [m for m in ('botorch', 'gpytorch', 'linear_operator', 'trl', 'transformers')"
        " if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
