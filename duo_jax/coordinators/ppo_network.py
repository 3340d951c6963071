"""The PPO coordinator's actor-critic network over a feature type: the `ppo` policy acts with it and both
trainers (ppo_host.py, ppo_jax.py) train it."""
from __future__ import annotations

import functools

import flax.linen as nn

from duo_jax.coordinators.features import FeatureEncoder, extract


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


@functools.lru_cache(maxsize=32)
def coordinator_apply(feature_type: str, hidden_dim: int = 256):
    """`apply(params, cobs) -> (logits, value, hidden)` on a coordinator observation; one function per network,
    so the jitted callers that take it compile once."""
    net = CoordinatorNet(hidden_dim)

    def apply(params, cobs):
        return net.apply(params, extract(cobs, feature_type))

    return apply


def init_coordinator(key, feature_type: str, cobs: dict, hidden_dim: int = 256):
    return CoordinatorNet(hidden_dim).init(key, extract(cobs, feature_type))
