"""Train a base agent with PPO: `python -m duo_jax.agents.train --config configs/train_agent.py`.

Procgen agents train with the host-env trainer (`ppo`); `env.name="gridworld"` configs
(configs/train_grid_agent.py) with the all-JAX one (`jax_ppo`).
"""
from absl import logging

from absl import app
from ml_collections import config_flags

from duo_jax.agents import jax_ppo, ppo
from duo_jax.envs.procgen import ProcgenEnv, check_game, check_split

_CONFIG = config_flags.DEFINE_config_file("config", "configs/train_agent.py", "Agent training config.")


def main(_):
    config = _CONFIG.value
    if config.env.get("name") == "gridworld":
        logging.info("Agent saved to %s", jax_ppo.train_and_save(config))
        return
    check_game(config.env.game)
    check_split(config.env.split)
    path = ppo.train(config, lambda game, split, n, seed: ProcgenEnv(game, split, n, seed=seed))
    logging.info("Agent saved to %s", path)


if __name__ == "__main__":
    app.run(main)
