"""Statistics of a cost sweep: the AUC of test reward over alpha, its intervals and paired differences.

Every alpha of a sweep plays the same fixed test levels with the same per-episode random streams, and
so does every method run with the same evaluation seed. An episode's rewards across alphas therefore
form one observation, and the AUC is the mean over episodes of each episode's own trapezoid over alpha
(`episode_aucs`). Bootstraps resample whole episodes (the same indices at every alpha and, for a
difference, for both methods), stratified by evaluation seed so each seed keeps its episode count.
"""
from __future__ import annotations

import numpy as np
import scipy.stats


def trapezoid(alphas, values) -> np.ndarray:
    """Trapezoid rule along axis 0 (numpy 1.26 has no `np.trapezoid`); `values` may carry extra axes."""
    alphas, values = np.asarray(alphas, float), np.asarray(values, float)
    dx = np.diff(alphas).reshape((-1,) + (1,) * (values.ndim - 1))
    return np.sum(dx * (values[1:] + values[:-1]) / 2, axis=0)


def check_alphas(alphas, num_values: int) -> np.ndarray:
    alphas = np.asarray(alphas, float)
    if alphas.ndim != 1 or len(alphas) < 2 or len(alphas) != num_values:
        raise ValueError(
            f"an AUC needs at least 2 alphas and one reward per alpha, got {alphas.shape[0] if alphas.ndim else 0} "
            f"alphas and {num_values} rewards."
        )
    if np.any(np.diff(alphas) <= 0):
        raise ValueError(f"an AUC needs strictly increasing alphas, got {alphas.tolist()}.")
    return alphas


def auc(alphas, rewards) -> float:
    rewards = np.asarray(rewards, float)
    if rewards.ndim != 1:
        raise ValueError(f"auc takes one reward per alpha, got an array of shape {rewards.shape}.")
    return float(trapezoid(check_alphas(alphas, len(rewards)), rewards))


def episode_matrix(alphas, episode_rewards) -> np.ndarray:
    """(alphas, episodes) array; every alpha must hold the same episodes (the same fixed test levels)."""
    sizes = [np.size(r) for r in episode_rewards]
    if len(set(sizes)) != 1 or sizes[0] < 2:
        raise ValueError(
            f"the AUC statistics need the same number (>= 2) of test episodes at every alpha, got {sizes}."
        )
    episodes = np.asarray([np.ravel(r) for r in episode_rewards], float)
    check_alphas(alphas, len(episodes))
    return episodes


def episode_aucs(alphas, episode_rewards) -> np.ndarray:
    """Each episode's trapezoid over alpha; their mean is the AUC of the per-alpha mean rewards."""
    return trapezoid(alphas, episode_matrix(alphas, episode_rewards))


def _split(values: np.ndarray, strata) -> tuple[np.ndarray, ...]:
    if strata is None:
        return (values,)
    strata = np.asarray(strata)
    if strata.shape != values.shape:
        raise ValueError(f"strata needs one label per episode ({values.shape[0]}), got {strata.shape[0]}.")
    groups = tuple(values[strata == s] for s in np.unique(strata))
    if min(g.size for g in groups) < 2:
        raise ValueError("a stratified bootstrap needs at least 2 test episodes per seed.")
    return groups


def _mean_of(*groups, axis=-1):
    return np.concatenate(groups, axis=axis).mean(axis=axis)


def bootstrap_mean(values, strata=None, num_samples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean, resampling within each stratum (`scipy.stats.bootstrap`)."""
    values = np.asarray(values, float).ravel()
    if values.size < 2 or num_samples < 1:
        raise ValueError("a bootstrap needs at least 2 values and num_samples >= 1.")
    groups = _split(values, strata)
    if all(np.ptp(g) == 0 for g in groups):  # nothing varies: every resample has the same mean
        point = float(values.mean())
        return point, point
    result = scipy.stats.bootstrap(
        groups,
        _mean_of,
        n_resamples=num_samples,
        vectorized=True,
        paired=False,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return float(ci.low), float(ci.high)


def bootstrap_auc(alphas, episode_rewards, num_samples: int = 1000, seed: int = 0, strata=None) -> tuple[float, float]:
    """95% interval of the AUC over resampled test episodes (the same episodes at every alpha)."""
    return bootstrap_mean(episode_aucs(alphas, episode_rewards), strata, num_samples, seed)


def paired_difference(alphas, episodes_a, episodes_b, strata=None, num_samples: int = 1000, seed: int = 0) -> dict:
    """AUC(a) - AUC(b) on the same test episodes, with the 95% interval of resampling those episodes.

    `significant` is True when the interval excludes 0: then a beats b (diff > 0) or loses to it.
    """
    a, b = episode_aucs(alphas, episodes_a), episode_aucs(alphas, episodes_b)
    if a.shape != b.shape:
        raise ValueError(f"a paired difference needs the same test episodes, got {a.size} and {b.size}.")
    lo, hi = bootstrap_mean(a - b, strata, num_samples, seed)
    return {"diff": float(np.mean(a - b)), "ci95": [lo, hi], "significant": bool(lo > 0 or hi < 0)}


def subsample_size(num_episodes: int) -> int:
    """YRC-Bench's rule: 256 episodes when more than 256 were played (several seeds pooled), else 32."""
    return min(256 if num_episodes > 256 else 32, num_episodes)


def subsample_auc(alphas, episode_rewards, num_subsamples: int = 1000, size: int | None = None, seed: int = 0) -> dict:
    """The paper's statistic: mean and std of the AUC over `num_subsamples` draws of `size` episodes.

    As in YRC-Bench's analysis script, each alpha draws its own episodes without replacement from its
    pooled test episodes (independent across alphas); `size` defaults to `subsample_size`.
    """
    episodes = episode_matrix(alphas, episode_rewards)
    num_alphas, n = episodes.shape
    size = subsample_size(n) if size is None else size
    if not 1 <= size <= n or num_subsamples < 2:
        raise ValueError(
            f"subsample_auc needs 1 <= size <= {n} episodes and num_subsamples >= 2, got {size} and {num_subsamples}."
        )
    rng = np.random.default_rng(seed)
    order = rng.permuted(np.broadcast_to(np.arange(n), (num_alphas, num_subsamples, n)), axis=-1)[..., :size]
    means = np.take_along_axis(episodes[:, None, :], order, axis=-1).mean(-1)  # (alphas, subsamples)
    aucs = trapezoid(alphas, means)
    return {
        "mean": float(aucs.mean()),
        "std": float(aucs.std()),
        "size": int(size),
        "num_subsamples": int(num_subsamples),
    }
