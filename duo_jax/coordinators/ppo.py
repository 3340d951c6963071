"""PPO: a learned coordinator, an actor-critic network over a feature type choosing NOVICE or EXPERT, trained
with PPO on the coordination environment of the train split (the skyline: `algorithm.train_split="test"`).

Its network is in ppo_network.py; the trainers are ppo_jax.py (JAX-native envs, every alpha of a sweep at once)
and ppo_host.py (host envs, Procgen).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from duo_jax.coordinators.features import check_feature_type, feature_reads
from duo_jax.coordinators.ppo_host import train_host
from duo_jax.coordinators.ppo_jax import train_alphas
from duo_jax.coordinators.ppo_network import coordinator_apply
from duo_jax.core.policy import Policy, stateless_reset
from duo_jax.core.registry import register_algorithm, register_policy
from duo_jax.core.task import TrainTask
from duo_jax.validate import FRACTION, POSITIVE_INT, check_divides, check_rules


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


# The rules of validate.py (one definition of each), here for the fields of PPO.
_POSITIVE = ("total_steps", "num_envs", "num_steps", "num_epochs", "num_minibatches", "eval_every", "time_limit")
_RULES = {
    **{f"algorithm.{field}": POSITIVE_INT for field in _POSITIVE},
    **{f"algorithm.{field}": FRACTION for field in ("learning_rate", "gamma", "gae_lambda", "clip_eps")},
}


def _check_ppo(config) -> None:
    check_rules(config, _RULES)
    check_divides(config, "algorithm")
    if config.policy.name != "ppo":
        raise ValueError(f"algorithm ppo trains the 'ppo' policy; set policy.name='ppo' (got {config.policy.name!r}).")
    check_feature_type(config.policy.feature_type, "policy.feature_type")


def ppo(key, policy, task: TrainTask, validators, config):
    """On a JAX-native env the JAX trainer at this one alpha, else the host trainer."""
    if task.env.jax_split is not None:
        return train_alphas(key, policy, task, validators, config, (float(config.costs.alpha),))[0]
    return train_host(key, policy, task, validators, config)


register_policy("ppo", ppo_policy)
register_algorithm("ppo", ppo, check=_check_ppo, alpha_sweep=train_alphas)
