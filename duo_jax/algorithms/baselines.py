"""An earlier import path, kept working: the code lives in duo_jax/coordinators/baselines.py."""
from duo_jax.coordinators.baselines import _check_always, _check_random, always, random  # noqa: F401
