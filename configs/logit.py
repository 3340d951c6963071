"""Logit: ask the expert when the novice's confidence is below a threshold.

Thresholds are percentiles of the novice's scores on its own training-split states.
    python -m duo_jax.main --config configs/logit.py --config.policy.metric=margin
"""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "logit"
    c.policy.name = "logit"
    c.policy.metric = "max_logit"          # max_logit | max_prob | margin | neg_entropy | neg_energy
    c.algorithm.name = "logit"
    c.algorithm.num_rollouts = 256         # novice-alone episodes on the train split
    c.algorithm.percentiles = tuple(range(0, 101, 10))
    c.algorithm.explore_temps = (1.0,)     # novice sampling temperature in those rollouts
    c.algorithm.score_temps = (1.0,)       # temperature the logits are divided by before scoring
    c.algorithm.calibrate_on = "train_novice"  # train_novice (the simulated one, as the references) | deployed_novice
    return c
