"""MiniGrid's integer codes (minigrid.core.constants / actions), so encodings match Farama's bit for bit."""
from __future__ import annotations

import numpy as np

# Object types (OBJECT_TO_IDX).
UNSEEN, EMPTY, WALL, FLOOR, DOOR, KEY, BALL, BOX, GOAL, LAVA, AGENT = range(11)

# Colors (COLOR_TO_IDX).
RED, GREEN, BLUE, PURPLE, YELLOW, GREY = range(6)

# Door states (STATE_TO_IDX).
OPEN, CLOSED, LOCKED = range(3)

# Actions (minigrid.core.actions.Actions).
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)
NUM_ACTIONS = 7

# Directions: 0 right (+x), 1 down (+y), 2 left, 3 up; rows are (dx, dy).
DIR_TO_VEC = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int32)

VIEW_SIZE = 7  # MiniGrid's default agent_view_size

# Cell encodings (object, color, state), as WorldObj.encode() writes them; None encodes as EMPTY_CELL.
EMPTY_CELL = np.array([EMPTY, 0, 0], dtype=np.uint8)
WALL_CELL = np.array([WALL, GREY, 0], dtype=np.uint8)
GOAL_CELL = np.array([GOAL, GREEN, 0], dtype=np.uint8)
LAVA_CELL = np.array([LAVA, RED, 0], dtype=np.uint8)
KEY_CELL = np.array([KEY, YELLOW, 0], dtype=np.uint8)
LOCKED_DOOR_CELL = np.array([DOOR, YELLOW, LOCKED], dtype=np.uint8)
CARRIED_NOTHING = EMPTY_CELL  # carrying None, shown at the agent's view cell as an empty cell
