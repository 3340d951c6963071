"""The coordinator's environment: a JAX env plus the novice/expert pair, as a gymnax-style env of its own.

    env = CoordEnv(base_env, novice, expert)
    params = CoordParams(base_env.default_params(), Costs(alpha, beta, bp))
    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

One env, no batch axis (vmap it over envs, as any gymnax env). Its actions are {NOVICE, EXPERT}: who acts on
the base env this step; its observation is the coordinator's (the base frame, the novice's hidden layer and
logits, and the expert's with `open_expert`), limited to the parts named in `reads`; its reward is the base
env's net of the cost of asking and of switching (costs: `duo_jax.core.coordination`). The costs sit in the
env params, so a cost sweep is a vmap over params: every alpha of a sweep trains as one program.

Coordinator PPO is base-agent PPO run on this env (`duo_jax.rl.jax_actor`); Procgen steps on the host, where
`duo_jax.coordinators.ppo_host` fuses the same step (observe, decide, act, charge) into one jit call per step.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from duo_jax.core.agent import Agent
from duo_jax.core.coordination import Costs, base_action, step_cost
from duo_jax.core.policy import EXPERT, FEATURES


class CoordParams(NamedTuple):
    base: Any     # the base env's params
    costs: Costs  # alpha, beta, BP: vmap over `costs.alpha` for a cost sweep


class CoordEnvState(NamedTuple):
    base: Any                   # the base env's state
    base_obs: jnp.ndarray       # its current frame (uint8)
    novice_logits: jnp.ndarray  # both agents' logits on that frame: the base action is drawn from one of them
    expert_logits: jnp.ndarray
    prev_action: jnp.ndarray    # the coordinator's last action (a switch costs beta)
    first: jnp.ndarray          # the frame starts an episode (no switch cost at its first step)
    episode_return: jnp.ndarray  # net of costs, so far
    episode_length: jnp.ndarray


class CoordEnv:
    """`base_env`: a gymnax-style env (`reset(key, params)`, `step(key, state, action, params)` with auto-reset
    and info["final_obs"]). `reads`: the parts of the coordinator observation to emit (default: all it has).

    `defer_final`: info["final_obs"] holds the base env's final frame instead of its coordinator observation, and
    the trainer (`duo_jax.rl.jax_actor`, which reads the flag) maps a whole rollout's frames with `observe_final`
    after the rollout. The frames differ from the
    next observation only where an episode ended, yet observing them costs the agents' forward passes at every
    step; batched after the rollout, XLA keeps only the passes the features read (measured on distshift with
    `dist` features: 0.64 s per PPO iteration inside the rollout, 0.38 s deferred)."""

    num_actions = 2

    def __init__(self, base_env, novice: Agent, expert: Agent, open_expert: bool = False,
                 temperature: float = 1.0, reads=None, defer_final: bool = False):
        available = set(FEATURES) if open_expert else {"base_obs", "novice_hidden", "novice_logits"}
        reads = available if reads is None else set(reads)
        if not reads <= available:
            raise ValueError(f"reads {sorted(reads - available)} are not shown to the coordinator; it sees "
                             f"{sorted(available)} (open_expert={open_expert}).")
        self.base_env, self.novice, self.expert = base_env, novice, expert
        self.reads, self.temperature, self.defer_final = frozenset(reads), float(temperature), bool(defer_final)
        self.name = f"coord({getattr(base_env, 'name', type(base_env).__name__)})"

    def observe(self, obs) -> tuple[dict, jnp.ndarray, jnp.ndarray]:
        """The coordinator observation of one base frame, and both agents' logits there."""
        novice = self.novice.apply(self.novice.params, obs[None])
        expert = self.expert.apply(self.expert.params, obs[None])
        parts = {"base_obs": obs, "novice_logits": novice[0][0], "novice_hidden": novice[2][0],
                 "expert_logits": expert[0][0], "expert_hidden": expert[2][0]}
        return {name: parts[name] for name in sorted(self.reads)}, novice[0][0], expert[0][0]

    def observe_final(self, frames) -> dict:
        """The coordinator observations of base frames with any leading axes ([T, B, ...] from a rollout)."""
        lead = frames.shape[: frames.ndim - len(self.base_env.obs_shape)]
        flat = frames.reshape(-1, *frames.shape[len(lead):])
        cobs = jax.vmap(lambda obs: self.observe(obs)[0])(flat)
        return jax.tree.map(lambda x: x.reshape(*lead, *x.shape[1:]), cobs)

    def reset(self, key: jax.Array, params: CoordParams) -> tuple[dict, CoordEnvState]:
        obs, base = self.base_env.reset(key, params.base)
        cobs, novice_logits, expert_logits = self.observe(obs)
        state = CoordEnvState(base, obs, novice_logits, expert_logits, jnp.int32(0), jnp.bool_(True),
                              jnp.float32(0.0), jnp.int32(0))
        return cobs, state

    def step(self, key: jax.Array, state: CoordEnvState, action, params: CoordParams):
        """info: `final_obs` (the coordinator observation the step reached, before any auto-reset: bootstrap
        truncated episodes from it; with `defer_final`, the base frame), `cost`, `expert` (1.0 where the expert
        acted), `base_reward`, `episode_return` (net of costs) and `episode_length` of the episode the step
        belongs to."""
        k_act, k_env = jax.random.split(key)
        action = jnp.asarray(action, jnp.int32)
        env_action = base_action(action[None], state.novice_logits[None], state.expert_logits[None], k_act,
                                 self.temperature)[0]
        obs, base, reward, terminated, truncated, info = self.base_env.step(k_env, state.base, env_action,
                                                                            params.base)
        cost = step_cost(action, state.prev_action, state.first, params.costs)
        net = reward - cost
        done = terminated | truncated
        cobs, novice_logits, expert_logits = self.observe(obs)
        final_cobs = info["final_obs"] if self.defer_final else self.observe(info["final_obs"])[0]
        episode_return, episode_length = state.episode_return + net, state.episode_length + 1
        info = {
            "final_obs": final_cobs,
            "cost": cost,
            "expert": (action == EXPERT).astype(jnp.float32),
            "base_reward": reward,
            "episode_return": episode_return,
            "episode_length": episode_length,
        }
        state = CoordEnvState(base, obs, novice_logits, expert_logits, action, done,
                              jnp.where(done, 0.0, episode_return), jnp.where(done, 0, episode_length))
        return cobs, state, net, terminated, truncated, info
