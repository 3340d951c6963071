"""Logit: ask the expert when the novice is unsure, i.e. when its confidence score is below a threshold.

Scores are computed on `novice_logits / temperature`; higher means more confident for every metric.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

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


register_policy("logit", logit_policy)
