"""Evaluation on a split's fixed levels: each env slot contributes its first episode.

All candidates of a params grid run in one batched rollout (candidate-major slots), on the
same levels, so their results are directly comparable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import numpy as np
from absl import logging
from tqdm.auto import tqdm

from duo_jax.agents.agent import Agent
from duo_jax.core.coordination import Costs, cost_of, make_coord_step, switched
from duo_jax.core.policy import EXPERT, Policy

EPISODE_FIELDS = ("base_reward", "length", "expert_steps", "switches")
NO_COSTS = Costs(0.0, 0.0, 0.0)  # rollouts count; costs are applied to the counts afterwards


def summarize(reward: np.ndarray, base_reward: np.ndarray, length: np.ndarray, expert_steps: np.ndarray) -> dict:
    """Summary of first episodes; arrays are per episode."""
    n = len(reward)
    std = float(np.std(reward))
    return {
        "reward_mean": float(np.mean(reward)),
        "reward_std": std,
        "reward_ci95": 1.96 * std / np.sqrt(n),
        "base_reward_mean": float(np.mean(base_reward)),
        "episode_length_mean": float(np.mean(length)),
        "episode_length_min": int(np.min(length)),
        "episode_length_max": int(np.max(length)),
        "expert_fraction": float(expert_steps.sum() / max(length.sum(), 1)),
        "episodes": int(n),
    }


def format_summary(s: dict) -> str:
    return (
        f"reward {s['reward_mean']:.3f} ± {s['reward_ci95']:.3f} (base {s['base_reward_mean']:.3f}) | "
        f"length {s['episode_length_mean']:.1f} [{s['episode_length_min']}, {s['episode_length_max']}] | "
        f"expert {s['expert_fraction']:.3f} | {s['episodes']} episodes"
    )


@dataclass
class Evaluator:
    """A validation or test split with its novice/expert pair and costs.

    `make_env(num_envs, repeats, round_idx)` builds a host vector env whose `num_envs * repeats`
    slots play round `round_idx` of the split's fixed levels, repeated `repeats` times.
    """

    split: str
    make_env: Callable[[int, int, int], Any]
    novice: Agent
    expert: Agent
    costs: Costs
    num_episodes: int = 256
    num_envs: int = 256
    max_num_steps: int = 256
    open_expert: bool = False
    temperature: float = 1.0
    progress: bool = True

    def evaluate(self, policy: Policy, params: Any, key: jax.Array, costs: Costs | None = None) -> list[dict]:
        """`params` has a leading candidate axis; returns one summary per candidate."""
        return summaries(self.rollout(policy, params, key), self.costs if costs is None else costs)

    def rollout(self, policy: Policy, params: Any, key: jax.Array) -> dict:
        """Per-episode counts, arrays [C, num_episodes]: base_reward, length, expert_steps, switches.

        Costs are not applied here, so one rollout of a cost-independent policy scores every alpha.
        """
        C = jax.tree_util.tree_leaves(params)[0].shape[0]
        init, step = make_coord_step(policy, self.novice, self.expert, C, self.open_expert, self.temperature)
        rounds = self.num_episodes // self.num_envs
        parts = []
        for r in range(rounds):
            key, k = jax.random.split(key)
            parts.append(self._rollout(init, step, params, C, r, k))
        return {name: np.concatenate([p[name] for p in parts], axis=1) for name in parts[0]}

    def _rollout(self, init, step, params, C: int, round_idx: int, key) -> dict:
        N = self.num_envs
        env = self.make_env(N, C, round_idx)
        B = env.num_envs
        obs, first = env.reset(), np.ones(B, bool)
        state = init(B)
        counts = {name: np.zeros(B, np.float64 if name == "base_reward" else np.int64) for name in EPISODE_FIELDS}
        prev = np.zeros(B, np.int32)
        active = np.ones(B, bool)
        bar = tqdm(total=self.max_num_steps, desc=f"{self.split} x{C}", disable=not self.progress, leave=False)
        for _ in range(self.max_num_steps):
            key, k = jax.random.split(key)
            # Costs are recomputed per episode from the counts, so the step's own cost is not needed.
            env_action, action, _, state = step(params, state, obs, first, NO_COSTS, k)
            env_action, action = jax.device_get((env_action, action))
            obs, reward, done = env.step(env_action)
            counts = count_step(counts, action, prev, first, active, reward)
            prev, first = action, done
            active &= ~done
            bar.update()
            if not active.any():
                break
        bar.close()
        logging.info("%s: %d of %d episodes hit the %d-step cap", self.split, active.sum(), B, self.max_num_steps)
        return {name: v.reshape(C, N) for name, v in counts.items()}


def count_step(counts: dict, action, prev_action, first, active, reward) -> dict:
    """The per-episode counts after one step, for the envs still in their first episode (numpy or jax)."""
    return {
        "base_reward": counts["base_reward"] + reward * active,
        "length": counts["length"] + active,
        "expert_steps": counts["expert_steps"] + ((action == EXPERT) & active),
        "switches": counts["switches"] + (switched(action, prev_action, first) & active),
    }


def episode_rewards(episodes: dict, costs: Costs) -> np.ndarray:
    """Reward net of costs, per episode (same shape as the counts)."""
    return episodes["base_reward"] - cost_of(episodes["expert_steps"], episodes["switches"], costs)


def summaries(episodes: dict, costs: Costs) -> list[dict]:
    """One summary per candidate of a rollout, at the given costs."""
    reward = episode_rewards(episodes, costs)
    return [
        summarize(reward[c], episodes["base_reward"][c], episodes["length"][c], episodes["expert_steps"][c])
        for c in range(reward.shape[0])
    ]
