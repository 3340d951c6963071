"""Fault tolerance: a trainer killed with SIGKILL at a random moment and rerun ends bit for bit where an
uninterrupted run ends, and a NaN stops training with one sentence and the last good checkpoint intact."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from helpers import REPO, load_config

import duo_jax.config
from duo_jax.agents import ppo
from duo_jax.core.checkpoint import latest_step, load_checkpoint

ITERATIONS = 6
# coinrun with the small CNN, 4 envs x 16 steps an iteration, a checkpoint after every one.
TINY_AGENT = [
    "--config.ppo.num_envs=4", "--config.ppo.num_steps=16", f"--config.ppo.total_steps={ITERATIONS * 64}",
    "--config.ppo.num_minibatches=2", "--config.ppo.num_epochs=1", "--config.ppo.checkpoint_every=1",
]


@pytest.fixture(scope="module")
def jax_cache(tmp_path_factory):
    """A persistent compilation cache the subprocesses share: the runs after the first skip XLA's compiles."""
    return str(tmp_path_factory.mktemp("jax_cache"))


def launch(jax_cache, module, *args, wait=True):
    """`python -m module args` from the repository root, on the shared compilation cache."""
    cmd = [sys.executable, "-m", module, *args]
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=jax_cache,
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    if wait:
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    log = open(os.path.join(jax_cache, f"{module}.{time.time_ns()}.log"), "w")  # read when it fails
    with log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log.name
    return proc


def train_agent(jax_cache, out_dir, *overrides, wait=True):
    return launch(jax_cache, "duo_jax.agents.train", "--config", os.path.join(REPO, "configs", "train_agent.py"),
                  f"--config.out_dir={out_dir}", *TINY_AGENT, *overrides, wait=wait)


def kill_after_first_checkpoint(proc, checkpoint_dir: str, max_delay: float) -> tuple[float, int]:
    """SIGKILL `proc` a random moment (up to `max_delay` s) after its first checkpoint under `checkpoint_dir` is
    complete; returns (the delay, the last complete checkpoint's step)."""
    while latest_step(checkpoint_dir) is None:
        if proc.poll() is not None:
            with open(proc.log) as f:
                pytest.fail(f"the run ended before its first checkpoint: {f.read()[-3000:]}")
        time.sleep(0.05)
    delay = random.uniform(0.0, max_delay)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    return delay, latest_step(checkpoint_dir)


def assert_same_bits(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb and la
    for x, y in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        assert np.array_equal(np.asarray(x), np.asarray(y))


def test_procgen_agent_trainer_killed_at_a_random_moment_resumes_bit_identical(tmp_path, jax_cache):
    full = train_agent(jax_cache, tmp_path / "full")              # the uninterrupted run (it fills the cache)
    assert full.returncode == 0, full.stderr[-3000:]
    killed = train_agent(jax_cache, tmp_path / "killed", wait=False)
    state = tmp_path / "killed" / "state"
    delay, stopped_at = kill_after_first_checkpoint(killed, str(state), 0.5)  # an iteration is longer (two saves)
    assert 1 <= stopped_at < ITERATIONS, (delay, stopped_at)     # killed mid-run, not after the end

    rerun = train_agent(jax_cache, tmp_path / "killed")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"agent PPO resumed from {state} at iteration {stopped_at} of" in rerun.stderr
    want, want_cfg = load_checkpoint(str(tmp_path / "full" / "agent"))
    got, got_cfg = load_checkpoint(str(tmp_path / "killed" / "agent"))
    assert got_cfg["train_steps"] == want_cfg["train_steps"] == ITERATIONS * 64
    assert_same_bits(got, want)                                   # killed after `delay` s: see the assert above


def test_procgen_agent_trainer_stops_on_nan_with_one_sentence(tmp_path, jax_cache):
    # A learning rate of 1e30 sends the params to inf in the first update: nothing is saved.
    out = train_agent(jax_cache, tmp_path / "run", "--config.ppo.learning_rate=1e30", "--config.ppo.total_steps=64")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: training diverged at iteration 1: ")
    assert last.endswith("; no checkpoint had been written yet.")
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "state").exists() and not (tmp_path / "run" / "agent").exists()


class NanEnv:
    """Constant frames, episodes of 3 steps, reward 1 for action 1, and NaN rewards from step `nan_at` on; its
    state (the step counter) saves and restores."""

    def __init__(self, num_envs: int, nan_at: int):
        self.num_envs, self.t, self.nan_at = num_envs, 0, nan_at

    def reset(self):
        return np.full((self.num_envs, 24, 24, 3), 128, np.uint8)

    def step(self, action):
        self.t += 1
        reward = (np.asarray(action) == 1).astype(np.float32)
        if self.t >= self.nan_at:
            reward[:] = np.nan
        return self.reset(), reward, np.full(self.num_envs, self.t % 3 == 0)

    def get_state(self):
        return [int(self.t).to_bytes(8, "little")] * self.num_envs

    def set_state(self, states):
        self.t = int.from_bytes(states[0], "little")
        return self.reset()


