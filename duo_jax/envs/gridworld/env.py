"""GridEnv: gymnax-style MiniGrid tasks (pure reset/step over pytrees), and the `make` registry."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

import duo_jax.envs.gridworld.tasks as tasks
from duo_jax.core.registry import Registry
from duo_jax.envs.gridworld.constants import (
    BOX,
    CARRIED_NOTHING,
    CLOSED,
    DIR_TO_VEC,
    DOOR,
    DROP,
    EMPTY,
    FORWARD,
    GOAL,
    KEY,
    LAVA,
    LEFT,
    LOCKED,
    NUM_ACTIONS,
    OPEN,
    PICKUP,
    RIGHT,
    TOGGLE,
    VIEW_SIZE,
)
from duo_jax.envs.gridworld.grid import can_overlap, can_pickup, observe


class EnvParams(NamedTuple):
    max_steps: int | jnp.ndarray  # episodes are truncated when step_count reaches it
    # YRC-Bench's MiniGrid noise: with this probability the env takes a uniformly random action instead
    # of the chosen one (every agent, training and evaluation). Farama's own envs have none.
    action_noise: float | jnp.ndarray = 0.0


class EnvState(NamedTuple):
    """MiniGrid's whole state: what `state_from_minigrid` reads off a Farama env."""

    grid: jnp.ndarray        # uint8 [H, W, 3], cell encodings indexed [y, x]
    agent_pos: jnp.ndarray   # int32 [2], (x, y)
    agent_dir: jnp.ndarray   # int32 [], 0 right, 1 down, 2 left, 3 up
    carrying: jnp.ndarray    # uint8 [3], the carried object's encoding; (EMPTY, 0, 0) for nothing
    step_count: jnp.ndarray  # int32 []


