"""What the logit and ood methods fit on: the novice's own rollouts on the training split, cached across the rows of
a seed, the novice that plays them (`algorithm.calibrate_on`), percentiles of their scores, and the settings both
methods check.

Both roll the novice out alone on the training split once per exploration temperature; their candidates (one
per percentile) are then evaluated in one batched rollout per split. algorithm.calibrate_on="deployed_novice"
rolls out the test pair's novice instead of the train pair's (the simulated novice under YRC-0): a sensitivity
analysis of what calibrating on the simulated novice costs.
"""
from __future__ import annotations

import dataclasses
import hashlib

import jax
import numpy as np
from absl import logging

from duo_jax.coordinators.novice_rollouts import novice_rollouts

# The last novice rollouts per keep_prob and level seed, so that the rows of one seed (logit_<metric> x5,
# ood_<feature> x7) fit on one set (and score one held-out set): the same key, novice, env and settings give the
# same states, with or without their frames.
_CACHE: dict = {}
CACHE_MAX_BYTES = 256 << 20
CACHE_MAX_ENTRIES = 3   # one seed's sets: logit's, ood's, ood's held-out

# algorithm.calibrate_on of `logit` and `ood`: whose training-split rollouts give the thresholds (and fit the
# detector): the task's own novice (the train pair's: the simulated novice, as the references do), or the novice
# the coordinator will be deployed with (YRC-0 allows its own training-level rollouts).
CALIBRATIONS = ("train_novice", "deployed_novice")


def calibration_task(task, config):
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


def rollouts(key, task, config, explore_temp: float, keep_prob: float = 1.0, with_obs: bool = False,
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


def at_percentiles(scores: np.ndarray, percentiles) -> list[float]:
    return [float(np.percentile(scores, q)) for q in percentiles]


def check_common(config) -> None:
    """The settings of logit and ood alike: num_rollouts, percentiles, the temperatures, calibrate_on."""
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


