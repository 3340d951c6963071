"""Any method on a JAX-native gridworld: `--config=configs/gridworld.py:<game>,<method>`.

    python -m duo_jax.main --config=configs/gridworld.py:doorkey,ask_every_k
    python -m duo_jax.sweep --config=configs/gridworld.py:lavagap,logit

<game>: distshift (DistShift1 -> DistShift2), lavagap (LavaGapS5 -> LavaGapS7), doorkey (DoorKey-5x5 ->
DoorKey-8x8). <method>: the name of any method config in this directory (ask_every_k, logit, ppo, ...), or the
path of any other method config file (ending in .py, relative to the working directory), e.g.
`--config=configs/gridworld.py:doorkey,my_configs/my_method.py`.
Evaluation runs as one jitted scan; the agents are agents/<game>/{sim_novice, novice, expert}.
"""
import os

import ml_collections

from duo_jax.config import load_config

# Farama's max_steps of each game's test task: episodes are never capped before the env truncates them.
MAX_STEPS = {"distshift": 4 * 9 * 7, "lavagap": 4 * 7 * 7, "doorkey": 10 * 8 * 8}


def get_config(arg: str = "distshift,ask_every_k"):
    game, _, method = arg.partition(",")
    if game not in MAX_STEPS or not method:
        raise ValueError(
            f"configs/gridworld.py takes '<game>,<method>' with game in {', '.join(MAX_STEPS)}; got {arg!r}."
        )
    shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{method}.py")
    c = load_config(os.path.abspath(method) if method.endswith(".py") else shipped)
    c.name = f"{game}_{c.name}"
    # action_noise: YRC-Bench's MiniGrid noise (the env takes a uniformly random action with this probability).
    c.env = ml_collections.ConfigDict(dict(name="gridworld", game=game, action_noise=0.1))
    c.evaluation.max_num_steps = MAX_STEPS[game]
    c.evaluation.num_episodes = c.evaluation.num_envs = 1024
    if "time_limit" in c.algorithm:  # PPO: the env's own truncation
        c.algorithm.time_limit = MAX_STEPS[game]
        c.algorithm.num_envs = 256
        c.algorithm.num_steps = 64
        c.algorithm.eval_every = 6  # 61 iterations: 11 validation points besides the initial policy (YRC-Bench: >= 10)
    return c
