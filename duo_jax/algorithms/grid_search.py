"""An earlier import path, kept working: the code lives in duo_jax/coordinators/grid_search.py."""
from duo_jax.coordinators.grid_search import AlgorithmResult, grid_search, register_grid_search  # noqa: F401
