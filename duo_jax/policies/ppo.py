"""An earlier import path, kept working: the code lives in duo_jax/coordinators/ (ppo.py, ppo_network.py)."""
from duo_jax.coordinators.ppo import ppo_policy  # noqa: F401
from duo_jax.coordinators.ppo_network import CoordinatorNet, coordinator_apply, init_coordinator  # noqa: F401