def test_agent_trainer_stops_on_nan_and_keeps_the_last_good_checkpoint(tmp_path):
    c = load_config("train_agent")
    c.out_dir = str(tmp_path)
    c.env.num_actions = 3
    c.ppo.update(num_envs=4, num_steps=8, num_minibatches=2, num_epochs=2, total_steps=4 * 32, checkpoint_every=1)
    state = str(tmp_path / "state")
    with pytest.raises(ppo.Diverged) as err:                      # NaN rewards from the third iteration on
        ppo.train(c, lambda game, split, n, seed: NanEnv(n, nan_at=2 * 8 + 3))
    want = f"training diverged at iteration 3: pg_loss is nan; the last good checkpoint is at {state}."
    assert str(err.value) == want
    assert latest_step(state) == 2
    good, meta = load_checkpoint(state)
    assert meta["iteration"] == 2
    assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(good))
    agent, agent_meta = load_checkpoint(str(tmp_path / "agent"))
    assert agent_meta["train_steps"] == 2 * 32
    assert_same_bits(agent, good["params"])


def test_killed_gridworld_ppo_sweep_resumes_to_the_same_sweep_json(tmp_path, jax_cache):
    """The JAX PPO coordinator through `duo_jax.sweep` (both alphas trained at once), checkpointed after every
    iteration, killed at a random moment and rerun: the same sweep.json as an uninterrupted sweep."""

    def sweep(root, wait=True):
        return launch(
            jax_cache,
            "duo_jax.sweep",
            "--config",
            os.path.join(REPO, "configs", "gridworld.py") + ":distshift,ppo",
            f"--config.experiments_dir={root}",
            "--config.policy.feature_type=dist",
            "--config.policy.hidden_dim=16",
            "--config.algorithm.num_envs=16",
            "--config.algorithm.num_steps=16",
            f"--config.algorithm.total_steps={ITERATIONS * 256}",
            "--config.algorithm.num_minibatches=2",
            "--config.algorithm.num_epochs=1",
            "--config.algorithm.eval_every=1",
            "--config.evaluation.num_episodes=8",
            "--config.evaluation.num_envs=8",
            "--config.evaluation.progress=False",
            "--config.sweep.alphas=(0.0,1.0)",
            wait=wait,
        )

    def result(root):
        with open(root / "distshift_ppo_sweep" / "sweep.json") as f:
            out = json.load(f)
        out.pop("wall_time_s")
        return out

    full = sweep(tmp_path / "full")
    assert full.returncode == 0, full.stderr[-3000:]
    killed = sweep(tmp_path / "killed", wait=False)
    last = tmp_path / "killed" / ".distshift_ppo_sweep.partial" / "train_state" / "last"
    delay, stopped_at = kill_after_first_checkpoint(killed, str(last), 0.3)
    assert 1 <= stopped_at < ITERATIONS, (delay, stopped_at)
    rerun = sweep(tmp_path / "killed")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"PPO resumed from {last} at iteration {stopped_at} of {ITERATIONS}" in rerun.stderr
    assert result(tmp_path / "killed") == result(tmp_path / "full")


def test_jax_ppo_coordinator_stops_on_nan(tmp_path):
    """A NaN cost weight makes every reward NaN: training stops after the first iteration, nothing saved."""
    from duo_jax.coordinators.ppo_jax import train_alphas
    from duo_jax.experiment import setup

    c = duo_jax.config.load_config(os.path.join(REPO, "configs", "gridworld.py") + ":distshift,ppo")
    c.experiments_dir = str(tmp_path)
    c.policy.feature_type, c.policy.hidden_dim = "dist", 16
    c.algorithm.update(num_envs=8, num_steps=8, total_steps=2 * 64, num_minibatches=2, num_epochs=1, eval_every=2)
    c.evaluation.update(num_episodes=8, num_envs=8, progress=False)
    s = setup(c)
    task = s.task("train")
    with pytest.raises(ppo.Diverged) as err:
        train_alphas(jax.random.PRNGKey(0), s.policy, task, {"val_sim": s.evaluator("val_sim")}, c, (0.0, float("nan")))
    assert str(err.value) == "training diverged at iteration 1: pg_loss is nan; no checkpoint had been written yet."
    assert latest_step(os.path.join(task.workdir, "last")) is None
