"""AUC statistics: the bootstrap interval, paired differences and the paper's subsample statistic."""
from __future__ import annotations

import numpy as np
import pytest

from duo_jax import stats

ALPHAS = [0.0, 0.5, 1.0]


def test_auc_hand_computed():
    assert stats.auc([0, 0.5, 1], [2, 1, 0]) == pytest.approx(1.0)
    # Non-uniform spacing: 0.2*(4+2)/2 + 0.8*(2+1)/2 = 0.6 + 1.2.
    assert stats.auc([0.0, 0.2, 1.0], [4, 2, 1]) == pytest.approx(1.8)
    with pytest.raises(ValueError, match="at least 2 alphas"):
        stats.auc([0.0], [1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        stats.auc([1.0, 0.0], [1.0, 2.0])


def test_episode_aucs_average_to_the_auc_of_the_means():
    rng = np.random.default_rng(0)
    episodes = rng.normal(size=(3, 40))
    assert stats.episode_aucs(ALPHAS, episodes).mean() == pytest.approx(stats.auc(ALPHAS, episodes.mean(1)))
    with pytest.raises(ValueError, match="same number"):
        stats.episode_aucs(ALPHAS, [np.zeros(4), np.zeros(4), np.zeros(3)])


def test_bootstrap_auc_interval():
    rng = np.random.default_rng(0)
    small = [rng.normal(5 - 2 * a, 2, 50) for a in ALPHAS]
    large = [rng.normal(5 - 2 * a, 2, 2000) for a in ALPHAS]
    point = stats.auc(ALPHAS, [r.mean() for r in small])
    lo, hi = stats.bootstrap_auc(ALPHAS, small, num_samples=500, seed=1)
    assert lo < point < hi
    lo_l, hi_l = stats.bootstrap_auc(ALPHAS, large, num_samples=500, seed=1)
    assert hi_l - lo_l < (hi - lo) / 3     # ~sqrt(2000/50) = 6x narrower
    assert stats.bootstrap_auc(ALPHAS, small, num_samples=500, seed=1) == (lo, hi)
    assert stats.bootstrap_auc(ALPHAS, small, num_samples=500, seed=2) != (lo, hi)


def test_bootstrap_auc_degenerate_when_rewards_are_constant():
    constant = [np.full(40, r) for r in (10.0, 3.0, 0.0)]
    lo, hi = stats.bootstrap_auc(ALPHAS, constant, num_samples=200)
    assert lo == hi == stats.auc(ALPHAS, [10.0, 3.0, 0.0])


def test_stratified_bootstrap_keeps_each_seeds_count():
    """Two seeds with very different means: resampling within seeds removes the between-seed variance."""
    values = np.concatenate([np.full(50, 0.0), np.full(50, 10.0)]) + np.random.default_rng(0).normal(0, 0.1, 100)
    strata = np.repeat([0, 1], 50)
    lo_s, hi_s = stats.bootstrap_mean(values, strata, num_samples=500)
    lo, hi = stats.bootstrap_mean(values, None, num_samples=500)
    assert lo_s < values.mean() < hi_s
    assert hi_s - lo_s < (hi - lo) / 10
    with pytest.raises(ValueError, match="one label per episode"):
        stats.bootstrap_mean(values, strata[:10])


def test_paired_difference_detects_a_known_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    level = rng.normal(0, 3, 256)                              # the level's own difficulty, shared by both methods
    a = np.stack([level + 5 - 2 * x + rng.normal(0, 1, 256) for x in ALPHAS])
    better = a + 0.3 + rng.normal(0, 0.5, a.shape)              # B = A + 0.3 with noise
    d = stats.paired_difference(ALPHAS, better, a, num_samples=1000, seed=0)
    assert d["diff"] == pytest.approx(0.3, abs=0.1)
    assert d["significant"] and 0 < d["ci95"][0] < d["diff"] < d["ci95"][1]
    null = a + rng.permutation(rng.normal(0, 0.5, a.size)).reshape(a.shape)   # same mean, noise only
    n = stats.paired_difference(ALPHAS, null, a, num_samples=1000, seed=0)
    assert not n["significant"] and n["ci95"][0] < 0 < n["ci95"][1]
    # The pairing matters: unpaired intervals of the two AUCs overlap, as the levels' spread swamps 0.3.
    lo_b, _ = stats.bootstrap_auc(ALPHAS, better, 1000)
    _, hi_a = stats.bootstrap_auc(ALPHAS, a, 1000)
    assert lo_b < hi_a


def test_subsample_auc_matches_sampling_without_replacement():
    rng = np.random.default_rng(1)
    episodes = np.stack([rng.normal(5 - 2 * x, 2, 768) for x in ALPHAS])
    s = stats.subsample_auc(ALPHAS, episodes, num_subsamples=1000, seed=0)
    assert s["size"] == 256 and s["num_subsamples"] == 1000        # > 256 pooled episodes: subsamples of 256
    # Alphas draw independently; the mean of K of N without replacement has variance var/K * (N-K)/(N-1).
    weights = np.array([0.25, 0.5, 0.25])                          # trapezoid weights of 0, 0.5, 1
    var = episodes.var(axis=1) / 256 * (768 - 256) / 767
    assert s["std"] == pytest.approx(np.sqrt(np.sum(weights ** 2 * var)), rel=0.1)
    assert s["mean"] == pytest.approx(stats.auc(ALPHAS, episodes.mean(1)), abs=3 * s["std"] / np.sqrt(1000))
    assert stats.subsample_auc(ALPHAS, episodes[:, :256])["size"] == 32     # 256 or fewer: 32, as YRC-Bench
    whole = stats.subsample_auc(ALPHAS, episodes[:, :20])                  # fewer than 32: every subsample is all
    assert whole["size"] == 20 and whole["std"] == pytest.approx(0, abs=1e-12)
    assert whole["mean"] == pytest.approx(stats.auc(ALPHAS, episodes[:, :20].mean(1)))
    with pytest.raises(ValueError, match="size <= 20"):
        stats.subsample_auc(ALPHAS, episodes[:, :20], size=21)
