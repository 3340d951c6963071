"""An earlier import path, kept working: the code lives in duo_jax/coordinators/ask_every_k.py."""
from duo_jax.coordinators.ask_every_k import ask_every_k_policy  # noqa: F401
