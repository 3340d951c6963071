"""The gridworld family: splits and levels, the host-env adapter, and the fully jitted evaluator."""
import dataclasses

import jax
import ml_collections
import numpy as np
import pytest
from helpers import const_agent, uniform_agent

import duo_jax
from duo_jax import Costs, stack_params
from duo_jax.api import make_environment
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.jax_evaluator import JaxEvaluator, stage_sizes
from duo_jax.envs.gridworld.family import GAMES, level_keys, task_of

COSTS = Costs(0.5, 0.25, 0.02)


def family(game="lavagap", action_noise=0.0):
    """Noise-free by default: the host envs draw action noise from their own stream (see gridworld_family)."""
    return make_environment(ml_collections.ConfigDict(dict(name="gridworld", game=game, action_noise=action_noise)))


def test_splits_play_train_and_test_tasks():
    for game, (train, test) in GAMES.items():
        assert [task_of(game, s) for s in ("train", "val_sim", "val_true", "test")] == [train, train, test, test]
    f = family()
    assert f.splits == ("train", "val_sim", "val_true", "test") and f.num_actions == 7 and f.obs_shape == (7, 7, 3)


def test_action_noise_defaults_to_the_papers_and_is_checked():
    default = make_environment(ml_collections.ConfigDict(dict(name="gridworld", game="doorkey")))
    assert float(default.jax_split("test").env_params.action_noise) == 0.1
    assert float(family("doorkey", 0.3).jax_split("val_sim").env_params.action_noise) == 0.3
    for bad in (-0.1, 1.5, float("nan"), "high"):
        with pytest.raises(ValueError, match=r"^env.action_noise must be a probability between 0 and 1; got "):
            family("doorkey", bad)


def test_unknown_game_is_one_sentence():
    with pytest.raises(
        ValueError, match="env.game must be one of distshift, lavagap, doorkey for the gridworld family"
    ):
        family("coinrun")


def test_levels_are_fixed_per_split_and_differ_between_splits():
    a, b = np.asarray(level_keys("val_sim", 8, 0)), np.asarray(level_keys("val_sim", 8, 0))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.asarray(level_keys("val_true", 8, 0)))
    assert not np.array_equal(a, np.asarray(level_keys("val_sim", 8, 1)))


def test_stochastic_jitted_rollout_equals_scheduled_host_rollout():
    """Sampled agents and a random coordinator: the host evaluator, scheduling 16 episodes onto 2 slots per
    candidate, and the jitted one-episode-per-slot scan draw each episode's actions from the same stream."""
    host, _ = _evaluators(
        "test", num_episodes=16, max_num_steps=30, num_envs=2, novice=uniform_agent(7), expert=uniform_agent(7)
    )
    _, jitted = _evaluators(
        "test", num_episodes=16, max_num_steps=30, num_envs=16, novice=uniform_agent(7), expert=uniform_agent(7)
    )
    policy, params = duo_jax.make_policy("random"), stack_params([{"prob": 0.2}, {"prob": 0.6}])
    want = host.rollout(policy, params, jax.random.PRNGKey(5))
    got = jitted.rollout(policy, params, jax.random.PRNGKey(5))
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, err_msg=name)
    assert len(set(want["length"].ravel().tolist())) > 1 and 0 < want["expert_steps"].sum() < want["length"].sum()


def test_host_adapter_auto_resets():
    env = family("lavagap").make_eval_env("test", 4, 4)
    obs = env.reset()
    assert obs.shape == (4, 7, 7, 3) and obs.dtype == np.uint8
    done_any = False
    for _ in range(4 * 7 * 7):  # LavaGapS7 truncates at 196 steps: turning left forever ends by truncation
        obs, reward, done = env.step(np.zeros(4, np.int32))
        done_any |= done.any()
    assert done_any and (reward == 0).all()


def _evaluators(split, num_episodes=6, max_num_steps=40, num_envs=3, novice=None, expert=None):
    f = family("lavagap")

    def make_env(n):
        return f.make_eval_env(split, num_episodes, n, 0)

    # The expert moves forward (action 2), the novice turns left (action 0): only the expert can reach the goal or lava.
    args = (
        split,
        make_env,
        novice or const_agent(0, 7),
        expert or const_agent(2, 7),
        COSTS,
        num_episodes,
        num_envs,
        max_num_steps,
        False,
        1.0,
        False,
        0,
    )
    return Evaluator(*args), JaxEvaluator(*args, jax_split=f.jax_split(split))


