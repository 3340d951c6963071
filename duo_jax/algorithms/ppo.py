"""An earlier import path, kept working: the code lives in duo_jax/coordinators/ppo.py."""
from duo_jax.coordinators.ppo import _check_ppo, ppo  # noqa: F401
