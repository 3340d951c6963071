"""An earlier import path, kept working: the code lives in duo_jax/coordinators/novice_rollouts.py."""
from duo_jax.coordinators.novice_rollouts import novice_rollouts  # noqa: F401
