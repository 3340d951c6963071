"""Random: ask the expert with probability p at each step; grid search over p."""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "random"
    c.policy.name = "random"
    c.algorithm.name = "random"
    c.algorithm.probabilities = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    return c
