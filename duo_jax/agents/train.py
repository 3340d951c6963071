"""Train a base agent with PPO: `python -m duo_jax.agents.train --config configs/train_agent.py`.

Procgen agents train with the host-env trainer (`ppo`); `env.name="gridworld"` configs
(configs/train_grid_agent.py) with the all-JAX one (`jax_ppo`). Every field is checked before training.
"""
from absl import logging

from duo_jax import cli
from duo_jax.agents import jax_ppo, ppo
from duo_jax.core.registry import MODELS
from duo_jax.envs import procgen
from duo_jax.envs.gridworld import env as grid_env
from duo_jax.validate import validate_agent_training


def prepare(config):
    """The config, checked: the table of duo_jax.validate, then the names it gives."""
    validate_agent_training(config)
    per_iteration = config.ppo.num_envs * config.ppo.num_steps
    ppo.check_snapshots(config.ppo.get("snapshots", ()), ppo.num_iterations(config.ppo) * per_iteration)
    if config.model.name not in MODELS:
        raise ValueError(f"model.name must be one of {', '.join(MODELS.names())}; got {config.model.name!r}.")
    if config.env.get("name") == "gridworld":
        for field in ("task", "eval_task"):
            task = config.env[field]
            if (task or field == "task") and task not in grid_env.names():
                raise ValueError(f"env.{field} must be one of {', '.join(grid_env.names())}; got {task!r}.")
        return config
    procgen.check_game(config.env.game)
    if config.env.split not in procgen.SPLITS:
        raise ValueError(f"env.split must be one of {', '.join(procgen.SPLITS)}; got {config.env.split!r}.")
    if config.env.num_actions != procgen.NUM_ACTIONS:
        raise ValueError(
            f"env.num_actions must be {procgen.NUM_ACTIONS} (every Procgen game's); got {config.env.num_actions}."
        )
    return config


def execute(config) -> None:
    if config.env.get("name") == "gridworld":
        logging.info("Agent saved to %s", jax_ppo.train_and_save(config))
        return
    path = ppo.train(config, lambda game, split, n, seed: procgen.ProcgenEnv(game, split, n, seed=seed))
    logging.info("Agent saved to %s", path)


def main(argv=None):
    cli.run(
        prepare, execute, config_default="configs/train_agent.py", config_example="configs/train_agent.py", argv=argv
    )


if __name__ == "__main__":
    main()
