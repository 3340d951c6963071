"""OOD: ask the expert when the state looks unlike those the novice visited in training.

The detector is Deep SVDD on a feature type (`obs`, `hidden`, `dist` or a concatenation). A high
anomaly score means out of distribution, so the expert is asked when the score is ABOVE the
threshold (the reference asked when it was below).
"""
from __future__ import annotations

import jax.numpy as jnp

from duo_jax.algorithms.deep_svdd import svdd_score
from duo_jax.core.policy import EXPERT, NOVICE, Policy, stateless_reset
from duo_jax.core.registry import register_policy
from duo_jax.policies.features import check_feature_type, extract, feature_reads


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


register_policy("ood", ood_policy)
