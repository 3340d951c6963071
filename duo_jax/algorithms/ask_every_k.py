"""An earlier import path, kept working: the code lives in duo_jax/coordinators/ask_every_k.py."""
from duo_jax.coordinators.ask_every_k import _check_ask_every_k, ask_every_k  # noqa: F401
