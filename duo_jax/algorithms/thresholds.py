"""Threshold methods: candidate thresholds are percentiles of scores of the novice's own training states.

logit: the novice's confidence (low = ask). ood: a Deep SVDD anomaly score (high = ask). Both roll the
novice out alone on the training split once per exploration temperature, and the candidates (one per
percentile, and per scoring temperature for logit) are then evaluated in one batched rollout per split.
ood with algorithm.threshold_rule="contamination" (YRC-Bench's rule) proposes one threshold per detector instead.
algorithm.calibrate_on="deployed_novice" rolls out the test pair's novice instead of the train pair's (the
simulated novice under YRC-0): a sensitivity analysis of what calibrating on the simulated novice costs.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib

import jax
import numpy as np
from absl import logging

from duo_jax.algorithms.deep_svdd import fit_svdd, svdd_score
from duo_jax.algorithms.grid_search import register_grid_search
from duo_jax.algorithms.novice_rollouts import novice_rollouts
from duo_jax.core.curves import open_curves
from duo_jax.policies.features import check_feature_type, extract, parts
from duo_jax.policies.logit import check_metric, confidence

# The last novice rollouts per keep_prob and level seed, so that the rows of one seed (logit_<metric> x5,
# ood_<feature> x7) fit on one set (and score one held-out set): the same key, novice, env and settings give the
# same states, with or without their frames.
_CACHE: dict = {}
CACHE_MAX_BYTES = 256 << 20
CACHE_MAX_ENTRIES = 3   # one seed's sets: logit's, ood's, ood's held-out

# algorithm.threshold_rule of `ood`: DuoAI's per-alpha search over percentiles of the fitting states' scores, or
# YRC-Bench's one threshold per detector (pyod's contamination rule on held-out scores).
PERCENTILE_SEARCH, CONTAMINATION = "percentile_search", "contamination"
THRESHOLD_RULES = (PERCENTILE_SEARCH, CONTAMINATION)
# algorithm.calibrate_on of `logit` and `ood`: whose training-split rollouts give the thresholds (and fit the
# detector): the task's own novice (the train pair's: the simulated novice, as the references do), or the novice
# the coordinator will be deployed with (YRC-0 allows its own training-level rollouts).
CALIBRATIONS = ("train_novice", "deployed_novice")


def _calibration_task(task, config):
    """The task whose novice the rollouts play: `task`, or `task` with the deployed novice."""
    if config.algorithm.get("calibrate_on", CALIBRATIONS[0]) == CALIBRATIONS[0]:
        return task
    if task.deployed_novice is None:
        raise ValueError("algorithm.calibrate_on=deployed_novice needs the deployed novice, and this task has none "
                         "(TrainTask.deployed_novice).")
    return dataclasses.replace(task, novice=task.deployed_novice)


def _cache_key(key, task, config, explore_temp: float, keep_prob: float, seed: int) -> tuple:
    a, ev = config.algorithm, config.evaluation
    digest = hashlib.sha1(np.asarray(jax.random.key_data(key)).tobytes())
    for leaf in jax.tree.leaves(task.novice.params):
        digest.update(np.asarray(leaf).tobytes())
    return (config.env.to_json(), task.split, task.novice.config.get("model"), digest.hexdigest(), keep_prob,
            a.num_rollouts, min(a.num_rollouts, ev.num_envs), ev.max_num_steps, explore_temp, seed)


def _rollouts(key, task, config, explore_temp: float, keep_prob: float = 1.0, with_obs: bool = False,
              seed: int | None = None) -> dict:
    """The novice's rollouts on `task.split`'s levels drawn with `seed` (default evaluation.seed)."""
    a, ev = config.algorithm, config.evaluation
    seed = ev.seed if seed is None else seed
    cache_key = _cache_key(key, task, config, explore_temp, keep_prob, seed)
    cached = _CACHE.get((keep_prob, seed))
    if cached is not None and cached[0] == cache_key and (not with_obs or "base_obs" in cached[1]):
        data = {k: v for k, v in cached[1].items() if with_obs or k != "base_obs"}
    else:
        data = novice_rollouts(
            key, task, a.num_rollouts, min(a.num_rollouts, ev.num_envs), ev.max_num_steps, explore_temp, keep_prob,
            with_obs, seed, ev.progress,
        )
        if sum(v.nbytes for v in data.values()) <= CACHE_MAX_BYTES:
            _CACHE.pop((keep_prob, seed), None)
            _CACHE[keep_prob, seed] = (cache_key, data)
            while len(_CACHE) > CACHE_MAX_ENTRIES:
                _CACHE.pop(next(iter(_CACHE)))   # the oldest
    logging.info(
        "novice rollouts on %s at temperature %s: %d states", task.split, explore_temp, len(data["novice_logits"])
    )
    return data


def _percentiles(scores: np.ndarray, percentiles) -> list[float]:
    return [float(np.percentile(scores, q)) for q in percentiles]


def _check_common(config) -> None:
    a, ev = config.algorithm, config.evaluation
    n = a.num_rollouts
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0 or n % min(n, ev.num_envs):
        raise ValueError(
            f"algorithm.num_rollouts must be a positive integer divisible by min(it, evaluation.num_envs); got {n!r}."
        )
    qs = tuple(a.percentiles)
    if not qs or not all(isinstance(q, (int, float)) and 0 <= q <= 100 for q in qs):
        raise ValueError(f"algorithm.percentiles must be a non-empty list of numbers in [0, 100]; got {qs!r}.")
    temps = tuple(a.explore_temps) + tuple(a.get("score_temps", ()))
    if not a.explore_temps or not all(isinstance(t, (int, float)) and t > 0 for t in temps):
        raise ValueError(
            f"algorithm.explore_temps and algorithm.score_temps must be non-empty lists of numbers > 0; got {temps!r}."
        )
    calibrate_on = a.get("calibrate_on", CALIBRATIONS[0])
    if calibrate_on not in CALIBRATIONS:
        raise ValueError(f"algorithm.calibrate_on must be one of {', '.join(CALIBRATIONS)}; got {calibrate_on!r}.")


def _check_logit(config) -> None:
    _check_common(config)
    check_metric(config.policy.metric)
    if not tuple(config.algorithm.score_temps):
        raise ValueError("algorithm.score_temps must be a non-empty list of numbers > 0; got ().")


@register_grid_search("logit", check=_check_logit)
def logit(key, policy, task, config):
    del policy
    a, candidates, task = config.algorithm, [], _calibration_task(task, config)
    for explore_temp in a.explore_temps:
        key, k = jax.random.split(key)
        logits = _rollouts(k, task, config, float(explore_temp))["novice_logits"]
        for score_temp in a.score_temps:
            scores = np.asarray(confidence(config.policy.metric, logits, float(score_temp)))
            candidates += [
                {"threshold": t, "temperature": float(score_temp)} for t in _percentiles(scores, a.percentiles)
            ]
    return candidates


def _check_ood(config) -> None:
    _check_common(config)
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
    data = _rollouts(key, task, config, explore_temp, a.accept_rate, "obs" in parts(p.feature_type), ev.seed + 1)
    scores = _scores(svdd, jax.device_get(extract(data, p.feature_type)), p.hidden_dim, p.rep_dim)
    return float(np.percentile(scores, 100 * (1 - a.get("contamination", 0.1))))


@register_grid_search("ood", check=_check_ood)
def ood(key, policy, task, config):
    del policy
    a, p, candidates, task = config.algorithm, config.policy, [], _calibration_task(task, config)
    with open_curves(task.logdir, config) as curves:
        for explore_temp in a.explore_temps:
            key, k_data, k_fit = jax.random.split(key, 3)
            data = _rollouts(k_data, task, config, float(explore_temp), a.accept_rate, "obs" in parts(p.feature_type))
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
                "Deep SVDD train scores: mean %.4f, percentiles %s", scores.mean(), _percentiles(scores, a.percentiles)
            )
            if a.get("threshold_rule", PERCENTILE_SEARCH) == CONTAMINATION:
                thresholds = [_held_out_threshold(jax.random.fold_in(k_data, 1), task, config, explore_temp, svdd)]
            else:
                thresholds = _percentiles(scores, a.percentiles)
            candidates += [{"svdd": svdd, "threshold": t} for t in thresholds]
    return candidates
