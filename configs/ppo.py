"""PPO coordinator, trained on the train split with the simulated pair (YRC-0), selected on val_sim/val_true.

    python -m duo_jax.main --config configs/ppo.py --config.policy.feature_type=obs
"""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "ppo"
    c.policy.name = "ppo"
    c.policy.feature_type = "hidden_dist"  # obs | hidden | dist | hidden_obs | hidden_dist | obs_dist | obs_hidden_dist
    c.policy.hidden_dim = 256
    c.policy.greedy = False                # sample decisions as in training
    c.algorithm.name = "ppo"
    c.algorithm.total_steps = 1_000_000    # the reference trains 1.5M; see the README for timings
    c.algorithm.num_envs = 64
    c.algorithm.num_steps = 256
    c.algorithm.num_epochs = 3
    c.algorithm.num_minibatches = 8
    c.algorithm.learning_rate = 5e-4
    c.algorithm.gamma = 0.999
    c.algorithm.gae_lambda = 0.95
    c.algorithm.clip_eps = 0.2
    c.algorithm.ent_coef = 0.01
    c.algorithm.vf_coef = 0.5
    c.algorithm.max_grad_norm = 0.5
    c.algorithm.eval_every = 10            # iterations between validation evaluations (and checkpoints)
    c.algorithm.time_limit = 1000          # Procgen's own episode cap: an episode that long is truncated
    return c
