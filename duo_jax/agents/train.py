"""Train a base agent with PPO: `python -m duo_jax.agents.train --config configs/train_agent.py`.

Procgen agents train with the host-env trainer (`ppo`); `env.name="gridworld"` configs
(configs/train_grid_agent.py) with the all-JAX one (`jax_ppo`). Every field is checked before training.
`out_dir` is relative to the working directory. The same command run again resumes an interrupted training; an
out_dir that holds any other agent (a finished run's, a shipped one in agents/) is written only with
`--config.overwrite=True`.
"""
import os

from absl import logging

from duo_jax import cli
from duo_jax.agents import jax_ppo, ppo
from duo_jax.agents.agent import provenance
from duo_jax.core import checkpoint
from duo_jax.core.registry import MODELS
from duo_jax.envs import procgen
from duo_jax.envs.gridworld import env as grid_env
from duo_jax.validate import validate_agent_training


def finished_agent(config) -> str | None:
    """`<out_dir>/agent` unless it is absent or an interrupted run of this same training (the run id says which),
    which a rerun resumes."""
    agent = os.path.join(os.path.abspath(config.out_dir), "agent")
    if not os.path.isdir(agent):
        return None
    _, saved = checkpoint.load_checkpoint(agent)
    total = ppo.num_iterations(config.ppo) * config.ppo.num_envs * config.ppo.num_steps
    if saved.get("run_id") == provenance(config, 0)["run_id"] and saved.get("train_steps", total) < total:
        return None
    return agent


def prepare(config):
    """The config checked, and its out_dir free: an agent there is replaced only on request."""
    check(config)
    agent = finished_agent(config)
    if agent is not None and not config.get("overwrite", False):
        raise ValueError(f"out_dir: {os.path.dirname(agent)} holds an agent this training would replace (a "
                         "finished or another run's); set --config.overwrite=True to train into it anyway, or choose "
                         "another --config.out_dir.")
    return config


def check(config):
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
    cli.run(prepare, execute, config_default="configs/train_agent.py", config_example="configs/train_agent.py",
            argv=argv, resume_from=lambda config: os.path.join(os.path.abspath(config.out_dir), "state"))


if __name__ == "__main__":
    main()
