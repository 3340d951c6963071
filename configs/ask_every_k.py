"""AskEveryK: ask the expert every k steps; grid search over k.

    python -m duo_jax.main --config configs/ask_every_k.py '--config.algorithm.candidates=(5,10)'
"""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "ask_every_k"
    c.policy.name = "ask_every_k"
    c.algorithm.name = "ask_every_k"
    c.algorithm.candidates = (5, 10, 15, 20)
    return c
