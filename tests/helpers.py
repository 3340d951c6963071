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
    """A scripted host `LevelEnv`: level e is an episode of `lengths[e]` steps, restarted when it ends.

    Reward per step: STEP_REWARD if the action is EXPERT_ACTION, plus END_REWARD at the last step of
    an episode the slot loaded; every step of an episode the env restarted by itself pays LATER_REWARD
    (never to be counted). `log` (shared with the envs `compact` makes) records every step's actions and
    every load.
    """

    STEP_REWARD = 1.0
    END_REWARD = 10.0
    LATER_REWARD = 100.0

    def __init__(self, lengths, num_envs=None, obs_shape=OBS_SHAPE, log=None):
        self.lengths = np.asarray(lengths, np.int64)
        self.num_envs = len(self.lengths) if num_envs is None else num_envs
        self.obs_shape = obs_shape
        self.slot_length = np.ones(self.num_envs, np.int64)
        self.t = np.zeros(self.num_envs, np.int64)
        self.later = np.ones(self.num_envs, bool)   # nothing loaded yet
        self.log = {"actions": [], "loads": []} if log is None else log

    @property
    def actions(self) -> list[np.ndarray]:
        return self.log["actions"]

    def load(self, slots, episodes):
        slots, episodes = np.asarray(slots), np.asarray(episodes)
        self.log["loads"].append((slots.copy(), episodes.copy()))
        self.slot_length[slots] = self.lengths[episodes]
        self.t[slots] = 0
        self.later[slots] = False

    def compact(self, slots):
        new = FakeEnv(self.lengths, len(slots), self.obs_shape, self.log)
        for name in ("slot_length", "t", "later"):
            setattr(new, name, getattr(self, name)[slots].copy())
        return new

    def observe(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, *self.obs_shape), np.uint8)
        obs[:] = (self.t % 256).astype(np.uint8)[:, None, None, None]
        return obs

    def step(self, action):
        action = np.asarray(action)
        assert action.shape == (self.num_envs,)
        self.log["actions"].append(action.copy())
        reward = np.where(action == EXPERT_ACTION, self.STEP_REWARD, 0.0) + np.where(self.later, self.LATER_REWARD, 0.0)
        self.t += 1
        done = self.t >= self.slot_length
        reward = reward + np.where(done & ~self.later, self.END_REWARD, 0.0)
        self.later |= done
        self.t[done] = 0
        return self.observe(), reward.astype(np.float32), done.astype(bool)


class FakeEnvFactory:
    """`make_env(num_slots)` over a fixed list of episode lengths (the "levels")."""

    def __init__(self, lengths):
        self.lengths = list(lengths)
        self.calls: list[int] = []
        self.envs: list[FakeEnv] = []

    def __call__(self, num_slots):
        self.calls.append(num_slots)
        env = FakeEnv(self.lengths, num_slots)
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