@pytest.mark.parametrize("split", ["val_sim", "test"])
def test_jitted_rollout_equals_host_rollout(split):
    host, jitted = _evaluators(split)
    policy = duo_jax.make_policy("ask_every_k")
    params = stack_params([{"k": 1}, {"k": 2}, {"k": 5}])
    want = host.rollout(policy, params, jax.random.PRNGKey(0))
    got = jitted.rollout(policy, params, jax.random.PRNGKey(0))
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, err_msg=name)
    for a, b in zip(
        host.evaluate(policy, params, jax.random.PRNGKey(0)), jitted.evaluate(policy, params, jax.random.PRNGKey(0))
    ):
        assert a == pytest.approx(b)
    assert (got["length"][0] <= 40).all() and got["expert_steps"][0].tolist() == got["length"][0].tolist()


def test_setup_picks_the_jitted_evaluator(make_config, tmp_path):
    from duo_jax.experiment import setup

    c = make_config("ask_every_k")
    c.env = ml_collections.ConfigDict(dict(name="gridworld", game="lavagap"))
    with pytest.raises(ValueError, match="was trained on 'coinrun' but env.game is 'lavagap'"):
        setup(c)


SHARD_SCRIPT = """
import json, sys
import jax, numpy as np
sys.path.insert(0, "tests")
import duo_jax
from duo_jax.core.jax_evaluator import shard_batch
from test_gridworld_family import _evaluators
assert len(jax.devices()) == int(sys.argv[1])
assert len(shard_batch(jax.numpy.zeros((8, 2))).sharding.device_set) == int(sys.argv[1])
_, jitted = _evaluators("test", num_episodes=16, max_num_steps=30, num_envs=8)
got = jitted.rollout(duo_jax.make_policy("random"), duo_jax.stack_params([{"prob": 0.3}, {"prob": 0.7}]),
                     jax.random.PRNGKey(0))
print(json.dumps({k: np.asarray(v).tolist() for k, v in got.items()}))
"""


def test_sharded_rollout_equals_one_device():
    """The env batch spread over 4 (forced host) devices gives the single-device numbers."""
    import json
    import os
    import subprocess
    import sys

    from helpers import REPO

    out = {}
    for n in (1, 4):
        env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
        proc = subprocess.run(
            [sys.executable, "-c", SHARD_SCRIPT, str(n)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        out[n] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out[1] == out[4]
    assert np.asarray(out[1]["length"]).shape == (2, 16)


def test_jitted_rollout_shows_progress_and_same_numbers(capsys, monkeypatch):
    """progress=True: a host callback inside the scan advances a bar; the numbers do not change."""
    import dataclasses
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # bars are drawn on a terminal only

    _, quiet = _evaluators("test")
    loud = dataclasses.replace(quiet, progress=True)
    policy, params = duo_jax.make_policy("ask_every_k"), stack_params([{"k": 1}, {"k": 3}])
    want = quiet.rollout(policy, params, jax.random.PRNGKey(0))
    capsys.readouterr()
    got = loud.rollout(policy, params, jax.random.PRNGKey(0))
    err = capsys.readouterr().err
    assert "test x2" in err and "40/40" in err and "running=" in err
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])


@pytest.mark.parametrize("name, candidates, shrinks", [
    ("random", [{"prob": 0.2}, {"prob": 0.5}, {"prob": 0.9}], True),
    # a policy state (its step counter); these constant agents get stuck in a loop on too many slots to shrink
    ("ask_every_k", [{"k": 1}, {"k": 3}, {"k": 7}], False),
])
def test_staged_rollout_counts_as_one_full_size_loop(name, candidates, shrinks):
    """A staged evaluator (PPO's validators) gathers the slots still running, whatever candidates they play,
    into a batch of an eighth of the size once no more remain (`stage_sizes`); each episode keeps its own
    random stream and state, so every count is that of one loop over all slots."""
    assert stage_sizes(6144) == (6144, 768, 96) and stage_sizes(6144, False) == (6144,)
    assert stage_sizes(128) == (128, 16) and stage_sizes(120) == (120,)
    _, whole = _evaluators("test", num_episodes=128, max_num_steps=300, num_envs=64)
    staged = dataclasses.replace(whole, staged=True)
    policy, params = duo_jax.make_policy(name), stack_params(candidates)
    got = staged.rollout(policy, params, jax.random.PRNGKey(3))
    want = whole.rollout(policy, params, jax.random.PRNGKey(3))
    # Each call plays 3 x 64 slots (stages of 192 and 24): in both, some slots ran on after all but 24 had ended.
    for chunk in (got["length"][:, :64], got["length"][:, 64:]):
        longest = np.sort(chunk.ravel())[::-1]
        assert (longest[24] < longest[0]) == shrinks
    for field in want:
        np.testing.assert_array_equal(got[field], want[field], err_msg=field)
