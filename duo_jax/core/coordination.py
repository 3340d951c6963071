"""One coordination step, jitted: novice + expert forward, coordinator decision, base action, costs.

Costs (DESIGN.md): every expert step costs alpha*BP; a switch of agent costs beta*BP when it
happens inside an episode (never at an episode's first step).
"""
from __future__ import annotations

import functools
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


def switched(action, prev_action, first):
    """A switch of agent inside an episode (never at its first step); numpy or jax arrays."""
    return (action != prev_action) & ~first


def cost_of(expert_steps, switches, costs: Costs):
    """Cost of `expert_steps` expert steps and `switches` switches: per step, or summed over an episode."""
    return (costs.alpha * expert_steps + costs.beta * switches) * costs.bp


def step_cost(action, prev_action, first, costs: Costs) -> jnp.ndarray:
    expert = (action == EXPERT).astype(jnp.float32)
    return cost_of(expert, switched(action, prev_action, first).astype(jnp.float32), costs)


def coordinator_obs(obs, novice_out: tuple, expert_out: tuple, open_expert: bool) -> dict:
    cobs = {"base_obs": obs, "novice_hidden": novice_out[2], "novice_logits": novice_out[0]}
    if open_expert:
        cobs.update(expert_hidden=expert_out[2], expert_logits=expert_out[0])
    return cobs


def observe(novice_apply, expert_apply, novice_params, expert_params, obs, open_expert: bool):
    """Both agents' forward passes and the coordinator observation built from them."""
    novice_out, expert_out = novice_apply(novice_params, obs), expert_apply(expert_params, obs)
    return novice_out, expert_out, coordinator_obs(obs, novice_out, expert_out, open_expert)


def base_action(action, novice_logits, expert_logits, key, temperature: float):
    """The environment action, sampled from the expert's logits where the coordinator asked for it, else from
    the novice's: one draw per env, not one per agent."""
    return sample_action(jnp.where((action == EXPERT)[:, None], expert_logits, novice_logits), key, temperature)


def coord_step_fn(policy: Policy, novice_apply, expert_apply, C: int, open_expert: bool, temperature: float):
    """The coordination step as a pure function (not jitted): a host loop jits it, a JAX rollout scans it."""

    def split_c(x):
        return x.reshape(C, x.shape[0] // C, *x.shape[1:])

    def step(params, novice_params, expert_params, state: CoordState, obs, first, costs: Costs, key):
        k_pol, k_act = jax.random.split(key)
        novice_out, expert_out, cobs = observe(novice_apply, expert_apply, novice_params, expert_params, obs, open_expert)
        pstate = jax.vmap(policy.reset)(state.policy_state, split_c(first))
        action, pstate = jax.vmap(policy.act)(
            params, pstate, jax.tree_util.tree_map(split_c, cobs), jax.random.split(k_pol, C)
        )
        action = action.reshape(-1).astype(jnp.int32)
        env_action = base_action(action, novice_out[0], expert_out[0], k_act, temperature)
        cost = step_cost(action, state.prev_action, first, costs)
        return env_action, action, cost, CoordState(pstate, action)

    return step


def init_coord_state(policy: Policy, C: int, num_envs: int) -> CoordState:
    if num_envs % C:
        raise ValueError(f"num_envs ({num_envs}) must be a multiple of the number of candidates ({C}).")
    single = policy.init(num_envs // C)
    pstate = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (C, *jnp.shape(x))), single)
    return CoordState(pstate, jnp.zeros((num_envs,), jnp.int32))


@functools.lru_cache(maxsize=64)
def _compiled_step(policy: Policy, novice_apply, expert_apply, C: int, open_expert: bool, temperature: float):
    """The jitted step, cached so that repeated evaluations (splits, sweeps) compile once."""
    return jax.jit(coord_step_fn(policy, novice_apply, expert_apply, C, open_expert, temperature))


def make_coord_step(policy: Policy, novice: Agent, expert: Agent, num_candidates: int,
                    open_expert: bool = False, temperature: float = 1.0):
    """Returns (init, step). The env batch is candidate-major: slot c*N + i runs candidate c on episode i.

    `step(params, state, obs, first, costs, key) -> (env_action, coord_action, cost, state)` where
    `params` has a leading candidate axis and `first[j]` says obs j starts an episode.
    """
    C = num_candidates
    core = _compiled_step(policy, novice.apply, expert.apply, C, bool(open_expert), float(temperature))

    def init(num_envs: int) -> CoordState:
        return init_coord_state(policy, C, num_envs)

    def step(params, state: CoordState, obs, first, costs: Costs, key):
        return core(params, novice.params, expert.params, state, obs, first, costs, key)

    return init, step
