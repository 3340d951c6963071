"""One coordination step, jitted: novice + expert forward, coordinator decision, base action, costs.

Costs (DESIGN.md): every expert step costs alpha*BP; a switch of agent costs beta*BP when it
happens inside an episode (never at an episode's first step).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from duo_jax.agents.agent import Agent, sample_action
from duo_jax.core.policy import EXPERT, Policy


class Costs(NamedTuple):
    alpha: float | jnp.ndarray
    beta: float | jnp.ndarray
    bp: float | jnp.ndarray


class CoordState(NamedTuple):
    policy_state: object       # leaves shaped [C, N, ...]
    prev_action: jnp.ndarray   # [C*N] last coordinator action


def step_cost(action, prev_action, first, costs: Costs) -> jnp.ndarray:
    expert = (action == EXPERT).astype(jnp.float32)
    switched = ((action != prev_action) & ~first).astype(jnp.float32)
    return (costs.alpha * expert + costs.beta * switched) * costs.bp


def coordinator_obs(obs, novice: Agent, expert: Agent, open_expert: bool) -> tuple[dict, tuple, tuple]:
    n_logits, _, n_hidden = novice.apply(novice.params, obs)
    e_logits, _, e_hidden = expert.apply(expert.params, obs)
    cobs = {"base_obs": obs, "novice_hidden": n_hidden, "novice_logits": n_logits}
    if open_expert:
        cobs.update(expert_hidden=e_hidden, expert_logits=e_logits)
    return cobs, n_logits, e_logits


def make_coord_step(policy: Policy, novice: Agent, expert: Agent, num_candidates: int,
                    open_expert: bool = False, temperature: float = 1.0):
    """Returns (init, step). The env batch is candidate-major: slot c*N + i runs candidate c on episode i.

    `step(params, state, obs, first, costs, key) -> (env_action, coord_action, cost, state)` where
    `params` has a leading candidate axis and `first[j]` says obs j starts an episode.
    """
    C = num_candidates

    def split_c(x):
        return x.reshape(C, x.shape[0] // C, *x.shape[1:])

    def init(num_envs: int) -> CoordState:
        if num_envs % C:
            raise ValueError(f"num_envs ({num_envs}) must be a multiple of the number of candidates ({C}).")
        single = policy.init(num_envs // C)
        pstate = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (C, *jnp.shape(x))), single)
        return CoordState(pstate, jnp.zeros((num_envs,), jnp.int32))

    @jax.jit
    def step(params, state: CoordState, obs, first, costs: Costs, key):
        k_pol, k_nov, k_exp = jax.random.split(key, 3)
        cobs, n_logits, e_logits = coordinator_obs(obs, novice, expert, open_expert)
        pstate = jax.vmap(policy.reset)(state.policy_state, split_c(first))
        action, pstate = jax.vmap(policy.act)(
            params, pstate, jax.tree_util.tree_map(split_c, cobs), jax.random.split(k_pol, C)
        )
        action = action.reshape(-1).astype(jnp.int32)
        env_action = jnp.where(
            action == EXPERT, sample_action(e_logits, k_exp, temperature), sample_action(n_logits, k_nov, temperature)
        )
        cost = step_cost(action, state.prev_action, first, costs)
        return env_action, action, cost, CoordState(pstate, action)

    return init, step
