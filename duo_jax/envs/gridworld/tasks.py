"""Layout generators, one per Farama `_gen_grid`: `generate(key) -> Layout`.

A random generator draws Farama's random choices (same support and distribution; Farama's rejection sampling
in `place_obj`/`place_agent` is uniform over the allowed cells, so here it is one draw among them) and hands
them to a `*_layout` builder, which tests also use to rebuild any Farama layout from its choices.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from duo_jax.envs.gridworld.constants import GOAL_CELL, KEY_CELL, LAVA_CELL, LOCKED_DOOR_CELL, WALL_CELL
from duo_jax.envs.gridworld.grid import walled


class Layout(NamedTuple):
    grid: jnp.ndarray       # uint8 [H, W, 3]
    agent_pos: jnp.ndarray  # int32 [2], (x, y)
    agent_dir: jnp.ndarray  # int32 []


def _coords(width: int, height: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """x and y of every cell, as [H, W] arrays."""
    return jnp.arange(width)[None, :], jnp.arange(height)[:, None]


def _put(grid: jnp.ndarray, where: jnp.ndarray, cell: np.ndarray) -> jnp.ndarray:
    return jnp.where(where[..., None], jnp.asarray(cell), grid)


def _randint(u: jnp.ndarray, low, high) -> jnp.ndarray:
    """An integer ~ U[low, high) from a uniform [0, 1) draw (one draw per layout compiles much faster)."""
    return (low + jnp.minimum(jnp.floor(u * (high - low)), high - low - 1)).astype(jnp.int32)


def _uniform_cell(u: jnp.ndarray, allowed: jnp.ndarray) -> jnp.ndarray:
    """A uniformly random (x, y) among the allowed cells of an [H, W] mask."""
    flat = allowed.ravel()
    index = jnp.argmax(jnp.cumsum(flat) > _randint(u, 0, flat.sum()))
    width = allowed.shape[1]
    return jnp.stack([index % width, index // width]).astype(jnp.int32)


def distshift(key: jax.Array, strip2_row: int, width: int = 9, height: int = 7) -> Layout:
    """DistShiftEnv: lava strips at row 1 and `strip2_row` (2 in DistShift1, 5 in DistShift2); deterministic."""
    del key
    grid = walled(width, height)
    grid[1, width - 2] = GOAL_CELL
    grid[1, 3:width - 3] = LAVA_CELL
    grid[strip2_row, 3:width - 3] = LAVA_CELL
    return Layout(jnp.asarray(grid), jnp.array([1, 1], jnp.int32), jnp.int32(0))


def lavagap_layout(size: int, gap: jnp.ndarray) -> jnp.ndarray:
    """A lava column at x = gap[0] (rows 1..size-2) with a hole at gap[1]; goal in the bottom-right corner."""
    x, y = _coords(size, size)
    grid = jnp.asarray(walled(size, size)).at[size - 2, size - 2].set(jnp.asarray(GOAL_CELL))
    lava = (x == gap[0]) & (y >= 1) & (y <= size - 2) & (y != gap[1])
    return _put(grid, lava, LAVA_CELL)


def lavagap(key: jax.Array, size: int) -> Layout:
    """LavaGapEnv: gap x ~ U[2, size-2), gap y ~ U[1, size-1); agent at (1, 1) facing right."""
    u = jax.random.uniform(key, (2,))
    gap = jnp.stack([_randint(u[0], 2, size - 2), _randint(u[1], 1, size - 1)])
    return Layout(lavagap_layout(size, gap), jnp.array([1, 1], jnp.int32), jnp.int32(0))


def doorkey_layout(size: int, split: jnp.ndarray, door_row: jnp.ndarray, key_pos: jnp.ndarray) -> jnp.ndarray:
    """A wall column at x = split with a locked yellow door at door_row, a yellow key at key_pos, goal at
    the bottom-right corner."""
    x, y = _coords(size, size)
    grid = jnp.asarray(walled(size, size)).at[size - 2, size - 2].set(jnp.asarray(GOAL_CELL))
    grid = _put(grid, x == split, WALL_CELL)
    grid = _put(grid, (x == split) & (y == door_row), LOCKED_DOOR_CELL)
    return _put(grid, (x == key_pos[0]) & (y == key_pos[1]), KEY_CELL)


def doorkey(key: jax.Array, size: int) -> Layout:
    """DoorKeyEnv in Farama's order: split ~ U[2, size-2); agent uniform in the left room with a random
    direction; door row ~ U[1, size-2); key uniform in the left room off the agent's cell."""
    u = jax.random.uniform(key, (5,))
    split = _randint(u[0], 2, size - 2)
    x, y = _coords(size, size)
    left_room = (x >= 1) & (x < split) & (y >= 1) & (y <= size - 2)
    agent_pos = _uniform_cell(u[1], left_room)
    agent_dir = _randint(u[2], 0, 4)
    door_row = _randint(u[3], 1, size - 2)
    key_pos = _uniform_cell(u[4], left_room & ~((x == agent_pos[0]) & (y == agent_pos[1])))
    return Layout(doorkey_layout(size, split, door_row, key_pos), agent_pos, agent_dir)
