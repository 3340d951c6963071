"""AskFirstK (a user plugin, examples/ask_first_k.py): the expert for the first k steps; grid search over k.

    python -m duo_jax.main --config configs/ask_first_k.py '--config.algorithm.candidates=(4,8)'
"""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "ask_first_k"
    c.plugins = ("examples/ask_first_k.py",)  # relative to the directory you run from
    c.policy.name = "ask_first_k"
    c.algorithm.name = "ask_first_k"
    c.algorithm.candidates = (5, 10, 20, 40)
    return c
