"""PPO coordinators on a gridworld through `duo_jax.main` and `duo_jax.sweep`: trained in jitted chunks
(`train_alphas`), every alpha of a sweep at once, validated between chunks, resumable, and the same on
4 forced devices as on one."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from helpers import REPO

from duo_jax.config import load_config
from duo_jax.coordinators import ppo_jax
from duo_jax.core.curves import read_csv, read_events


def gridworld_ppo(tmp_path, total_steps: int = 32 * 32 * 6):
    c = load_config(f"{REPO}/configs/gridworld.py:distshift,ppo")
    c.experiments_dir = str(tmp_path / "experiments")
    c.policy.feature_type, c.policy.hidden_dim = "dist", 32
    c.algorithm.update(num_envs=32, num_steps=32, total_steps=total_steps, num_minibatches=4, num_epochs=4,
                       learning_rate=2.5e-3, gamma=0.99, eval_every=2)
    c.evaluation.update(num_episodes=32, num_envs=32, progress=False)
    return c


def test_main_trains_ppo_in_jitted_chunks_and_resumes_exactly(tmp_path, monkeypatch):
    from duo_jax.main import run

    want = run(gridworld_ppo(tmp_path / "a"))
    from test_output_layout import documented, written  # docs/usage.md lists what this run writes

    assert written(str(tmp_path / "a" / "experiments" / want["name"])) == documented(
        "every run", "a train run", "ppo and skyline on the gridworlds")
    history = want["candidates"]["val_true"]
    assert [h["iteration"] for h in history] == [0, 2, 4, 6]     # the initial policy, then after every chunk
    for split in ("val_sim", "val_true", "test@val_sim", "test@val_true"):
        assert want["splits"][split]["episodes"] == 32

    # Crash right after the second checkpoint; the rerun resumes from it and ends where the first run did.
    real, saves = ppo_jax.checkpoint.save_checkpoint, []

    def crash_on_second(*args, **kwargs):
        real(*args, **kwargs)
        saves.append(kwargs.get("step"))
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(ppo_jax.checkpoint, "save_checkpoint", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        run(gridworld_ppo(tmp_path / "b"))
    monkeypatch.setattr(ppo_jax.checkpoint, "save_checkpoint", real)
    got = run(gridworld_ppo(tmp_path / "b"))
    assert saves == [2, 4]
    assert got["splits"] == want["splits"] and got["candidates"] == want["candidates"]

    # Curves after every chunk at its env step count (32 envs x 32 steps per iteration), under the run's alpha.
    curves = read_csv(str(tmp_path / "a" / "experiments" / want["name"] / "curves"))
    a = f"alpha_{want['alpha']:g}"
    assert sorted(curves) == sorted(
        [f"{a}/loss/{k}" for k in ("pg_loss", "vf_loss", "entropy", "approx_kl")]
        + [f"{a}/train/{k}" for k in ("net_reward_per_step", "expert_fraction")]
        + [
            f"{a}/val/{s}/{f}"
            for s in ("val_sim", "val_true")
            for f in ("reward_mean", "expert_fraction", "episode_length_mean")
        ]
    )
    for tag, (steps, _) in curves.items():  # validation also at step 0, the initial policy
        assert steps.tolist() == ([0] if "/val/" in tag else []) + [2048, 4096, 6144], tag
    np.testing.assert_array_equal(curves[f"{a}/val/val_true/reward_mean"][1], [h["reward_mean"] for h in history])
    resumed = tmp_path / "b" / "experiments" / want["name"] / "curves"
    for got_curves in (read_csv(str(resumed)), read_events(str(resumed))):  # the crashed run's two chunks, then one
        assert sorted(got_curves) == sorted(curves)
        for tag, (steps, values) in curves.items():
            np.testing.assert_array_equal(got_curves[tag][0], steps, err_msg=tag)
            np.testing.assert_allclose(got_curves[tag][1], values, rtol=1e-6, err_msg=tag)


def test_a_training_state_of_an_earlier_engine_is_named_not_resumed(tmp_path, monkeypatch):
    """A `last` saved before the coordination env (no `engine` in its metadata) holds another runner: one sentence
    naming it, nothing deleted."""
    from duo_jax.core import checkpoint
    from duo_jax.main import run

    real = ppo_jax.checkpoint.save_checkpoint

    def save_as_before(path, tree, meta, **kwargs):  # what the earlier trainer wrote, then a crash
        real(path, tree, {k: v for k, v in meta.items() if k != "engine"}, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(ppo_jax.checkpoint, "save_checkpoint", save_as_before)
    with pytest.raises(KeyboardInterrupt):
        run(gridworld_ppo(tmp_path, total_steps=32 * 32 * 4))
    monkeypatch.setattr(ppo_jax.checkpoint, "save_checkpoint", real)
    with pytest.raises(checkpoint.CannotResume) as err:
        run(gridworld_ppo(tmp_path, total_steps=32 * 32 * 4))
    last = str(err.value).split(" holds ")[0]
    assert str(err.value) == (f"{last} holds a PPO run of an earlier duo_jax (before the coordination env), which "
                              "this one cannot resume; remove it to start over.")
    assert last.endswith(os.path.join("train_state", "last")) and checkpoint.latest_step(last) == 2


def test_sweep_trains_every_alpha_at_once(tmp_path):
    from duo_jax.sweep import run

    c = gridworld_ppo(tmp_path, total_steps=32 * 32 * 20)
    c.algorithm.eval_every = 10
    c.sweep.alphas = (0.0, 5.0)
    out = run(c)
    assert not out["rollouts_reused"] and out["alphas"] == [0.0, 5.0]
    assert not os.path.exists(os.path.join(tmp_path, "experiments", "distshift_ppo_sweep", "runs"))
    for split in ("val_sim", "val_true"):
        free, costly = out["selections"][split]
        assert free["alpha"] == 0.0 and costly["alpha"] == 5.0
        # A free expert is asked far more often than one that costs five times its reward.
        assert free["test"]["expert_fraction"] > costly["test"]["expert_fraction"] + 0.3, split
        assert len(free["episode_rewards"]) == 32
    # Both alphas' curves, after each chunk of 10 iterations; the free expert is asked more in training too.
    curves = read_csv(os.path.join(tmp_path, "experiments", "distshift_ppo_sweep", "curves"))
    for a in ("alpha_0", "alpha_5"):
        assert curves[f"{a}/loss/pg_loss"][0].tolist() == [10240, 20480]
        assert curves[f"{a}/val/val_sim/reward_mean"][0].tolist() == [0, 10240, 20480]  # and the initial policy
    assert curves["alpha_0/train/expert_fraction"][1][-1] > curves["alpha_5/train/expert_fraction"][1][-1]


def test_vmapped_sweep_charges_prices_rounded_to_cents(tmp_path):
    """costs.round_to_cents on the all-alphas-at-once path: distshift's BP is 0.062, so alpha 0.05 costs
    round(0.0031, 2) = 0 (its validation and test rewards are the base rewards) and alpha 5 costs 0.31; the
    curves keep the alphas' names."""
    from duo_jax.sweep import run

    c = gridworld_ppo(tmp_path, total_steps=32 * 32 * 2)
    c.costs.round_to_cents, c.sweep.alphas = True, (0.05, 5.0)
    out = run(c)
    assert out["round_to_cents"] and out["alphas"] == [0.05, 5.0]
    for split in ("val_sim", "val_true"):
        free, costly = out["selections"][split]
        for summary in (free["val"], free["test"]):
            assert summary["reward_mean"] == pytest.approx(summary["base_reward_mean"])
        test = costly["test"]
        steps = test["expert_fraction"] * test["episode_length_mean"]
        assert test["reward_mean"] == pytest.approx(test["base_reward_mean"] - 0.31 * steps, abs=1e-5)
    curves = read_csv(os.path.join(tmp_path, "experiments", "distshift_ppo_sweep", "curves"))
    assert {tag.split("/")[0] for tag in curves} == {"alpha_0.05", "alpha_5"}


