"""Logit: ask the expert when the novice is unsure, i.e. when its confidence score is below a threshold.

Scores are computed on `novice_logits / temperature`; higher means more confident for every metric. The candidate
thresholds are percentiles of the scores of the novice's own states on the training split (calibration.py), at
every exploration and scoring temperature.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from duo_jax.coordinators.calibration import at_percentiles, calibration_task, check_common, rollouts
from duo_jax.coordinators.grid_search import register_grid_search
from duo_jax.core.policy import EXPERT, NOVICE, Policy, stateless_reset
from duo_jax.core.registry import register_policy


def _margin(logits):
    top2 = jax.lax.top_k(jax.nn.softmax(logits, axis=-1), 2)[0]
    return top2[..., 0] - top2[..., 1]


def _neg_entropy(logits):
    logp = jax.nn.log_softmax(logits, axis=-1)
    return (jnp.exp(logp) * logp).sum(-1)


METRICS = {
    "max_logit": lambda logits: logits.max(-1),
    "max_prob": lambda logits: jax.nn.softmax(logits, axis=-1).max(-1),
    "margin": _margin,                                        # top-1 minus top-2 probability
    "neg_entropy": _neg_entropy,
    "neg_energy": lambda logits: jax.nn.logsumexp(logits, axis=-1),
}


def check_metric(metric: str, field: str = "policy.metric") -> None:
    if metric not in METRICS:
        raise ValueError(f"{field} must be one of {', '.join(METRICS)}; got {metric!r}.")


def confidence(metric: str, logits: jnp.ndarray, temperature) -> jnp.ndarray:
    """[B] confidence score of [B, A] logits; works on numpy input too (returns a jax array)."""
    return METRICS[metric](jnp.asarray(logits, jnp.float32) / temperature)


def logit_policy(config) -> Policy:
    """config: {metric}; params: {"threshold": float, "temperature": float}."""
    metric = config.metric
    check_metric(metric)

    def init(num_envs: int):
        return jnp.zeros((num_envs,), jnp.int32)

    def act(params, state, obs, key):
        del key
        score = confidence(metric, obs["novice_logits"], params["temperature"])
        return jnp.where(score < params["threshold"], EXPERT, NOVICE).astype(jnp.int32), state

    return Policy(init, stateless_reset, act, reads=frozenset({"novice_logits"}))


def _check_logit(config) -> None:
    check_common(config)
    check_metric(config.policy.metric)
    if not tuple(config.algorithm.score_temps):
        raise ValueError("algorithm.score_temps must be a non-empty list of numbers > 0; got ().")


def logit(key, policy, task, config):
    del policy
    a, candidates, task = config.algorithm, [], calibration_task(task, config)
    for explore_temp in a.explore_temps:
        key, k = jax.random.split(key)
        logits = rollouts(k, task, config, float(explore_temp))["novice_logits"]
        for score_temp in a.score_temps:
            scores = np.asarray(confidence(config.policy.metric, logits, float(score_temp)))
            candidates += [
                {"threshold": t, "temperature": float(score_temp)} for t in at_percentiles(scores, a.percentiles)
            ]
    return candidates


register_policy("logit", logit_policy)
register_grid_search("logit", logit, check=_check_logit)
