# The first tutorial's plugin (examples/ask_first_k.py at cc06496, quoted by docs/add_a_new_algorithm.md), verbatim
# but for the registered names: an algorithm (key, policy, envs, validators, config) calling grid_search(key, ...).
"""AskFirstK, a user plugin: ask the expert for the first k steps of each episode, then the novice.

Nothing in the package is edited: a config names this file in `plugins`, and duo_jax imports it
before it looks up `policy.name` and `algorithm.name`.

    python -m duo_jax.main --config configs/ask_first_k.py
"""
import jax.numpy as jnp

from duo_jax import EXPERT, NOVICE, Policy, grid_search, register_algorithm, register_policy


def ask_first_k_policy(config=None) -> Policy:
    """params: {"k": int >= 1}; state: per-env step counter, reset to 0 when an episode starts."""
    del config

    def init(num_envs: int):
        return jnp.zeros((num_envs,), jnp.int32)

    def reset(step, done):
        return jnp.where(done, 0, step)

    def act(params, step, obs, key):
        del obs, key
        return jnp.where(step < params["k"], EXPERT, NOVICE), step + 1

    return Policy(init, reset, act)


def check_ask_first_k(config) -> None:
    ks = tuple(config.algorithm.candidates)
    if not ks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise ValueError(f"algorithm.candidates must be a non-empty list of integers k >= 1; got {ks!r}.")


def ask_first_k(key, policy, envs, validators, config):
    """Grid search over k: every candidate runs in one batched rollout per split, on the same levels."""
    del envs
    return grid_search(key, policy, validators, [{"k": int(k)} for k in config.algorithm.candidates])


register_policy("ask_first_k_tutorial_v1", ask_first_k_policy)
register_algorithm("ask_first_k_tutorial_v1", ask_first_k, check=check_ask_first_k)
