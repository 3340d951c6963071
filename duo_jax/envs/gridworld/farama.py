"""Bridge from Farama MiniGrid: read a `MiniGridEnv`'s state into an EnvState (duck-typed: no minigrid import)."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from duo_jax.envs.gridworld.constants import CARRIED_NOTHING
from duo_jax.envs.gridworld.env import EnvState


def state_from_minigrid(env) -> EnvState:
    """The EnvState equal to a (reset) Farama env's grid, agent, carried object and step count."""
    env = getattr(env, "unwrapped", env)
    carrying = CARRIED_NOTHING if env.carrying is None else np.asarray(env.carrying.encode(), np.uint8)
    return EnvState(
        grid=jnp.asarray(env.grid.encode().transpose(1, 0, 2)),
        agent_pos=jnp.asarray(np.asarray(env.agent_pos), jnp.int32),
        agent_dir=jnp.int32(env.agent_dir),
        carrying=jnp.asarray(carrying),
        step_count=jnp.int32(env.step_count),
    )
