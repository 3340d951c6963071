"""OOD: ask the expert when the state looks unlike those the novice visited in training.

The detector is Deep SVDD (deep_svdd.py) on a feature type (`obs`, `hidden`, `dist` or a concatenation), fitted on
the novice's own states on the training split (calibration.py). A high anomaly score means out of distribution, so
the expert is asked when the score is ABOVE the threshold (the reference asked when it was below). The candidate
thresholds are percentiles of the fitting states' scores, or with algorithm.threshold_rule="contamination"
(YRC-Bench's rule) one threshold per detector.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from duo_jax.coordinators.calibration import at_percentiles, calibration_task, check_common, rollouts
from duo_jax.coordinators.deep_svdd import fit_svdd, svdd_score
from duo_jax.coordinators.features import check_feature_type, extract, feature_reads, parts
from duo_jax.coordinators.grid_search import register_grid_search
from duo_jax.core.curves import open_curves
from duo_jax.core.policy import EXPERT, NOVICE, Policy, stateless_reset
from duo_jax.core.registry import register_policy


def ood_policy(config) -> Policy:
    """config: {feature_type, hidden_dim, rep_dim}; params: {"svdd": fit_svdd(...) pytree, "threshold": float}."""
    check_feature_type(config.feature_type, "policy.feature_type")
    feature_type, hidden_dim, rep_dim = config.feature_type, config.hidden_dim, config.rep_dim

    def init(num_envs: int):
        return jnp.zeros((num_envs,), jnp.int32)

    def act(params, state, obs, key):
        del key
        score = svdd_score(params["svdd"], extract(obs, feature_type), hidden_dim, rep_dim)
        return jnp.where(score > params["threshold"], EXPERT, NOVICE).astype(jnp.int32), state

    return Policy(init, stateless_reset, act, reads=feature_reads(feature_type))



# algorithm.threshold_rule of `ood`: DuoAI's per-alpha search over percentiles of the fitting states' scores, or
# YRC-Bench's one threshold per detector (pyod's contamination rule on held-out scores).
PERCENTILE_SEARCH, CONTAMINATION = "percentile_search", "contamination"
THRESHOLD_RULES = (PERCENTILE_SEARCH, CONTAMINATION)


def _check_ood(config) -> None:
    check_common(config)
    check_feature_type(config.policy.feature_type, "policy.feature_type")
    a = config.algorithm
    if not 0 < a.accept_rate <= 1:
        raise ValueError(f"algorithm.accept_rate must be in (0, 1]; got {a.accept_rate!r}.")
    for field in ("epochs", "batch_size"):
        if not isinstance(a[field], int) or a[field] < 1:
            raise ValueError(f"algorithm.{field} must be a positive integer; got {a[field]!r}.")
    rule = a.get("threshold_rule", PERCENTILE_SEARCH)
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"algorithm.threshold_rule must be one of {', '.join(THRESHOLD_RULES)}; got {rule!r}.")
    c = a.get("contamination", 0.1)
    if rule == CONTAMINATION and not (isinstance(c, float | int) and not isinstance(c, bool) and 0 < c < 1):
        raise ValueError(f"algorithm.contamination must be a number in (0, 1); got {c!r}.")


def _scores(svdd, features: dict, hidden_dim: int, rep_dim: int, batch_size: int = 1024) -> np.ndarray:
    score = jax.jit(functools.partial(svdd_score, hidden_dim=hidden_dim, rep_dim=rep_dim))
    n = len(next(iter(features.values())))
    return np.concatenate(
        [
            np.asarray(score(svdd, {k: v[s : s + batch_size] for k, v in features.items()}))
            for s in range(0, n, batch_size)
        ]
    )


def _held_out_threshold(key, task, config, explore_temp: float, svdd) -> float:
    """YRC-Bench's one threshold (pyod's contamination rule): the (1 - contamination) percentile of the detector's
    scores on a second, held-out set of the novice's training-split rollouts (`num_rollouts` more episodes, on
    levels drawn with evaluation.seed + 1), not on the states it was fitted on."""
    a, p, ev = config.algorithm, config.policy, config.evaluation
    data = rollouts(key, task, config, explore_temp, a.accept_rate, "obs" in parts(p.feature_type), ev.seed + 1)
    scores = _scores(svdd, jax.device_get(extract(data, p.feature_type)), p.hidden_dim, p.rep_dim)
    return float(np.percentile(scores, 100 * (1 - a.get("contamination", 0.1))))


def ood(key, policy, task, config):
    del policy
    a, p, candidates, task = config.algorithm, config.policy, [], calibration_task(task, config)
    with open_curves(task.logdir, config) as curves:
        for explore_temp in a.explore_temps:
            key, k_data, k_fit = jax.random.split(key, 3)
            data = rollouts(k_data, task, config, float(explore_temp), a.accept_rate, "obs" in parts(p.feature_type))
            features = jax.device_get(extract(data, p.feature_type))
            tag = f"deep_svdd/explore_temp_{float(explore_temp):g}/"
            svdd = fit_svdd(
                k_fit,
                features,
                a.epochs,
                a.batch_size,
                a.learning_rate,
                a.weight_decay,
                p.hidden_dim,
                p.rep_dim,
                log=lambda step, scalars, tag=tag: curves.write(step, {tag + k: v for k, v in scalars.items()}),
            )
            scores = _scores(svdd, features, p.hidden_dim, p.rep_dim)
            logging.info(
                "Deep SVDD train scores: mean %.4f, percentiles %s", scores.mean(),
                at_percentiles(scores, a.percentiles),
            )
            if a.get("threshold_rule", PERCENTILE_SEARCH) == CONTAMINATION:
                thresholds = [_held_out_threshold(jax.random.fold_in(k_data, 1), task, config, explore_temp, svdd)]
            else:
                thresholds = at_percentiles(scores, a.percentiles)
            candidates += [{"svdd": svdd, "threshold": t} for t in thresholds]
    return candidates


register_policy("ood", ood_policy)
register_grid_search("ood", ood, check=_check_ood)
