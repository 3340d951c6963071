"""AskEveryK: ask the expert at the first step of an episode and every k steps after."""
import jax.numpy as jnp

from duo_jax.core.policy import EXPERT, NOVICE, Policy
from duo_jax.core.registry import register_policy


def ask_every_k_policy(config=None) -> Policy:
    """params: {"k": int >= 1}; state: per-env step counter."""
    del config

    def init(num_envs: int):
        return jnp.zeros((num_envs,), jnp.int32)

    def reset(step, done):
        return jnp.where(done, 0, step)

    def act(params, step, obs, key):
        del obs, key
        return jnp.where(step % params["k"] == 0, EXPERT, NOVICE), step + 1

    return Policy(init, reset, act, reads=frozenset())  # reads nothing: the agents run only where they act


register_policy("ask_every_k", ask_every_k_policy)
