"""AskEveryK: ask the expert at the first step of an episode and every k steps after; grid search over k."""
import jax.numpy as jnp

from duo_jax.coordinators.grid_search import register_grid_search
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


def _check_ask_every_k(config) -> None:
    ks = tuple(config.algorithm.candidates)
    if not ks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise ValueError(f"algorithm.candidates must be a non-empty list of integers k >= 1; got {ks!r}.")


def ask_every_k(key, policy, task, config):
    """The candidates: every k of the config."""
    del key, policy, task
    return [{"k": int(k)} for k in config.algorithm.candidates]


register_policy("ask_every_k", ask_every_k_policy)
register_grid_search("ask_every_k", ask_every_k, check=_check_ask_every_k)
