"""Base agents (novice or expert): build one from a registered model, load a trained one, and the identity of
the run that trained it. The `Agent` type is `duo_jax.core.agent`'s (re-exported here, its earlier home)."""
from __future__ import annotations

import hashlib
import json

import jax
import jax.numpy as jnp

import duo_jax.agents.models  # noqa: F401  (registers the built-in models)
from duo_jax.core.agent import Agent, sample_action  # noqa: F401  (re-exported: their home before core/agent.py)
from duo_jax.core.checkpoint import load_checkpoint
from duo_jax.core.registry import MODELS


def make_model(name: str, num_actions: int, **kwargs):
    return MODELS.get(name)(num_actions=num_actions, **kwargs)


def init_agent(key: jax.Array, model: str, num_actions: int, obs_shape: tuple) -> Agent:
    module = make_model(model, num_actions)
    params = module.init(key, jnp.zeros((1, *obs_shape), jnp.uint8))
    return Agent(module.apply, params, {"model": model, "num_actions": num_actions, "obs_shape": list(obs_shape)})


# Training-config fields that do not change what a run trains: where it writes, what it logs and saves,
# and how it evaluates the result.
NOT_TRAINING = ("out_dir", "overwrite", "ppo.log_every", "ppo.checkpoint_every", "ppo.snapshots", "env.eval_task",
                "env.num_eval_episodes", "env.eval_seed")


def training_identity(train_config) -> dict:
    """The training config less `NOT_TRAINING`: two runs with the same identity train the same agent."""
    run = json.loads(json.dumps(train_config.to_dict(), default=str))
    for field in NOT_TRAINING:
        *parents, name = field.split(".")
        node = run
        for parent in parents:
            node = node.get(parent, {})
        node.pop(name, None)
    return run


def provenance(train_config, train_steps: int) -> dict:
    """`run_id`, `train_steps` and `seed` for an agent checkpoint's config. The run id hashes the
    `training_identity`, so every snapshot of one run, resumed or not, carries the same one: YRC-0's
    simulated novice must be an earlier snapshot of the novice's own run."""
    run_id = hashlib.sha1(json.dumps(training_identity(train_config), sort_keys=True).encode()).hexdigest()[:12]
    return {"run_id": run_id, "train_steps": int(train_steps), "seed": int(train_config.seed)}


def load_agent(path: str) -> Agent:
    """Restore an agent saved by the PPO trainer (its `agent` checkpoint)."""
    params, config = load_checkpoint(path, what="an agent checkpoint such as agents/coinrun/novice/agent")
    if "model" not in config:
        raise ValueError(f"Checkpoint at {path!r} is not an agent checkpoint (its config has no 'model').")
    module = make_model(config["model"], config["num_actions"])
    return Agent(module.apply, params, config)

