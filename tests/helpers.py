"""Test doubles shared by the test modules: scripted host envs, constant agents, config loading."""
from __future__ import annotations

import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np

import duo_jax.config
from duo_jax.agents.agent import Agent

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NUM_ACTIONS = 5
NOVICE_ACTION = 3
EXPERT_ACTION = 2          # the "good" action: it earns FakeEnv.STEP_REWARD
OBS_SHAPE = (8, 8, 3)


def const_agent(action: int, num_actions: int = NUM_ACTIONS) -> Agent:
    """An agent that always samples `action` (one-hot logits of 1e4)."""

    def apply(params, obs):
        b = obs.shape[0]
        logits = jnp.broadcast_to(jax_one_hot(params["a"], num_actions) * 1e4, (b, num_actions))
        return logits, jnp.zeros((b,)), jnp.zeros((b, 4))

    return Agent(apply, {"a": jnp.int32(action)}, {"model": "const", "num_actions": num_actions})


def uniform_agent(num_actions: int = NUM_ACTIONS) -> Agent:
    """An agent whose sampled actions depend only on the sampling key."""

    def apply(params, obs):
        b = obs.shape[0]
        return jnp.zeros((b, num_actions)) + params["z"], jnp.zeros((b,)), jnp.zeros((b, 4))

    return Agent(apply, {"z": jnp.float32(0.0)}, {"model": "uniform", "num_actions": num_actions})


def jax_one_hot(i, n):
    return (jnp.arange(n) == i).astype(jnp.float32)


class FakeEnv:
    """A scripted host vector env. Slot i plays episodes of `lengths[i]` steps.

    Reward per step: STEP_REWARD if the action is EXPERT_ACTION, plus END_REWARD at the last step of
    the slot's first episode; every step of a later episode pays LATER_REWARD (never to be counted).
    """

    STEP_REWARD = 1.0
    END_REWARD = 10.0
    LATER_REWARD = 100.0

    def __init__(self, lengths, obs_shape=OBS_SHAPE):
        self.lengths = np.asarray(lengths, np.int64)
        self.num_envs = len(self.lengths)
        self.obs_shape = obs_shape
        self.t = np.zeros(self.num_envs, np.int64)
        self.episode = np.zeros(self.num_envs, np.int64)
        self.actions: list[np.ndarray] = []

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, *self.obs_shape), np.uint8)
        obs[:] = (self.t % 256).astype(np.uint8)[:, None, None, None]
        return obs

    def reset(self) -> np.ndarray:
        return self._obs()

    def step(self, action):
        action = np.asarray(action)
        assert action.shape == (self.num_envs,)
        self.actions.append(action.copy())
        later = self.episode > 0
        reward = np.where(action == EXPERT_ACTION, self.STEP_REWARD, 0.0) + np.where(later, self.LATER_REWARD, 0.0)
        self.t += 1
        done = self.t >= self.lengths
        reward = reward + np.where(done & ~later, self.END_REWARD, 0.0)
        self.episode += done
        self.t[done] = 0
        return self._obs(), reward.astype(np.float32), done.astype(bool)


class FakeEnvFactory:
    """`make_env(num_envs, repeats, round_idx)` over a fixed list of episode lengths (the "levels")."""

    def __init__(self, lengths):
        self.lengths = list(lengths)
        self.calls: list[tuple[int, int, int]] = []
        self.envs: list[FakeEnv] = []

    def __call__(self, num_envs, repeats, round_idx):
        self.calls.append((num_envs, repeats, round_idx))
        levels = self.lengths[round_idx * num_envs : (round_idx + 1) * num_envs]
        env = FakeEnv(np.tile(levels, repeats))
        self.envs.append(env)
        return env


def expected_episode(expert_at, length: int, cap: int, alpha: float, beta: float, bp: float) -> dict:
    """Hand-rolled first-episode accounting for a constant novice/expert pair in FakeEnv.

    `expert_at(t)` says whether the coordinator picks the expert at step t of the episode.
    """
    steps = min(length, cap)
    base = cost = 0.0
    experts = 0
    prev = None
    for t in range(steps):
        e = bool(expert_at(t))
        experts += e
        base += FakeEnv.STEP_REWARD if e else 0.0
        cost += alpha * bp * e
        if t > 0 and e != prev:
            cost += beta * bp
        prev = e
    if length <= cap:
        base += FakeEnv.END_REWARD
    return {"reward": base - cost, "base": base, "length": steps, "experts": experts}


def expected_summary(episodes: list[dict]) -> dict:
    reward = np.array([e["reward"] for e in episodes])
    lengths = np.array([e["length"] for e in episodes])
    n = len(episodes)
    return {
        "reward_mean": reward.mean(),
        "reward_std": reward.std(),
        "reward_ci95": 1.96 * reward.std() / np.sqrt(n),
        "base_reward_mean": np.mean([e["base"] for e in episodes]),
        "episode_length_mean": lengths.mean(),
        "episode_length_min": int(lengths.min()),
        "episode_length_max": int(lengths.max()),
        "expert_fraction": sum(e["experts"] for e in episodes) / lengths.sum(),
        "episodes": n,
    }


def load_config(name: str):
    """`configs/<name>.py`'s get_config()."""
    return duo_jax.config.load_config(os.path.join(REPO, "configs", f"{name}.py"))


def run_main(*args, timeout=300) -> subprocess.CompletedProcess:
    """`python -m duo_jax.main ARGS` from the repository root."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-m", "duo_jax.main", *args], cwd=REPO, capture_output=True, text=True,
        timeout=timeout, env=env,
    )
