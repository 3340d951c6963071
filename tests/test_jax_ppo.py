"""All-JAX PPO on gridworlds: it learns, truncation bootstraps from V(final_obs), the saved agent loads,
and `evaluate_agent` counts first episodes exactly (scripted agents on deterministic DistShift1)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import load_config

from duo_jax.agents import jax_ppo
from duo_jax.agents.agent import Agent, load_agent
from duo_jax.agents.ppo import gae
from duo_jax.envs.gridworld import make
from duo_jax.envs.gridworld.constants import FORWARD, LEFT


def scripted(action: int) -> Agent:
    def apply(params, obs):
        b = obs.shape[0]
        return jnp.broadcast_to(jax.nn.one_hot(action, 7) * 1e4, (b, 7)), jnp.zeros(b), jnp.zeros((b, 4))

    return Agent(apply, {}, {"model": "scripted", "num_actions": 7})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short LavaGapS5 run through the CLI's code path, evaluated on the same task."""
    c = load_config("train_grid_agent")
    c.env.task, c.env.num_eval_episodes = "LavaGapS5", 256
    c.out_dir = str(tmp_path_factory.mktemp("grid") / "lavagap")
    c.ppo.update(total_steps=160 * 16 * 64, num_envs=16, num_steps=64, learning_rate=1e-3, log_every=1000,
                 snapshots=(40 * 16 * 64,))
    return jax_ppo.train_and_save(c)


def test_ppo_learns_lavagap(trained):
    stats = load_agent(trained).stats
    # A uniform random agent mostly walks into lava or times out: its mean return is about 0.05.
    random = jax_ppo.evaluate_agent(scripted(0)._replace(apply=lambda p, o: (jnp.zeros((o.shape[0], 7)),) * 3),
                                    make("LavaGapS5"), make("LavaGapS5").default_params(), 256, jax.random.PRNGKey(0))
    assert random["reward_mean"] < 0.15
    assert stats["reward_mean"] > 0.3, stats  # 0.95 with seed 0; 0.37 to 0.95 over seeds 0-3


def test_snapshot_is_an_earlier_agent_of_the_same_run(trained):
    """YRC-0's simulated novice: a snapshot shares the final agent's run_id and seed, with fewer steps."""
    import os

    final = load_agent(trained).config
    snap = load_agent(os.path.join(os.path.dirname(trained), f"snapshot_{40 * 16 * 64}")).config
    assert snap["run_id"] == final["run_id"] and len(final["run_id"]) == 12
    assert (snap["seed"], final["seed"]) == (0, 0)
    assert snap["train_steps"] == 40 * 16 * 64 < final["train_steps"] == 160 * 16 * 64
    assert final["action_noise"] == snap["action_noise"] == final["stats"]["action_noise"] == 0.1
    for c in (snap, final):
        assert c["train_task_stats"]["task"] == "LavaGapS5" and c["train_task_stats"]["episodes"] == 256


def test_training_curves_cover_every_iteration(trained):
    import os

    from duo_jax.core.curves import read_csv, read_events

    logdir = os.path.join(os.path.dirname(trained), "curves")
    csv_curves, events = read_csv(logdir), read_events(logdir)
    steps, returns = csv_curves["train/return_mean"]
    assert steps.tolist() == [16 * 64 * (i + 1) for i in range(160)]
    assert returns[-10:].mean() > returns[:10].mean()          # it learns
    assert {"loss/entropy", "train/episodes"} <= set(csv_curves)
    np.testing.assert_allclose(events["train/return_mean"][1], returns, rtol=1e-6)


def test_run_id_follows_the_config_not_the_out_dir():
    from duo_jax.agents.agent import provenance

    a, b = load_config("train_grid_agent"), load_config("train_grid_agent")
    b.out_dir, b.ppo.log_every, b.ppo.snapshots, b.env.num_eval_episodes = "elsewhere", 1, (100,), 8
    assert provenance(a, 5) == provenance(b, 5) == {**provenance(a, 5), "train_steps": 5, "seed": 0}
    b.seed = 1
    assert provenance(a, 5)["run_id"] != provenance(b, 5)["run_id"]


