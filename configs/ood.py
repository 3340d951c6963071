"""OOD: ask the expert when a Deep SVDD detector, fitted on the novice's training states, flags the state.

    python -m duo_jax.main --config configs/ood.py --config.policy.feature_type=obs

Thresholds (algorithm.threshold_rule): "percentile_search" (DuoAI, the default) proposes the percentiles of the
detector's scores on the states it was fitted on, and the validation split picks one per alpha; "contamination"
(YRC-Bench) proposes one: the (1 - contamination) percentile of its scores on a second, held-out set of
num_rollouts training-split episodes (pyod's contamination rule; the reference's linspace search had no effect).
"""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "ood"
    c.policy.name = "ood"
    c.policy.feature_type = "hidden"       # obs | hidden | dist | hidden_obs | hidden_dist | obs_dist | obs_hidden_dist
    c.policy.hidden_dim = 128
    c.policy.rep_dim = 32
    c.algorithm.name = "ood"
    c.algorithm.num_rollouts = 256
    c.algorithm.accept_rate = 0.25         # fraction of visited states kept for fitting
    c.algorithm.threshold_rule = "percentile_search"  # percentile_search | contamination
    c.algorithm.percentiles = tuple(range(0, 101, 10))  # percentile_search only
    c.algorithm.contamination = 0.1        # contamination only: the threshold is the 90th percentile
    c.algorithm.explore_temps = (1.0,)
    c.algorithm.calibrate_on = "train_novice"  # train_novice (the simulated one, as the references) | deployed_novice
    c.algorithm.epochs = 20
    c.algorithm.batch_size = 256
    c.algorithm.learning_rate = 1e-3
    c.algorithm.weight_decay = 1e-6
    return c
