"""Random: ask the expert with probability p at each step; grid search over p."""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "random"
    c.policy.name = "random"
    c.algorithm.name = "random"
    c.algorithm.probabilities = tuple(round(0.1 * i, 1) for i in range(11))  # the reference grid, 0 to 1
    return c
