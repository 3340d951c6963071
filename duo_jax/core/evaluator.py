"""Evaluation on a split's fixed levels: every candidate plays every episode once, from its start.

All candidates of a params grid run in one batched rollout (candidate-major slots), on the
same levels and the same per-episode random streams, so their results are directly comparable.
"""
from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from duo_jax.core.agent import Agent
from duo_jax.core.coordination import (
    CoordState,
    Costs,
    coord_step_fn,
    cost_of,
    episode_keys,
    init_coord_state,
    switched,
)
from duo_jax.core.policy import EXPERT, Policy, check_reads
from duo_jax.core.progress import progress_bar

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


MIN_SLOTS = 8  # the batch halves as episodes run out, down to this many slots per candidate


@functools.lru_cache(maxsize=64)
def evaluation_step(policy: Policy, novice_apply, expert_apply, C: int, open_expert: bool, temperature: float):
    """The evaluator's one jitted call per env step: the episodes' random keys, the decision, each agent's
    forward pass on the envs whose step it decides (the novice on all of them only if the policy reads
    its outputs; neither on slots with no episode left), the env actions. Frames go in as uint8.

    `run(params, novice_params, expert_params, state, obs, first, key, episode, t) -> (actions, state)`, where
    `actions` is [2, B] int32 (env action, coordinator action): the one array the host reads per step.
    Compiled once per batch size (the buckets are branches of the one program), cached across evaluations.
    """
    step = coord_step_fn(policy, novice_apply, expert_apply, C, open_expert, temperature, bucket_expert=True,
                         bucket_novice=True)

    @jax.jit
    def run(params, novice_params, expert_params, state, obs, first, key, episode, t):
        keys = episode_keys(key, jnp.maximum(episode, 0), t)
        env_action, action, _, state = step(params, novice_params, expert_params, state, obs, first, NO_COSTS,
                                            keys, active=episode >= 0)
        return jnp.stack([env_action.astype(jnp.int32), action]), state

    return run