@dataclass(frozen=True)
class GridEnv:
    """One task variant; sizes and the layout generator are static, everything per-episode is in EnvState."""

    name: str
    farama_id: str
    width: int
    height: int
    max_steps: int              # Farama's default, the one in `default_params()`
    see_through_walls: bool     # Farama's setting: True for DistShift, False otherwise
    generate: Callable[[jax.Array], tasks.Layout]

    num_actions: ClassVar[int] = NUM_ACTIONS
    obs_shape: ClassVar[tuple[int, int, int]] = (VIEW_SIZE, VIEW_SIZE, 3)

    def default_params(self, action_noise: float = 0.0) -> EnvParams:
        return EnvParams(max_steps=self.max_steps, action_noise=action_noise)

    def observe(self, state: EnvState) -> jnp.ndarray:
        """uint8 [7, 7, 3], exactly Farama's `gen_obs()['image']`."""
        return observe(state.grid, state.agent_pos, state.agent_dir, state.carrying, self.see_through_walls)

    def reset(self, key: jax.Array, params: EnvParams) -> tuple[jnp.ndarray, EnvState]:
        del params
        layout = self.generate(key)
        state = EnvState(layout.grid, layout.agent_pos, layout.agent_dir, jnp.asarray(CARRIED_NOTHING), jnp.int32(0))
        return self.observe(state), state

    def transition(
        self, state: EnvState, action: jnp.ndarray, params: EnvParams
    ) -> tuple[jnp.ndarray, EnvState, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """`MiniGridEnv.step` without auto-reset (deterministic): -> (obs, state, reward, terminated, truncated)."""
        step_count = state.step_count + 1
        fwd_pos = jnp.clip(state.agent_pos + jnp.asarray(DIR_TO_VEC)[state.agent_dir], 0,
                           jnp.array([self.width - 1, self.height - 1]))
        cell = state.grid[fwd_pos[1], fwd_pos[0]]
        obj, color, door_state = cell[0], cell[1], cell[2]
        hands_free = state.carrying[0] == EMPTY

        turn = jnp.where(action == LEFT, -1, jnp.where(action == RIGHT, 1, 0))
        agent_dir = (state.agent_dir + turn) % 4
        forward = action == FORWARD
        agent_pos = jnp.where(forward & can_overlap(cell), fwd_pos, state.agent_pos)

        pickup = (action == PICKUP) & can_pickup(cell) & hands_free
        drop = (action == DROP) & (obj == EMPTY) & ~hands_free
        toggle = action == TOGGLE
        has_key = (state.carrying[0] == KEY) & (state.carrying[1] == color)
        unlock = toggle & (obj == DOOR) & (door_state == LOCKED) & has_key
        swing = toggle & (obj == DOOR) & (door_state != LOCKED)   # open <-> closed
        door = jnp.stack([obj, color, jnp.where(unlock | (door_state == CLOSED), OPEN, CLOSED)])
        new_cell = jnp.where(pickup | (toggle & (obj == BOX)), jnp.asarray(CARRIED_NOTHING), cell)  # a box holds None
        new_cell = jnp.where(drop, state.carrying, new_cell)
        new_cell = jnp.where(unlock | swing, door.astype(jnp.uint8), new_cell)
        grid = state.grid.at[fwd_pos[1], fwd_pos[0]].set(new_cell)
        carrying = jnp.where(pickup, cell, jnp.where(drop, jnp.asarray(CARRIED_NOTHING), state.carrying))

        reached_goal = forward & (obj == GOAL)
        reward = jnp.where(reached_goal, 1.0 - 0.9 * (step_count / params.max_steps), 0.0).astype(jnp.float32)
        terminated = reached_goal | (forward & (obj == LAVA))
        truncated = step_count >= params.max_steps
        state = EnvState(grid, agent_pos, agent_dir.astype(jnp.int32), carrying, step_count)
        return self.observe(state), state, reward, terminated, truncated

    def step_env(
        self, key: jax.Array, state: EnvState, action: jnp.ndarray, params: EnvParams
    ) -> tuple[jnp.ndarray, EnvState, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """One step without auto-reset (gymnax's `step_env`): the action noise drawn with `key`, then
        `transition`. -> (obs, state, reward, terminated, truncated)."""
        k_flip, k_action = jax.random.split(key)
        noisy = jax.random.uniform(k_flip) < params.action_noise
        action = jnp.where(noisy, jax.random.randint(k_action, (), 0, self.num_actions), action)
        return self.transition(state, action, params)

    def step(
        self, key: jax.Array, state: EnvState, action: jnp.ndarray, params: EnvParams
    ) -> tuple[jnp.ndarray, EnvState, jnp.ndarray, jnp.ndarray, jnp.ndarray, dict[str, Any]]:
        """One step (`step_env`); an ended episode (terminated | truncated) is replaced by a fresh one drawn
        with `key`.

        reward/terminated/truncated are the step's. info: `final_obs` (the obs the step reached, before any
        reset: bootstrap truncated episodes from it), `episode_length` and `episode_return` (MiniGrid only
        rewards an episode's last step, so its return is this step's reward), meaningful where done.
        """
        k_step, k_reset = jax.random.split(key)
        final_obs, stepped, reward, terminated, truncated = self.step_env(k_step, state, action, params)
        done = terminated | truncated
        _, fresh = self.reset(k_reset, params)
        state = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, stepped)
        info = {"final_obs": final_obs, "episode_length": stepped.step_count, "episode_return": reward}
        return self.observe(state), state, reward, terminated, truncated, info


ENVS: Registry[GridEnv] = Registry("gridworld env", "gridworld envs")

# Farama's registrations (minigrid/__init__.py), with their classes' max_steps and see_through_walls defaults.
def _distshift(variant: int, strip2_row: int) -> GridEnv:
    return GridEnv(f"DistShift{variant}", f"MiniGrid-DistShift{variant}-v0", 9, 7, 4 * 9 * 7, True,
                   functools.partial(tasks.distshift, strip2_row=strip2_row))


def _lavagap(size: int) -> GridEnv:
    return GridEnv(f"LavaGapS{size}", f"MiniGrid-LavaGapS{size}-v0", size, size, 4 * size**2, False,
                   functools.partial(tasks.lavagap, size=size))


def _doorkey(size: int) -> GridEnv:
    return GridEnv(f"DoorKey-{size}x{size}", f"MiniGrid-DoorKey-{size}x{size}-v0", size, size, 10 * size**2, False,
                   functools.partial(tasks.doorkey, size=size))


for _env in (_distshift(1, 2), _distshift(2, 5), *map(_lavagap, (5, 6, 7)), *map(_doorkey, (5, 6, 8))):
    ENVS.register(_env.name, _env)


def make(name: str) -> GridEnv:
    """The env registered as `name`; an unknown name raises ValueError listing the registered ones."""
    return ENVS.get(name)


def names() -> list[str]:
    return ENVS.names()
