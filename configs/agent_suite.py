"""A Procgen game's agent set, for `python -m duo_jax.agents.suite --game <game> --budget <cpu|paper>`.

`cpu` (the default) is what a 2-core CPU affords in hours: the small CNN, 3.9M novice steps and 7.5M expert
steps, the learning rate annealed linearly to 0 (the shipped jumper set kept it constant,
`--override=novice.ppo.final_lr_fraction=1.0 --override=expert.ppo.final_lr_fraction=1.0`). (The shipped
coinrun novice had 983,040 steps, `--override=novice.ppo.total_steps=983040`: coinrun's novice learns in 1M
steps, maze's and jumper's do not, so their 1M-step novices did not beat their own snapshots on val_sim.)
`paper` is YRC-Bench's budget (novice 80M easy steps, expert 200M hard steps, IMPALA CNN), for a GPU. `novice`
and `expert` are whole `configs/train_agent.py` configs (the suite sets their game, out_dir and snapshots);
`sim_novice.snapshots` are fractions of the novice's budget at which its run is snapshotted, and the simulated
novice is the snapshot at `sim_novice.fraction` (the reference's half); the suite says whether the novice clearly
beats it on val_sim. `expert_agent` (`--expert PATH`): a trained expert to use instead of training one.
"""
import os

import ml_collections

from duo_jax.config import load_config

BUDGETS = ("cpu", "paper")


def _train_config(split: str, seed: int, total_steps: int, model: str) -> ml_collections.ConfigDict:
    c = load_config(os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_agent.py"))
    c.env.split, c.seed, c.ppo.total_steps, c.model.name = split, seed, total_steps, model
    return c


def get_config(budget: str = "cpu"):
    if budget not in BUDGETS:
        raise ValueError(f"configs/agent_suite.py takes a budget, one of {', '.join(BUDGETS)}; got {budget!r}.")
    c = ml_collections.ConfigDict()
    c.budget = budget
    c.game = "coinrun"
    if budget == "cpu":   # 16,384 env steps an iteration; about 2,000 steps/s here
        c.novice = _train_config("train", 0, 240 * 16384, "small_cnn")
        c.expert = _train_config("test", 1, 460 * 16384, "small_cnn")
        for agent in (c.novice, c.expert):
            agent.ppo.checkpoint_every = 3     # every ~4 minutes on 2 cores
            agent.ppo.final_lr_fraction = 0.0  # annealed to 0: at a constant rate ninja's novice degraded late
    else:
        c.novice = _train_config("train", 0, 80_000_000, "impala_cnn")
        c.expert = _train_config("test", 1, 200_000_000, "impala_cnn")
    # YRC-0's simulated novice: an earlier checkpoint of the novice's own run (the paper: 40M of 80M steps).
    c.sim_novice = ml_collections.ConfigDict(dict(snapshots=(0.125, 0.25, 0.5), fraction=0.5))
    c.expert_agent = ""
    # Each agent's reward on the fixed levels of val_sim (easy) and test (hard), as agents.evaluate measures it.
    c.evaluation = ml_collections.ConfigDict(dict(num_episodes=1024, num_envs=64, max_num_steps=1000, seed=0))
    return c
