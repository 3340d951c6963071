"""The gridworld tasks behind gymnax's `Environment` interface, for gymnax-style training loops (PureJaxRL).

    env, env_params = make("DistShift1")                      # like gymnax.make
    obs, state = env.reset(key, env_params)
    obs, state, reward, done, info = env.step(key, state, action, env_params)   # auto-resets where done

`done` is terminated | truncated, as in gymnax; `info["discount"]` is 0 only where the episode terminated
(lava or goal), so a loop may bootstrap truncated episodes, from `info["final_obs"]` (the obs the step
reached before the reset). The spaces are minimal copies of gymnax's `spaces.Discrete` and `spaces.Box`
(same attributes and jittable `sample`/`contains`): gymnax itself needs numpy 2, this project numpy 1.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from duo_jax.envs.gridworld.env import EnvParams, EnvState, GridEnv
from duo_jax.envs.gridworld.env import make as make_grid_env


class Discrete:
    """gymnax's `spaces.Discrete`: the integers 0 .. n-1."""

    def __init__(self, num_categories: int):
        if num_categories < 0:
            raise ValueError(f"num_categories must be >= 0; got {num_categories!r}.")
        self.n = num_categories
        self.shape = ()
        self.dtype = jnp.int32      # gymnax says jnp.int_, which is int32 unless x64 is on

    def sample(self, rng: jax.Array) -> jnp.ndarray:
        return jax.random.randint(rng, self.shape, 0, self.n).astype(self.dtype)

    def contains(self, x) -> jnp.ndarray:
        return jnp.logical_and(x >= 0, x < self.n)


class Box:
    """gymnax's `spaces.Box`: arrays of `shape` with entries in [low, high]."""

    def __init__(self, low, high, shape: tuple[int, ...], dtype=jnp.float32):
        self.low, self.high, self.shape, self.dtype = low, high, shape, dtype

    def sample(self, rng: jax.Array) -> jnp.ndarray:
        if jnp.issubdtype(self.dtype, jnp.integer):   # every integer in [low, high] equally likely
            return jax.random.randint(rng, self.shape, self.low, self.high + 1).astype(self.dtype)
        return jax.random.uniform(rng, self.shape, minval=self.low, maxval=self.high).astype(self.dtype)

    def contains(self, x) -> jnp.ndarray:
        return jnp.logical_and(jnp.all(x >= self.low), jnp.all(x <= self.high))


@dataclass(frozen=True)
class GymnaxGridEnv:
    """A `GridEnv` with gymnax's method signatures; the dynamics are the GridEnv's own."""

    env: GridEnv

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def num_actions(self) -> int:
        return self.env.num_actions

    @property
    def default_params(self) -> EnvParams:
        return self.env.default_params()

    @functools.partial(jax.jit, static_argnums=0)
    def reset(self, key: jax.Array, params: EnvParams | None = None) -> tuple[jnp.ndarray, EnvState]:
        return self.env.reset(key, self.default_params if params is None else params)

    @functools.partial(jax.jit, static_argnums=0)
    def step(self, key: jax.Array, state: EnvState, action, params: EnvParams | None = None
             ) -> tuple[jnp.ndarray, EnvState, jnp.ndarray, jnp.ndarray, dict[str, Any]]:
        params = self.default_params if params is None else params
        obs, state, reward, terminated, truncated, info = self.env.step(key, state, action, params)
        info = dict(info, discount=1.0 - terminated.astype(jnp.float32), terminated=terminated, truncated=truncated)
        return obs, state, reward, terminated | truncated, info

    def action_space(self, params: EnvParams | None = None) -> Discrete:
        return Discrete(self.env.num_actions)

    def observation_space(self, params: EnvParams | None = None) -> Box:
        """Farama's: uint8 [7, 7, 3] (object, colour, state codes of the agent's view)."""
        return Box(0, 255, self.env.obs_shape, jnp.uint8)


def make(name: str) -> tuple[GymnaxGridEnv, EnvParams]:
    """`(env, env.default_params)` for a registered gridworld task, like `gymnax.make`."""
    env = GymnaxGridEnv(make_grid_env(name))
    return env, env.default_params
