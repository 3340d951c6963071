"""Grids as uint8 arrays [H, W, 3] of MiniGrid cell encodings, indexed [y, x]; object rules and the agent's view.

Cells hold exactly what Farama's `Grid.encode()` writes (transposed to row-major), so the world state *is*
the encoding: an object's behaviour follows from its (object, color, state) triple.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from duo_jax.envs.gridworld.constants import (
    BALL,
    BOX,
    DIR_TO_VEC,
    DOOR,
    EMPTY,
    FLOOR,
    GOAL,
    KEY,
    LAVA,
    OPEN,
    VIEW_SIZE,
    WALL,
    WALL_CELL,
)


def walled(width: int, height: int) -> np.ndarray:
    """An empty grid inside a wall rectangle (`Grid.wall_rect(0, 0, w, h)`), built once per static size."""
    grid = np.zeros((height, width, 3), np.uint8)
    grid[..., 0] = EMPTY
    grid[[0, -1], :] = WALL_CELL
    grid[:, [0, -1]] = WALL_CELL
    return grid


def can_overlap(cell: jnp.ndarray) -> jnp.ndarray:
    """Whether the agent may walk onto a cell (None, goal, floor, lava, an open door)."""
    obj = cell[..., 0]
    open_door = (obj == DOOR) & (cell[..., 2] == OPEN)
    return (obj == EMPTY) | (obj == GOAL) | (obj == FLOOR) | (obj == LAVA) | open_door


def can_pickup(cell: jnp.ndarray) -> jnp.ndarray:
    obj = cell[..., 0]
    return (obj == KEY) | (obj == BALL) | (obj == BOX)


def see_behind(cell: jnp.ndarray) -> jnp.ndarray:
    """Walls and closed or locked doors block the view."""
    obj = cell[..., 0]
    return ~((obj == WALL) | ((obj == DOOR) & (cell[..., 2] != OPEN)))


def view_cells(grid: jnp.ndarray, agent_pos: jnp.ndarray, agent_dir: jnp.ndarray) -> jnp.ndarray:
    """The [V, V, 3] egocentric view indexed [i, j] as `gen_obs_grid` builds it (slice, then rotate_left
    agent_dir+1 times): the agent sits at (V//2, V-1) facing -j; cells off the grid read as walls."""
    height, width = grid.shape[:2]
    fwd = jnp.asarray(DIR_TO_VEC)[agent_dir]
    right = jnp.stack([-fwd[1], fwd[0]])
    i = jnp.arange(VIEW_SIZE)[:, None]
    j = jnp.arange(VIEW_SIZE)[None, :]
    ahead, aside = VIEW_SIZE - 1 - j, i - VIEW_SIZE // 2
    x = agent_pos[0] + fwd[0] * ahead + right[0] * aside
    y = agent_pos[1] + fwd[1] * ahead + right[1] * aside
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    cells = grid[jnp.clip(y, 0, height - 1), jnp.clip(x, 0, width - 1)]
    return jnp.where(inside[..., None], cells, jnp.asarray(WALL_CELL))


def _sweep(mask: jnp.ndarray, transparent: jnp.ndarray, reverse: bool) -> jnp.ndarray:
    """One of `process_vis`'s sequential passes over a row, in closed form: a cell ends up visible when some
    visible cell before it in the pass reaches it through transparent cells only."""
    blocked = (~transparent).astype(jnp.int32)
    index = jnp.arange(mask.size)
    if reverse:  # cell k reaches i <= k when (i, k] is transparent
        seen, before = jnp.cumsum(blocked), index[None, :] >= index[:, None]
    else:        # cell k reaches i >= k when [k, i) is transparent
        seen, before = jnp.cumsum(blocked) - blocked, index[None, :] <= index[:, None]
    reach = before & (seen[None, :] == seen[:, None])  # [i, k]
    return jnp.any(reach & mask[None, :], axis=1)


def visibility(transparent: jnp.ndarray) -> jnp.ndarray:
    """`Grid.process_vis` on a [V, V] see-behind mask indexed [i, j], agent at (V//2, V-1).

    Rows are swept from the agent's row forwards. In each, Farama's left-to-right pass spreads visibility
    right and (from columns 0..V-2) up and up-right; then its right-to-left pass spreads it left and (from
    columns 1..V-1) up and up-left. Both passes are order-dependent, hence `_sweep`'s closed forms.
    """
    size = transparent.shape[0]
    none = jnp.zeros(1, bool)

    def row_pass(row, t):
        first = _sweep(row, t, reverse=False)
        spread1 = (first & t).at[size - 1].set(False)
        second = _sweep(first, t, reverse=True)
        spread2 = (second & t).at[0].set(False)
        up = spread1 | jnp.concatenate([none, spread1[:-1]]) | spread2 | jnp.concatenate([spread2[1:], none])
        return up, second

    agent_row = jnp.zeros(size, bool).at[size // 2].set(True)
    _, rows = jax.lax.scan(row_pass, agent_row, transparent.T[::-1])  # a scan compiles far faster than unrolling
    return rows[::-1].T


def observe(
    grid: jnp.ndarray, agent_pos: jnp.ndarray, agent_dir: jnp.ndarray, carrying: jnp.ndarray,
    see_through_walls: bool,
) -> jnp.ndarray:
    """`gen_obs()['image']`: the view, unseen cells zeroed, the carried object (or nothing) at the agent's cell."""
    cells = view_cells(grid, agent_pos, agent_dir)
    if see_through_walls:
        visible = jnp.ones(cells.shape[:2], bool)
    else:
        visible = visibility(see_behind(cells))
    cells = cells.at[VIEW_SIZE // 2, VIEW_SIZE - 1].set(carrying)
    return jnp.where(visible[..., None], cells, jnp.uint8(0))