SHARD_SCRIPT = """
import json, sys
import jax, numpy as np
sys.path.insert(0, "tests")
from test_jax_ppo_runs import gridworld_ppo
from duo_jax.coordinators.ppo_jax import train_alphas
from duo_jax.experiment import setup
import pathlib
assert len(jax.devices()) == int(sys.argv[1])
c = gridworld_ppo(pathlib.Path(sys.argv[2]), total_steps=32 * 32 * 2)
s = setup(c)
task = s.task("train")
task.workdir = sys.argv[2] + "/state"
results = train_alphas(jax.random.PRNGKey(0), s.policy, task, {"val_sim": s.evaluator("val_sim")}, c, (0.0, 1.0))
print(json.dumps([[np.asarray(x).tolist() for x in jax.tree.leaves(r.best_params["val_sim"])] for r in results]))
"""


def test_sharded_ppo_equals_one_device(tmp_path):
    """The PPO env batch spread over 4 (forced host) devices trains the single-device coordinators."""
    out = {}
    for n in (1, 4):
        env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
        proc = subprocess.run(
            [sys.executable, "-c", SHARD_SCRIPT, str(n), str(tmp_path / str(n))],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        out[n] = json.loads(proc.stdout.strip().splitlines()[-1])
    for a, b in zip(jax.tree.leaves(out[1]), jax.tree.leaves(out[4])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
