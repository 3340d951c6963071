"""Default experiment config shared by `configs/*.py` (reference DuoAI defaults unless noted)."""
import importlib.util
import os

import ml_collections



def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = "experiment"
    c.mode = "train"                # train | eval
    c.overwrite = False             # replace an existing experiments/<name>
    c.experiments_dir = "experiments"
    c.seed = 0
    c.plugins = ()                  # user .py files whose register_* calls run first
    c.env = ml_collections.ConfigDict(dict(name="procgen", game="coinrun"))
    # YRC-0: train and val_sim use a simulated pair (a weaker novice; the real novice as expert),
    # so nothing but val_true and test ever sees the test expert. Empty = the shipped agents of env.game:
    # agents/<game>/{sim_novice, novice, novice, expert}/agent.
    c.agents = ml_collections.ConfigDict(dict(train_novice="", train_expert="", test_novice="", test_expert=""))
    # Expert step cost alpha*BP, switch cost beta*BP; bp <= 0: derived from each pair's expert stats.
    c.costs = ml_collections.ConfigDict(dict(alpha=0.4, beta=0.0, bp=-1.0))
    c.coordination = ml_collections.ConfigDict(dict(open_expert=False, temperature=1.0))
    c.policy = ml_collections.ConfigDict(dict(name="always"))
    # train_split: where the algorithm learns (with that split's pair); "test" only for the skyline.
    c.algorithm = ml_collections.ConfigDict(dict(name="always", train_split="train"))
    c.evaluation = ml_collections.ConfigDict(
        dict(
            num_episodes=256,
            num_envs=64,            # env slots per candidate; each plays episodes until none is left
            max_num_steps=256,
            seed=0,                 # picks the fixed levels of each split
            validation_splits=("val_sim", "val_true"),
            test_split="test",
            progress=True,
        )
    )
    c.eval = ml_collections.ConfigDict(dict(checkpoint="", splits=("test",)))
    # python -m duo_jax.sweep: the cost weights alpha to run the method at (the paper's grid).
    c.sweep = ml_collections.ConfigDict(dict(alphas=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)))
    # Training curves under experiments/<name>/curves (duo_jax.core.curves); wandb needs the `wandb` extra.
    c.logging = ml_collections.ConfigDict(dict(tensorboard=True, csv=True, wandb=False, wandb_project="duo_jax"))
    return c


def load_config(path: str) -> ml_collections.ConfigDict:
    """`get_config()` of a config file, for use from Python (the CLI loads it through absl flags).

    `path` may end with `:arg`, passed to `get_config(arg)` as on the command line.
    """
    path, _, arg = path.partition(":")
    if not os.path.isfile(path):
        raise ValueError(f"config file {path!r} does not exist.")
    spec = importlib.util.spec_from_file_location("duo_jax_config_" + os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg) if arg else module.get_config()
