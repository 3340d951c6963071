"""The split a coordinator learns from, handed to every algorithm.

YRC-0: the train split uses the train (simulated) novice/expert pair; the skyline trains on the
test split with the test pair. An algorithm sees only this task and its validators.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from duo_jax.core.agent import Agent
from duo_jax.core.coordination import Costs
from duo_jax.core.environment import EnvFamily


@dataclass
class TrainTask:
    """`make_env(num_envs, seed)` gives random levels of `split`; `make_fixed_env(num_episodes, num_envs,
    seed)` gives slots that play its fixed levels (a `LevelEnv`). `workdir` is where an algorithm keeps the checkpoints
    it resumes from (inside the experiment's partial directory); `logdir` is where its training curves go
    (`duo_jax.core.curves.open_curves`; empty: none are written). `deployed_novice` is the test pair's novice, the
    one the coordinator will serve: YRC-0 lets an algorithm see that novice's own training-split rollouts, which
    `algorithm.calibrate_on=deployed_novice` (logit, ood) calibrates on."""

    split: str
    env: EnvFamily
    novice: Agent
    expert: Agent
    costs: Costs
    open_expert: bool = False
    temperature: float = 1.0
    workdir: str = ""
    logdir: str = ""
    deployed_novice: Agent | None = None

    def make_env(self, num_envs: int, seed: int = 0):
        return self.env.make_train_env(self.split, num_envs, seed)

    def make_fixed_env(self, num_episodes: int, num_envs: int, seed: int = 0):
        return self.env.make_eval_env(self.split, num_episodes, num_envs, seed)

    def __getitem__(self, name: str) -> EnvFamily:
        """Deprecated (CHANGELOG.md, Breaking): the first tutorial's algorithms got `envs = {"train": env}` where
        the task now goes, so `envs["train"]` still gives the env family."""
        if name != "train":
            raise KeyError(name)
        warnings.warn(
            'an algorithm\'s third argument is a TrainTask, no longer {"train": env}: write task.env instead of '
            'envs["train"].', DeprecationWarning, stacklevel=2,
        )
        return self.env
