"""Policies that ignore the observation: always one agent, or the expert at random."""
import jax
import jax.numpy as jnp

from duo_jax.core.policy import EXPERT, NOVICE, Policy, stateless_reset
from duo_jax.core.registry import register_policy


def _no_state(num_envs: int):
    return jnp.zeros((num_envs,), jnp.int32)


def always_policy(config=None) -> Policy:
    """params: {"expert": 0 or 1}: the agent that always acts."""
    del config

    def act(params, state, obs, key):
        del key
        n = obs["base_obs"].shape[0]
        return jnp.full((n,), jnp.where(params["expert"] > 0, EXPERT, NOVICE), jnp.int32), state

    return Policy(_no_state, stateless_reset, act, reads=frozenset({"base_obs"}))  # only its batch size


def random_policy(config=None) -> Policy:
    """params: {"prob": float in [0, 1]}: ask the expert with this probability at each step."""
    del config

    def act(params, state, obs, key):
        n = obs["base_obs"].shape[0]
        ask = jax.random.uniform(key, (n,)) < params["prob"]
        return jnp.where(ask, EXPERT, NOVICE).astype(jnp.int32), state

    return Policy(_no_state, stateless_reset, act, reads=frozenset({"base_obs"}))  # only its batch size


register_policy("always", always_policy)
register_policy("random", random_policy)
