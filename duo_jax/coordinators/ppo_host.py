"""The PPO coordinator's trainer on a host-stepped env (Procgen): learn when to ask the expert, on the
coordination environment of the train split.

It is base-agent PPO (`duo_jax.rl.host_actor`'s loop) on the coordination env of the host env
(`duo_jax.core.coord_env.HostCoordEnv`: the coordinator's action picks who acts, its reward is the env reward
minus the expert and switch costs), plus the coordinator's own validations and best policies.

Training curves go to `task.logdir` at every iteration's env step count: `loss/<name>` and, when episodes ended,
`train/return` (net of costs), `train/episode_length`, `train/expert_fraction`; at each evaluation
`val/<split>/reward_mean`, `val/<split>/expert_fraction`, `val/<split>/episode_length_mean`.

Before training and every `eval_every` iterations the policy is evaluated on each validation split, on its
fixed levels; the best so far per split is saved as `<workdir>/best_<split>`, the training state as `<workdir>/last`,
from which an interrupted run resumes exactly (params, optimizer, key, return normaliser, episode statistics,
the envs' own states where the env has `get_state`/`set_state`, as Procgen does). A loss or params that stop
being finite stop training (`Diverged`) before anything is saved. The final policy is evaluated and saved as
`<workdir>/final`.
The skyline is this algorithm with `algorithm.train_split="test"` (the test pair and distribution).

On a JAX-native env (gridworlds) all of this runs in jitted chunks instead (`ppo_jax.train_alphas`), and a cost
sweep trains every alpha at once; the method (`ppo.py`) picks the trainer.
"""
from __future__ import annotations

import os

import jax
from absl import logging

from duo_jax.coordinators.features import feature_reads
from duo_jax.coordinators.grid_search import AlgorithmResult
from duo_jax.coordinators.ppo_jax import ENGINE, VAL_CURVES
from duo_jax.coordinators.ppo_network import coordinator_apply, init_coordinator
from duo_jax.core import checkpoint
from duo_jax.core.coord_env import HostCoordEnv
from duo_jax.core.evaluator import format_summary
from duo_jax.core.policy import stack_params
from duo_jax.core.task import TrainTask
from duo_jax.rl import host_actor
from duo_jax.rl.ppo import num_iterations, optimizer


def _save_policy(path: str, params, config, **extra) -> None:
    checkpoint.save_policy(path, "ppo", params, config.policy.to_dict(), algorithm=config.algorithm.name, **extra)


class _Validation(host_actor.Hooks):
    """The coordinator's own part of the loop: the policy validated on each split before training and at every
    training state saved, the best so far per split kept as `<workdir>/best_<split>`."""

    def __init__(self, policy, task: TrainTask, validators: dict, config):
        self.policy, self.task, self.validators, self.config = policy, task, validators, config
        self.steps_per_iter = config.algorithm.num_envs * config.algorithm.num_steps
        self.history, self.best = {s: [] for s in validators}, {}

    def resume(self, meta: dict, params) -> None:
        if meta.get("engine") != ENGINE:
            raise checkpoint.CannotResume(
                f"{os.path.join(self.task.workdir, 'last')} holds a PPO run of an earlier duo_jax (before the "
                "coordination env), which this one cannot resume; remove it to start over."
            )
        self.history = meta["history"]
        for split, summary in meta["best"].items():
            best = checkpoint.load_checkpoint(os.path.join(self.task.workdir, f"best_{split}"), target=params)[0]
            self.best[split] = (best, summary)

    def start(self, params, key) -> dict:
        return self._validate(params, 0, key)

    def iteration(self, it: int, params, key, saving: bool) -> dict:
        return self._validate(params, it, key) if saving else {}

    def _validate(self, params, it: int, key) -> dict:
        scalars = {}
        for split, validator in self.validators.items():
            key, k = jax.random.split(key)
            summary = validator.evaluate(self.policy, stack_params([params]), k)[0]
            self.history[split].append(dict(iteration=it, steps=it * self.steps_per_iter, **summary))
            logging.info("PPO iter %d %s: %s", it, split, format_summary(summary))
            if split not in self.best or summary["reward_mean"] > self.best[split][1]["reward_mean"]:
                self.best[split] = (params, summary)
                _save_policy(os.path.join(self.task.workdir, f"best_{split}"), params, self.config,
                             selected_on=split, summary=summary, iteration=it)
            scalars.update({f"val/{split}/{f}": summary[f] for f in VAL_CURVES})
        return scalars

    def meta(self) -> dict:
        return {"history": self.history, "best": {s: summary for s, (_, summary) in self.best.items()},
                "engine": ENGINE}


def train_host(key, policy, task: TrainTask, validators, config) -> AlgorithmResult:
    """Train the `ppo` policy on `task`'s host env at `task.costs`, validated on `validators` (see above)."""
    a, p = config.algorithm, config.policy
    env = HostCoordEnv(task.make_env(a.num_envs, config.seed), task.novice, task.expert, task.costs,
                       task.open_expert, task.temperature, feature_reads(p.feature_type), seed=config.seed)
    key, k_init = jax.random.split(key)
    params = init_coordinator(k_init, p.feature_type, env.reset(), p.hidden_dim)
    hooks = _Validation(policy, task, validators, config)
    num_iters = num_iterations(a)
    params = host_actor.train(
        a, env, coordinator_apply(p.feature_type, p.hidden_dim), params, optimizer(a, num_iters), key, hooks,
        state_dir=os.path.join(task.workdir, "last"), curves_dir=task.logdir, config=config,
        curve_tags={"return": "train/return", "length": "train/episode_length", "expert": "train/expert_fraction"},
        checkpoint_every=a.eval_every, info_names=("expert",), time_limit=a.time_limit,
    )
    _save_policy(os.path.join(task.workdir, "final"), params, config, iteration=num_iters)
    best, summaries = {s: b[0] for s, b in hooks.best.items()}, {s: b[1] for s, b in hooks.best.items()}
    return AlgorithmResult(best, summaries, hooks.history)
