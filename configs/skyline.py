"""Skyline: the PPO coordinator trained on the test distribution with the test pair, selected on
val_true. It breaks YRC-0 on purpose, as an upper bound for the other methods.
"""
import os

from duo_jax.config import load_config


def get_config():
    c = load_config(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ppo.py"))
    c.name = "skyline"
    c.algorithm.train_split = "test"
    c.evaluation.validation_splits = ("val_true",)
    return c