def test_saved_agent_loads_with_stats(trained):
    agent = load_agent(trained)
    assert agent.config["model"] == "grid_mlp" and agent.config["game"] == "lavagap"
    assert agent.config["trained_on"] == "LavaGapS5" and agent.config["train_steps"] == 160 * 16 * 64
    assert agent.config["obs_shape"] == [7, 7, 3] and agent.config["num_actions"] == 7
    stats = agent.stats
    assert stats["split"] == "test" and stats["task"] == "LavaGapS5" and stats["episodes"] == 256
    assert 0 < stats["reward_mean"] <= 1 and stats["episode_length_mean"] > 0 and stats["reward_ci95"] > 0
    logits, value, hidden = agent.apply(agent.params, jnp.zeros((3, 7, 7, 3), jnp.uint8))
    assert logits.shape == (3, 7) and value.shape == (3,) and hidden.shape == (3, 64)


def test_truncated_step_bootstraps_from_final_obs():
    # Value = the obs's first byte. Env 0 is truncated at t=0: its final obs (value 7) is bootstrapped,
    # not the next episode's first obs (value 3, stored at t=1). Env 1 terminates at t=0: no bootstrap.
    def apply(params, obs):
        v = obs[:, 0, 0, 0].astype(jnp.float32)
        return jnp.zeros((obs.shape[0], 7)), v, v[:, None]

    def obs(*values):
        return jnp.zeros((len(values), 7, 7, 3), jnp.uint8).at[:, 0, 0, 0].set(jnp.array(values, jnp.uint8))

    T, B, gamma, lam = 2, 2, 0.9, 0.8
    batch = jax_ppo.Transition(
        obs=jnp.stack([obs(1, 2), obs(3, 4)]),
        action=jnp.zeros((T, B), jnp.int32), logp=jnp.zeros((T, B)),
        value=jnp.array([[1.0, 2.0], [3.0, 4.0]]),
        reward=jnp.array([[0.5, 1.0], [0.0, 0.0]]),
        done=jnp.array([[True, True], [False, False]]),
        truncated=jnp.array([[True, False], [False, False]]),
        final_obs=jnp.stack([obs(7, 9), obs(5, 6)]),
        episode_return=jnp.zeros((T, B)), episode_length=jnp.zeros((T, B), jnp.int32),
    )
    adv, _ = jax_ppo.advantages(apply, None, batch, obs(10, 20), gamma, lam)
    last = jnp.array([10.0, 20.0])
    np.testing.assert_allclose(adv[1], gamma * last - batch.value[1], rtol=1e-6)
    np.testing.assert_allclose(adv[0], [0.5 + gamma * 7 - 1.0, 1.0 - 2.0], rtol=1e-6)
    # The same as `gae` given V(final_obs) by hand.
    want, _ = gae(batch.reward, batch.value, batch.done.astype(jnp.float32), last, gamma, lam,
                  batch.truncated.astype(jnp.float32), jnp.array([[7.0, 9.0], [5.0, 6.0]]))
    np.testing.assert_allclose(adv, want, rtol=1e-6)


def test_train_vmaps_over_seeds_with_fixed_shape_metrics():
    # 4 envs x 12 steps with a 5-step time limit: at least 2 finished episodes per env, none over 5 steps.
    env = make("DistShift1")
    params = env.default_params()._replace(max_steps=5)
    c = load_config("train_grid_agent")
    c.ppo.update(total_steps=4 * 12, num_envs=4, num_steps=12, num_minibatches=1, num_epochs=1)
    train = jax_ppo.make_train(c, env, params)
    _, metrics = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 2))  # vmaps over seeds
    assert metrics["return_mean"].shape == (2, 1)  # fixed-shape metrics: [seed, iteration]
    assert (metrics["length_mean"] <= 5).all() and metrics["episodes"][0] >= 8


