"""An earlier import path, kept working: the code lives in duo_jax/coordinators/baselines.py."""
from duo_jax.coordinators.baselines import always_policy, random_policy  # noqa: F401
