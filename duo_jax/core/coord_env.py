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

Coordinator PPO is base-agent PPO run on this env (`duo_jax.rl.jax_actor`). `HostCoordEnv` is the same env for a
batch of host-stepped envs (Procgen), on which coordinator PPO is base-agent PPO too (`duo_jax.rl.host_actor`).
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from duo_jax.core.agent import Agent
from duo_jax.core.coordination import Costs, base_action, masked_logits, step_cost
from duo_jax.core.policy import EXPERT, FEATURES, NOVICE


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


def shown_reads(reads, open_expert: bool) -> frozenset:
    """The parts of the coordinator observation to emit: `reads` (default: all the coordinator is shown)."""
    available = set(FEATURES) if open_expert else {"base_obs", "novice_hidden", "novice_logits"}
    reads = available if reads is None else set(reads)
    if not reads <= available:
        raise ValueError(f"reads {sorted(reads - available)} are not shown to the coordinator; it sees "
                         f"{sorted(available)} (open_expert={open_expert}).")
    return frozenset(reads)


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
        self.base_env, self.novice, self.expert = base_env, novice, expert
        self.reads = shown_reads(reads, open_expert)
        self.temperature, self.defer_final = float(temperature), bool(defer_final)
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


@functools.lru_cache(maxsize=16)
def _host_step(novice_apply, expert_apply, reads: frozenset, temperature: float):
    """The two jitted halves of a host coordination step: `observe` a frame (the agents' passes the observation
    needs) and `act` on the coordinator's decision (the acting agents' passes on the envs they act for, the base
    action, the cost). Cached, so every run of the same pair compiles once."""
    novice_on_all = bool(reads & {"novice_hidden", "novice_logits"})
    expert_on_all = bool(reads & {"expert_hidden", "expert_logits"})

    @jax.jit
    def observe(novice_params, expert_params, obs):
        parts, novice_logits, expert_logits = {"base_obs": obs}, None, None
        if novice_on_all:
            novice_logits, _, hidden = novice_apply(novice_params, obs)
            parts.update(novice_logits=novice_logits, novice_hidden=hidden)
        if expert_on_all:
            expert_logits, _, hidden = expert_apply(expert_params, obs)
            parts.update(expert_logits=expert_logits, expert_hidden=hidden)
        return {name: parts[name] for name in sorted(reads)}, novice_logits, expert_logits

    @jax.jit
    def act(novice_params, expert_params, obs, novice_logits, expert_logits, action, prev_action, first,
            costs: Costs, key):
        if novice_logits is None:
            novice_logits = masked_logits(novice_apply, novice_params, obs, action == NOVICE)
        if expert_logits is None:
            expert_logits = masked_logits(expert_apply, expert_params, obs, action == EXPERT)
        env_action = base_action(action, novice_logits, expert_logits, key, temperature)
        return env_action, step_cost(action, prev_action, first, costs)

    return observe, act


class HostCoordEnv:
    """`CoordEnv` for a batch of host-stepped envs (Procgen's numpy API: `reset() -> obs`, `step(a) -> (obs,
    reward, done)`, auto-reset), itself such an env: `step(action) -> (cobs, net reward, done, info)`, with info
    `cost`, `expert` (1.0 where the expert acted) and `base_reward`, [B] numpy arrays.

    The costs are fixed (one alpha per env). An agent runs on every env only where the coordinator reads its
    outputs; otherwise the novice runs only on the envs it acts for and the expert only where asked
    (`masked_logits`: padded power-of-two buckets, each size compiled once). The base actions' random draws are
    `fold_in(PRNGKey(seed), step)`: `carry()` / `set_carry` save and restore them with who acted last, and
    `get_state` / `set_state` (where the base env has them) the base envs' own states, so a resumed run continues
    exactly."""

    num_actions = 2

    def __init__(self, base_env, novice: Agent, expert: Agent, costs: Costs, open_expert: bool = False,
                 temperature: float = 1.0, reads=None, seed: int = 0):
        self.base_env, self.novice, self.expert, self.costs = base_env, novice, expert, costs
        self.reads = shown_reads(reads, open_expert)
        self._observe, self._act = _host_step(novice.apply, expert.apply, self.reads, float(temperature))
        self._key, self._t = jax.random.PRNGKey(seed), 0
        self.num_envs = base_env.num_envs
        self._first, self._prev = np.ones(self.num_envs, bool), np.zeros(self.num_envs, np.int32)
        if hasattr(base_env, "get_state"):  # an env that can save its games (Procgen) resumes exactly
            self.get_state = base_env.get_state
            self.set_state = lambda states: self._see(base_env.set_state(states))

    def _see(self, obs) -> dict:
        self._obs = obs
        cobs, self._novice_logits, self._expert_logits = self._observe(self.novice.params, self.expert.params, obs)
        return jax.device_get(cobs)

    def reset(self) -> dict:
        self._first[:], self._prev[:] = True, 0
        return self._see(self.base_env.reset())

    def step(self, action):
        action = np.asarray(action, np.int32)
        key = jax.random.fold_in(self._key, self._t)
        self._t += 1
        env_action, cost = jax.device_get(self._act(
            self.novice.params, self.expert.params, self._obs, self._novice_logits, self._expert_logits, action,
            self._prev, self._first, self.costs, key))
        obs, reward, done = self.base_env.step(env_action)
        self._first, self._prev = np.asarray(done, bool), action
        info = {"cost": cost, "expert": (action == EXPERT).astype(np.float32), "base_reward": reward}
        return self._see(obs), (reward - cost).astype(np.float32), done, info

    def carry(self) -> dict:
        return {"step": self._t, "first": self._first.tolist(), "prev_action": self._prev.tolist()}

    def set_carry(self, carry: dict) -> None:
        self._t = int(carry["step"])
        self._first = np.asarray(carry["first"], bool)
        self._prev = np.asarray(carry["prev_action"], np.int32)