def test_evaluate_scripted_agents_on_distshift1():
    env = make("DistShift1")
    params = env.default_params()
    # Turning left forever: never finishes, each episode lasts the whole time limit (4 * 9 * 7 steps).
    s = jax_ppo.evaluate_agent(scripted(LEFT), env, params, 8, jax.random.PRNGKey(0))
    assert s["reward_mean"] == 0 and s["reward_ci95"] == 0 and s["episodes"] == 8
    assert s["episode_length_mean"] == 252 == env.max_steps
    # With a shorter cap the running episodes count with the length they reached.
    s = jax_ppo.evaluate_agent(scripted(LEFT), env, params, 8, jax.random.PRNGKey(0), max_steps=10)
    assert s["episode_length_mean"] == 10
    # Forward from (1, 1) facing right: (2, 1), then the lava at (3, 1) ends it at step 2 with no reward.
    s = jax_ppo.evaluate_agent(scripted(FORWARD), env, params, 8, jax.random.PRNGKey(0))
    assert s["reward_mean"] == 0 and s["episode_length_mean"] == 2 == s["episode_length_max"]


def test_family():
    families = [jax_ppo.family(t) for t in ("DistShift2", "LavaGapS7", "DoorKey-5x5")]
    assert families == ["distshift", "lavagap", "doorkey"]
    with pytest.raises(ValueError):
        jax_ppo.family("Empty-5x5")


def _train_cli(out_dir, *extra):
    import os
    import subprocess
    import sys

    from helpers import REPO

    args = [
        sys.executable,
        "-m",
        "duo_jax.agents.train",
        "--config",
        "configs/train_grid_agent.py",
        "--config.env.task=DistShift1",
        "--config.env.num_eval_episodes=16",
        f"--config.out_dir={out_dir}",
        "--config.ppo.total_steps=24576",
        "--config.ppo.num_envs=8",
        "--config.ppo.num_steps=64",
        "--config.ppo.checkpoint_every=4",
        *extra,
    ]
    return subprocess.Popen(
        args,
        cwd=REPO,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_killed_training_resumes_bit_identical(tmp_path):
    """SIGKILL after the first training-state checkpoint, rerun: the same params as an uninterrupted run."""
    import os
    import signal
    import time

    from duo_jax.core.checkpoint import latest_step

    full = _train_cli(tmp_path / "full")
    killed = _train_cli(tmp_path / "killed", "--config.ppo.log_every=1")
    deadline = time.time() + 240
    while latest_step(str(tmp_path / "killed" / "state")) is None and killed.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert killed.poll() is None, "the run finished before its first checkpoint: raise total_steps"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not os.path.exists(tmp_path / "killed" / "agent")
    resumed = _train_cli(tmp_path / "killed")
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0 and "Resumed from" in out, out
    assert full.wait(timeout=300) == 0
    a, b = load_agent(str(tmp_path / "full" / "agent")), load_agent(str(tmp_path / "killed" / "agent"))
    jax.tree.map(np.testing.assert_array_equal, a.params, b.params)
    assert a.config["run_id"] == b.config["run_id"]


def test_resume_with_another_config_is_refused(tmp_path):
    first = _train_cli(tmp_path / "run", "--config.ppo.total_steps=4096")
    first.communicate(timeout=300)
    from duo_jax.agents import jax_ppo as trainer  # noqa: F401  (same process: no recompilation cost below)

    c = load_config("train_grid_agent")
    c.env.task, c.out_dir = "DistShift1", str(tmp_path / "run")
    c.ppo.update(total_steps=4096, num_envs=8, num_steps=64, checkpoint_every=4)
    # 4096 steps = 8 iterations: the state after iteration 4 is on disk, with the CLI's config.
    c.env.num_eval_episodes, c.ppo.learning_rate = 16, 1e-3
    with pytest.raises(ValueError, match="holds a training run with a different config"):
        jax_ppo.train_and_save(c)
