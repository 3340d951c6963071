"""PPO for base agents (novice/expert) on a host vector env: `duo_jax.rl.host_actor`'s loop (PPO's core is
`duo_jax.rl.ppo`) plus what is the agents' own, the snapshots and the `<out_dir>/agent` checkpoint that
`load_agent` reads. Training resumes from the last checkpoint under `<out_dir>/state` exactly where it stopped
(params, optimizer, key, return normaliser, episode statistics and the envs' own states), so a killed run rerun
ends with the params of an uninterrupted one.
"""
from __future__ import annotations

import os

import jax
import ml_collections

from duo_jax.agents.agent import init_agent, provenance
from duo_jax.core import checkpoint
from duo_jax.rl import host_actor
from duo_jax.rl.host_actor import Hooks

# PPO's core moved to duo_jax.rl.ppo; these names stay importable from here.
from duo_jax.rl.ppo import (  # noqa: F401
    MICROBATCH,
    Batch,
    Diverged,
    ReturnNormalizer,
    check_finite,
    check_snapshots,
    gae,
    make_update,
    minibatch_grads,
    normalize,
    num_iterations,
    optimizer,
    ppo_loss,
    restore_env_state,
    save_env_state,
    scan_update,
)


class _AgentHooks(Hooks):
    """The agent's own part of the loop: snapshots, and the `agent` checkpoint beside each training state."""

    def __init__(self, config, out_dir: str, agent_config: dict, steps_per_iter: int):
        self.config, self.out_dir, self.agent_config = config, out_dir, agent_config
        self.steps_per_iter = steps_per_iter

    def iteration(self, it: int, params, key, saving: bool) -> dict:
        step = it * self.steps_per_iter
        agent_config = dict(self.agent_config, **provenance(self.config, step))
        for snap in self.config.ppo.get("snapshots", ()):
            # An earlier checkpoint of the same run: YRC-0's simulated novice shares the novice's features.
            if step - self.steps_per_iter < snap <= step:
                checkpoint.save_checkpoint(os.path.join(self.out_dir, f"snapshot_{snap}"), params, agent_config)
        if saving:  # the agent first, the training state last: a run killed between the two redoes these iterations
            checkpoint.save_checkpoint(os.path.join(self.out_dir, "agent"), params, agent_config, step=step,
                                       max_to_keep=1)
        return {}

    def meta(self) -> dict:
        return {"config": self.config.to_dict()}


def train(config: ml_collections.ConfigDict, make_env) -> str:
    """Train (or resume) a base agent; returns the path of its `agent` checkpoint.

    `make_env(game, split, num_envs, seed)` returns a host vector env; with `get_state()` (bytes per env) and
    `set_state(states) -> obs` a resumed run continues bit for bit (Procgen has both). Training curves go to
    `<out_dir>/curves`, at every iteration's env step count: `loss/<pg_loss|vf_loss|entropy|approx_kl>` and,
    when episodes ended in it, `train/return_mean`, `train/length_mean`, `train/episodes`."""
    cfg = config.ppo
    out_dir = os.path.abspath(config.out_dir)
    env = make_env(config.env.game, config.env.split, cfg.num_envs, config.seed)
    key = jax.random.PRNGKey(config.seed)
    key, init_key = jax.random.split(key)
    agent = init_agent(init_key, config.model.name, config.env.num_actions, env.reset().shape[1:])
    hooks = _AgentHooks(config, out_dir, dict(agent.config, game=config.env.game, trained_on=config.env.split),
                        cfg.num_envs * cfg.num_steps)
    host_actor.train(
        cfg, env, agent.apply, agent.params, optimizer(cfg, num_iterations(cfg)), key, hooks,
        state_dir=os.path.join(out_dir, "state"), curves_dir=os.path.join(out_dir, "curves"), config=config,
        curve_tags={"return": "train/return_mean", "length": "train/length_mean", "episodes": "train/episodes"},
        checkpoint_every=cfg.checkpoint_every, name="agent PPO",
    )
    return os.path.join(out_dir, "agent")
