"""PPO pieces: GAE against a plain loop (bootstrap from V(s_T)), and the return normaliser."""
import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from duo_jax.agents.ppo import ReturnNormalizer, gae
from duo_jax.core.curves import read_csv, read_events


def gae_loop(reward, value, done, last_value, gamma, lam):
    T, B = reward.shape
    adv = np.zeros((T, B))
    for b in range(B):
        next_adv, next_value = 0.0, last_value[b]
        for t in reversed(range(T)):
            nonterminal = 1.0 - done[t, b]
            delta = reward[t, b] + gamma * next_value * nonterminal - value[t, b]
            next_adv = delta + gamma * lam * nonterminal * next_adv
            adv[t, b] = next_adv
            next_value = value[t, b]
    return adv, adv + value


@pytest.mark.parametrize("gamma, lam", [(0.99, 0.95), (0.999, 1.0), (0.5, 0.0)])
def test_gae_matches_loop(gamma, lam):
    rng = np.random.default_rng(0)
    T, B = 9, 4
    reward = rng.normal(size=(T, B)).astype(np.float32)
    value = rng.normal(size=(T, B)).astype(np.float32)
    done = (rng.random((T, B)) < 0.2).astype(np.float32)
    last_value = rng.normal(size=B).astype(np.float32)
    adv, ret = gae(jnp.asarray(reward), jnp.asarray(value), jnp.asarray(done), jnp.asarray(last_value), gamma, lam)
    want_adv, want_ret = gae_loop(reward, value, done, last_value, gamma, lam)
    np.testing.assert_allclose(np.asarray(adv), want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), want_ret, rtol=1e-5, atol=1e-5)


def test_bootstrap_uses_value_after_last_step():
    # One step, not done: adv = r + gamma * V(s_T) - V(s_{T-1}); the reference used V(s_{T-1}) as the bootstrap.
    adv, ret = gae(jnp.array([[1.0]]), jnp.array([[2.0]]), jnp.array([[0.0]]), jnp.array([10.0]), 0.9, 0.95)
    assert float(adv[0, 0]) == pytest.approx(1.0 + 0.9 * 10.0 - 2.0)
    assert float(ret[0, 0]) == pytest.approx(1.0 + 0.9 * 10.0)


def test_done_cuts_bootstrap():
    adv, ret = gae(jnp.array([[1.0]]), jnp.array([[2.0]]), jnp.array([[1.0]]), jnp.array([10.0]), 0.9, 0.95)
    assert float(ret[0, 0]) == pytest.approx(1.0)


def test_monte_carlo_returns_with_lambda_one():
    reward = jnp.array([[1.0], [2.0], [3.0]])
    value = jnp.array([[0.5], [-1.0], [4.0]])
    _, ret = gae(reward, value, jnp.zeros((3, 1)), jnp.array([5.0]), 1.0, 1.0)
    np.testing.assert_allclose(np.asarray(ret)[:, 0], [1 + 2 + 3 + 5, 2 + 3 + 5, 3 + 5], rtol=1e-6)


def test_return_normalizer_tracks_return_variance():
    rng = np.random.default_rng(0)
    norm = ReturnNormalizer(num_envs=8, gamma=0.9)
    ret = np.zeros(8)
    seen = []
    for _ in range(200):
        reward = rng.normal(1.0, 2.0, size=8)
        done = rng.random(8) < 0.1
        out = norm(reward, done)
        ret = ret * 0.9 + reward
        seen.append(ret.copy())
        ret[done] = 0.0
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, np.clip(reward / np.sqrt(norm.var + 1e-8), -10, 10), rtol=1e-5)
    seen = np.concatenate(seen)
    assert norm.mean == pytest.approx(seen.mean(), rel=1e-3)
    assert norm.var == pytest.approx(seen.var(), rel=1e-3)
    np.testing.assert_allclose(norm.ret, ret)     # discounted return, reset where done


def test_return_normalizer_clips_and_restores():
    norm = ReturnNormalizer(num_envs=2, gamma=0.99)
    for _ in range(1000):                       # returns of 0: the running std shrinks
        norm(np.zeros(2), np.zeros(2, bool))
    out = norm(np.array([1e3, -1e3]), np.array([False, True]))
    np.testing.assert_array_equal(out, [10.0, -10.0])
    assert norm.ret[1] == 0.0 and norm.ret[0] == 1e3
    restored = ReturnNormalizer(num_envs=2, gamma=0.99, state=json.loads(json.dumps(norm.state())))  # as checkpointed
    assert restored.state() == norm.state()
    assert set(norm.state()) == {"count", "mean", "var", "ret"}
    reward, done = np.array([0.5, 2.0]), np.array([True, False])
    np.testing.assert_array_equal(restored(reward, done), norm(reward, done))   # the per-env returns came back too
    np.testing.assert_array_equal(restored.ret, norm.ret)


class _CycleEnv:
    """Frames that show the step of the episode; reward 1 for action 1; every episode lasts 3 steps, so episodes
    cross the iterations' boundaries. Its state (the step counter) saves and restores like Procgen's."""

    def __init__(self, num_envs: int):
        self.num_envs, self.t = num_envs, 0

    def reset(self):
        return np.full((self.num_envs, 24, 24, 3), 60 * (self.t % 3), np.uint8)

    def step(self, action):
        self.t += 1
        done = np.full(self.num_envs, self.t % 3 == 0)
        return self.reset(), (np.asarray(action) == 1).astype(np.float32), done

    def get_state(self):
        return [int(self.t).to_bytes(8, "little")] * self.num_envs

    def set_state(self, states):
        self.t = int.from_bytes(states[0], "little")
        return self.reset()


