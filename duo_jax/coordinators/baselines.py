"""Baselines that ignore the observation: always one agent (novice or expert), or the expert at random; grid
searches over their settings."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from duo_jax.coordinators.grid_search import register_grid_search
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


def _check_always(config) -> None:
    if config.algorithm.agent not in ("novice", "expert"):
        raise ValueError(f"algorithm.agent must be 'novice' or 'expert'; got {config.algorithm.agent!r}.")


def always(key, policy, task, config):
    del key, policy, task
    return [{"expert": int(config.algorithm.agent == "expert")}]


def _check_random(config) -> None:
    probs = tuple(config.algorithm.probabilities)
    if not probs or not all(isinstance(p, (int, float)) and 0.0 <= p <= 1.0 for p in probs):
        raise ValueError(f"algorithm.probabilities must be a non-empty list of numbers in [0, 1]; got {probs!r}.")


def random(key, policy, task, config):
    del key, policy, task
    return [{"prob": float(p)} for p in config.algorithm.probabilities]


register_policy("always", always_policy)
register_grid_search("always", always, check=_check_always)
register_policy("random", random_policy)
register_grid_search("random", random, check=_check_random)
