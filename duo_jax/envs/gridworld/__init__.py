"""JAX-native MiniGrid tasks matching Farama MiniGrid 3.2.0: DistShift1/2, LavaGapS5/6/7, DoorKey-5x5/6x6/8x8.

`env = make("DoorKey-8x8")`; `obs, state = env.reset(key, env.default_params())`;
`obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)` (auto-resets).
"""
from duo_jax.envs.gridworld.env import EnvParams, EnvState, GridEnv, make, names
from duo_jax.envs.gridworld.farama import state_from_minigrid

__all__ = ["EnvParams", "EnvState", "GridEnv", "make", "names", "state_from_minigrid"]
