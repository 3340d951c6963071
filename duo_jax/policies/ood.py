"""An earlier import path, kept working: the code lives in duo_jax/coordinators/ood.py."""
from duo_jax.coordinators.ood import ood_policy  # noqa: F401