def _ppo_config(out_dir, total_steps):
    from helpers import load_config

    c = load_config("train_agent")
    c.out_dir = str(out_dir)
    c.env.num_actions = 3
    c.ppo.update(num_envs=4, num_steps=8, num_minibatches=2, num_epochs=2, total_steps=total_steps, checkpoint_every=1)
    return c


def test_resume_matches_uninterrupted_run(tmp_path):
    import jax

    from duo_jax.agents import ppo
    from duo_jax.core.checkpoint import latest_step, load_checkpoint

    def make_env(game, split, n, seed):
        return _CycleEnv(n)

    ppo.train(_ppo_config(tmp_path / "full", 96), make_env)
    ppo.train(_ppo_config(tmp_path / "resumed", 32), make_env)           # stops after iteration 1
    assert latest_step(str(tmp_path / "resumed" / "state")) == 1
    ppo.train(_ppo_config(tmp_path / "resumed", 96), make_env)           # resumes at iteration 1
    assert latest_step(str(tmp_path / "resumed" / "state")) == 3
    full, full_cfg = load_checkpoint(str(tmp_path / "full" / "agent"))
    resumed, resumed_cfg = load_checkpoint(str(tmp_path / "resumed" / "agent"))
    assert full_cfg["train_steps"] == resumed_cfg["train_steps"] == 96
    for a, b in zip(jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(resumed)):
        assert np.array_equal(a, b)
    # The curves: every iteration's losses and episodes at its env step count, the resumed run's the same.
    want = read_csv(str(tmp_path / "full" / "curves"))
    assert sorted(want) == ["loss/approx_kl", "loss/entropy", "loss/pg_loss", "loss/vf_loss", "train/episodes",
                            "train/length_mean", "train/return_mean"]
    assert all(steps.tolist() == [32, 64, 96] for steps, _ in want.values())
    np.testing.assert_array_equal(want["train/length_mean"][1], 3.0)          # every episode lasts 3 steps
    np.testing.assert_array_equal(want["train/episodes"][1], [8, 12, 12])     # 4 envs end one at steps 3, 6, ...
    for got in (read_csv(str(tmp_path / "resumed" / "curves")), read_events(str(tmp_path / "resumed" / "curves"))):
        assert sorted(got) == sorted(want)
        for tag, (steps, values) in want.items():
            np.testing.assert_array_equal(got[tag][0], steps, err_msg=tag)
            np.testing.assert_allclose(got[tag][1], values, rtol=1e-6, err_msg=tag)


def test_snapshots_keep_earlier_agents(tmp_path):
    from duo_jax.agents import ppo
    from duo_jax.core.checkpoint import load_checkpoint

    c = _ppo_config(tmp_path / "run", 96)                     # 32 steps per iteration
    c.ppo.snapshots = (32, 70)                                # 70 falls in the third iteration: saved at 96
    ppo.train(c, lambda game, split, n, seed: _CycleEnv(n))
    assert sorted(p for p in os.listdir(tmp_path / "run") if p.startswith("snapshot")) == ["snapshot_32", "snapshot_70"]
    _, first = load_checkpoint(str(tmp_path / "run" / "snapshot_32"))
    _, later = load_checkpoint(str(tmp_path / "run" / "snapshot_70"))
    assert (first["train_steps"], later["train_steps"]) == (32, 96)
    _, final = load_checkpoint(str(tmp_path / "run" / "agent"))
    assert first["run_id"] == later["run_id"] == final["run_id"] and (first["seed"], final["seed"]) == (0, 0)


def test_microbatched_gradient_equals_full_minibatch_gradient():
    from functools import partial

    import jax
    import ml_collections

    from duo_jax.agents.agent import init_agent
    from duo_jax.agents.ppo import MICROBATCH, minibatch_grads, ppo_loss

    cfg = ml_collections.ConfigDict(dict(clip_eps=0.2, vf_coef=0.5, ent_coef=0.01))
    agent = init_agent(jax.random.PRNGKey(0), "small_cnn", 15, (64, 64, 3))
    n = 4 * MICROBATCH
    rng = np.random.default_rng(0)
    data = (jnp.asarray(rng.integers(0, 255, (n, 64, 64, 3)), jnp.uint8), jnp.asarray(rng.integers(0, 15, n)),
            jnp.asarray(rng.normal(size=n) - 2.7, jnp.float32), jnp.asarray(rng.normal(size=n) * 3 + 1, jnp.float32),
            jnp.asarray(rng.normal(size=n), jnp.float32))
    want, want_m = jax.grad(partial(ppo_loss, agent.apply), has_aux=True)(agent.params, *data, cfg)
    got, got_m = jax.jit(lambda p, d: minibatch_grads(agent.apply, p, d, cfg))(agent.params, data)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    for name in want_m:
        np.testing.assert_allclose(got_m[name], want_m[name], rtol=1e-4, atol=1e-6)
