"""PPO coordinator policy: an actor-critic network over a feature type, choosing NOVICE or EXPERT."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from duo_jax.core.policy import Policy, stateless_reset
from duo_jax.core.registry import register_policy
from duo_jax.policies.features import FeatureEncoder, check_feature_type, extract, feature_reads


class CoordinatorNet(nn.Module):
    """Features -> 256 ReLU -> (logits over {NOVICE, EXPERT}, value, hidden), the base agents' head layout."""

    hidden_dim: int = 256

    @nn.compact
    def __call__(self, features: dict):
        x = FeatureEncoder(self.hidden_dim)(features)
        hidden = nn.relu(nn.Dense(self.hidden_dim)(x))
        logits = nn.Dense(2, kernel_init=nn.initializers.orthogonal(0.01))(hidden)
        value = nn.Dense(1, kernel_init=nn.initializers.orthogonal(1.0))(hidden)[..., 0]
        return logits, value, hidden


def coordinator_apply(feature_type: str, hidden_dim: int = 256):
    """`apply(params, cobs) -> (logits, value, hidden)` on a coordinator observation."""
    net = CoordinatorNet(hidden_dim)

    def apply(params, cobs):
        return net.apply(params, extract(cobs, feature_type))

    return apply


def init_coordinator(key, feature_type: str, cobs: dict, hidden_dim: int = 256):
    return CoordinatorNet(hidden_dim).init(key, extract(cobs, feature_type))


def ppo_policy(config) -> Policy:
    """config: {feature_type, hidden_dim, greedy}; params: the network's params.

    Acting samples from the network's distribution (as in training), or takes its argmax if `greedy`.
    """
    check_feature_type(config.feature_type, "policy.feature_type")
    apply, greedy = coordinator_apply(config.feature_type, config.hidden_dim), bool(config.greedy)

    def init(num_envs: int):
        return jnp.zeros((num_envs,), jnp.int32)

    def act(params, state, obs, key):
        logits, _, _ = apply(params, obs)
        action = jnp.argmax(logits, -1) if greedy else jax.random.categorical(key, logits, axis=-1)
        return action.astype(jnp.int32), state

    return Policy(init, stateless_reset, act, reads=feature_reads(config.feature_type))


register_policy("ppo", ppo_policy)