def stream_key(seed: int, split: str) -> jax.Array:
    """The random stream of a split's evaluation: a function of `evaluation.seed` and the split only, so
    every method, candidate and entry point (`main`, `sweep`) meets the same per-episode streams on the
    same levels (common random numbers: paired comparisons)."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), zlib.crc32(split.encode()) & 0x7FFFFFFF)


@dataclass
class Evaluator:
    """A validation or test split with its novice/expert pair and costs.

    `make_env(num_slots)` builds a host `LevelEnv` (duo_jax.core.environment) with that many slots over the
    split's `num_episodes` fixed levels. Each candidate owns `num_envs` slots (candidate-major: slot
    c*N + i runs candidate c) and plays all `num_episodes` episodes through them: when a slot's episode ends,
    it loads the candidate's next pending episode, and once fewer than half of a candidate's slots have an
    episode left the batch is compacted to half its size (down to `MIN_SLOTS`), so almost every executed
    slot-step counts. Every episode draws its random numbers from its own index (`episode_keys`), so the
    results do not depend on the schedule, and the expert runs only on the slots that asked for it.
    """

    split: str
    make_env: Callable[[int], Any]
    novice: Agent
    expert: Agent
    costs: Costs
    num_episodes: int = 256
    num_envs: int = 256
    max_num_steps: int = 256
    open_expert: bool = False
    temperature: float = 1.0
    progress: bool = True
    seed: int = 0  # evaluation.seed: picks the split's levels and, with the split, its random stream

    def __post_init__(self):
        self.last_stats: dict = {}

    def evaluate(
        self, policy: Policy, params: Any, key: jax.Array | None = None, costs: Costs | None = None
    ) -> list[dict]:
        """`params` has a leading candidate axis; returns one summary per candidate."""
        return summaries(self.rollout(policy, params, key), self.costs if costs is None else costs)

    def rollout(self, policy: Policy, params: Any, key: jax.Array | None = None) -> dict:
        """Per-episode counts, arrays [C, num_episodes]: base_reward, length, expert_steps, switches.

        Costs are not applied here, so one rollout of a cost-independent policy scores every alpha.
        `key` defaults to the split's own stream (`stream_key`). `self.last_stats` then holds the executed
        and counted slot-steps of the rollout.
        """
        key = stream_key(self.seed, self.split) if key is None else key
        C = jax.tree_util.tree_leaves(params)[0].shape[0]
        check_reads(policy)
        step = evaluation_step(policy, self.novice.apply, self.expert.apply, C, bool(self.open_expert),
                               float(self.temperature))
        sched = Schedule(C, self.num_episodes, min(self.num_envs, self.num_episodes), self.max_num_steps)
        env = self.make_env(sched.episode.size)
        env.load(np.arange(sched.episode.size), sched.episode.ravel())
        obs, first, prev = env.observe(), np.ones(sched.episode.size, bool), np.zeros(sched.episode.size, np.int32)
        state = init_coord_state(policy, C, sched.episode.size)
        bar = progress_bar(
            total=C * self.num_episodes, desc=f"{self.split} x{C}", disable=not self.progress, leave=False
        )
        while True:
            actions, state = step(params, self.novice.params, self.expert.params, state, obs, first, key,
                                  sched.episode.ravel(), sched.t.ravel())
            env_action, action = np.asarray(actions)  # the one host sync per step: the env needs its actions
            obs, reward, done = env.step(env_action)
            starts, finished = sched.step(action, prev, first, reward, done)
            bar.update(finished)
            prev, first = action, starts
            if starts.any():
                env.load(np.flatnonzero(starts), sched.episode.ravel()[starts])
                obs = env.observe()
            if not sched.running():
                break
            keep = sched.compact()
            if keep is not None:  # the batch halved: the running slots move to a smaller env
                env, obs, first, prev = env.compact(keep), obs[keep], first[keep], prev[keep]
                state = _take_slots(state, keep, C, sched.episode.shape[1])
        bar.close()
        self.last_stats = sched.stats()
        logging.info(
            "%s: %d of %d episodes hit the %d-step cap; %.0f%% of executed slot-steps counted",
            self.split,
            sched.capped,
            C * self.num_episodes,
            self.max_num_steps,
            100 * self.last_stats["useful_step_fraction"],
        )
        return sched.out


class Schedule:
    """Which episode each slot plays, and the episodes' counts (numpy, on the host).

    `episode[c, i]`: the episode slot i of candidate c plays (-1: none left for it); `t`: its steps so far;
    `out`: the counts of finished episodes, arrays [C, num_episodes].
    """

    def __init__(self, C: int, num_episodes: int, n: int, max_num_steps: int):
        self.C, self.E, self.T = C, num_episodes, max_num_steps
        self.episode = np.tile(np.arange(n), (C, 1))
        self.t = np.zeros((C, n), np.int64)
        self.next = np.full(C, n)
        self.acc = _zero_counts(C * n)
        self.out = {name: np.zeros((C, num_episodes), v.dtype) for name, v in self.acc.items()}
        self.executed = self.counted = self.capped = 0

    def step(self, action, prev, first, reward, done) -> tuple[np.ndarray, int]:
        """Count one step; finished episodes (done, or at the step cap) are written out and their slots take
        their candidate's next pending episodes. Returns (the slots that start one, [C*n] bool; the number
        of episodes finished)."""
        C, n = self.episode.shape
        active = (self.episode >= 0).ravel()
        self.acc = count_step(self.acc, action, prev, first, active, reward)
        self.executed, self.counted = self.executed + active.size, self.counted + int(active.sum())
        self.t += active.reshape(C, n)
        at_cap = active & ~done & (self.t.ravel() >= self.T)
        self.capped += int(at_cap.sum())
        ended = (active & done) | at_cap
        if not ended.any():
            return np.zeros(C * n, bool), 0
        c_idx, s_idx = np.nonzero(ended.reshape(C, n))
        for name in self.out:
            self.out[name][c_idx, self.episode[c_idx, s_idx]] = self.acc[name][ended]
            self.acc[name][ended] = 0
        ended = ended.reshape(C, n)
        new = self.next[:, None] + np.cumsum(ended, axis=1) - 1
        starts = ended & (new < self.E)
        self.episode = np.where(starts, new, np.where(ended, -1, self.episode))
        self.next = np.minimum(self.next + ended.sum(1), self.E)
        self.t[ended] = 0
        return starts.ravel(), len(c_idx)

    def running(self) -> int:
        """The most slots any candidate still has an episode in."""
        return int((self.episode >= 0).sum(1).max())

    def compact(self) -> np.ndarray | None:
        """Halve the slots per candidate (down to MIN_SLOTS) while the running ones fit; returns the kept
        slots' old indices (candidate-major, running slots first), or None if nothing changed."""
        n = old = self.episode.shape[1]
        while self.running() <= n // 2 and n // 2 >= MIN_SLOTS:
            n //= 2
        if n == old:
            return None
        order = np.argsort(self.episode < 0, axis=1, kind="stable")[:, :n]
        keep = (order + np.arange(self.C)[:, None] * old).ravel()
        self.episode, self.t = np.take_along_axis(self.episode, order, 1), np.take_along_axis(self.t, order, 1)
        self.acc = {name: v[keep] for name, v in self.acc.items()}
        return keep

    def stats(self) -> dict:
        return {
            "executed_slot_steps": self.executed,
            "counted_steps": self.counted,
            "useful_step_fraction": self.counted / max(self.executed, 1),
        }


def _take_slots(state: CoordState, flat: np.ndarray, C: int, n: int) -> CoordState:
    """The coordination state of slots `flat` (candidate-major, `n` per candidate)."""

    def take(x):  # [C, n_old, ...] -> [C, n, ...]
        return x.reshape(-1, *x.shape[2:])[flat].reshape(C, n, *x.shape[2:])

    return CoordState(jax.tree_util.tree_map(take, state.policy_state), state.prev_action[flat])


def _zero_counts(size: int) -> dict:
    return {name: np.zeros(size, np.float64 if name == "base_reward" else np.int64) for name in EPISODE_FIELDS}


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
