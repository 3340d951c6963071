"""Random with a fixed p = 0.5, as the YRC-Bench paper reports it (no tuning)."""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "random_fixed"
    c.policy.name = "random"
    c.algorithm.name = "random"
    c.algorithm.probabilities = (0.5,)
    return c
