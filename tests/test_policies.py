"""The built-in coordination policies: AskEveryK, always, random."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import duo_jax
from duo_jax import EXPERT, NOVICE

KEY = jax.random.PRNGKey(0)


def obs_of(n: int) -> dict:
    return {"base_obs": jnp.zeros((n, 8, 8, 3), jnp.uint8)}


def roll(policy, params, num_envs: int, steps: int, done=None, jit=True) -> np.ndarray:
    """Actions [steps, num_envs]; `done[t]` (optional) resets before step t's act, like the coord step."""
    act = jax.jit(policy.act) if jit else policy.act
    reset = jax.jit(policy.reset) if jit else policy.reset
    state = policy.init(num_envs)
    out = []
    for t in range(steps):
        if done is not None:
            state = reset(state, jnp.asarray(done[t]))
        action, state = act(params, state, obs_of(num_envs), jax.random.fold_in(KEY, t))
        out.append(np.asarray(action))
    return np.stack(out)


class TestAskEveryK:
    policy = duo_jax.make_policy("ask_every_k")

    @pytest.mark.parametrize("k", [2, 3, 5])
    def test_expert_at_multiples_of_k(self, k):
        actions = roll(self.policy, {"k": jnp.int32(k)}, num_envs=3, steps=4 * k + 1)
        expected = np.array([EXPERT if t % k == 0 else NOVICE for t in range(4 * k + 1)])
        np.testing.assert_array_equal(actions, np.repeat(expected[:, None], 3, axis=1))

    def test_k1_always_expert(self):
        actions = roll(self.policy, {"k": jnp.int32(1)}, num_envs=4, steps=7)
        assert (actions == EXPERT).all()

    def test_init_is_zero_counters(self):
        state = self.policy.init(5)
        np.testing.assert_array_equal(np.asarray(state), np.zeros(5))
        assert state.shape == (5,)

    def test_reset_zeroes_only_done(self):
        state = jnp.array([5, 3, 2, 7], jnp.int32)
        done = jnp.array([True, False, True, False])
        np.testing.assert_array_equal(np.asarray(self.policy.reset(state, done)), [0, 3, 0, 7])
        np.testing.assert_array_equal(np.asarray(jax.jit(self.policy.reset)(state, done)), [0, 3, 0, 7])

    def test_act_advances_counter(self):
        state = jnp.array([0, 1, 2, 3], jnp.int32)
        action, new = self.policy.act({"k": 2}, state, obs_of(4), KEY)
        np.testing.assert_array_equal(np.asarray(action), [EXPERT, NOVICE, EXPERT, NOVICE])
        np.testing.assert_array_equal(np.asarray(new), [1, 2, 3, 4])

    def test_reset_mid_episode_restarts_schedule(self):
        k, steps = 3, 8
        done = np.zeros((steps, 2), bool)
        done[0] = True          # both envs start an episode
        done[5, 1] = True       # env 1 starts a new episode at step 5
        actions = roll(self.policy, {"k": jnp.int32(k)}, num_envs=2, steps=steps, done=done)
        env0 = [EXPERT if t % k == 0 else NOVICE for t in range(steps)]
        env1 = [EXPERT if (t if t < 5 else t - 5) % k == 0 else NOVICE for t in range(steps)]
        np.testing.assert_array_equal(actions[:, 0], env0)
        np.testing.assert_array_equal(actions[:, 1], env1)

    def test_one_k_per_env_slot(self):
        actions = roll(self.policy, {"k": jnp.array([1, 2, 3], jnp.int32)}, num_envs=3, steps=6)
        for i, k in enumerate((1, 2, 3)):
            np.testing.assert_array_equal(actions[:, i], [EXPERT if t % k == 0 else NOVICE for t in range(6)])

    def test_vmap_over_candidates(self):
        params = duo_jax.stack_params([{"k": 1}, {"k": 2}, {"k": 4}])
        state = jax.vmap(lambda _: self.policy.init(2))(jnp.arange(3))
        act = jax.jit(jax.vmap(self.policy.act, in_axes=(0, 0, None, None)))
        rows = []
        for _ in range(4):
            a, state = act(params, state, obs_of(2), KEY)
            rows.append(np.asarray(a))
        rows = np.stack(rows)  # [T, C, N]
        for c, k in enumerate((1, 2, 4)):
            np.testing.assert_array_equal(rows[:, c, 0], [EXPERT if t % k == 0 else NOVICE for t in range(4)])

    def test_jit_matches_eager(self):
        eager = roll(self.policy, {"k": 3}, num_envs=2, steps=7, jit=False)
        jitted = roll(self.policy, {"k": jnp.int32(3)}, num_envs=2, steps=7, jit=True)
        np.testing.assert_array_equal(eager, jitted)


class TestAlways:
    policy = duo_jax.make_policy("always")

    @pytest.mark.parametrize("expert, value", [(0, NOVICE), (1, EXPERT)])
    def test_constant(self, expert, value):
        actions = roll(self.policy, {"expert": jnp.int32(expert)}, num_envs=5, steps=4)
        assert actions.shape == (4, 5)
        assert (actions == value).all()
        assert actions.dtype == np.int32


class TestRandom:
    policy = duo_jax.make_policy("random")

    def test_prob_zero_all_novice(self):
        assert (roll(self.policy, {"prob": jnp.float32(0.0)}, num_envs=64, steps=5) == NOVICE).all()

    def test_prob_one_all_expert(self):
        assert (roll(self.policy, {"prob": jnp.float32(1.0)}, num_envs=64, steps=5) == EXPERT).all()

    def test_prob_half_mixes_and_depends_on_key(self):
        a = roll(self.policy, {"prob": jnp.float32(0.5)}, num_envs=256, steps=4)
        assert 0.4 < (a == EXPERT).mean() < 0.6
        b = roll(self.policy, {"prob": jnp.float32(0.5)}, num_envs=256, steps=4)
        np.testing.assert_array_equal(a, b)  # same keys, same choices
        assert not (a[0] == a[1]).all()      # different keys, different choices


def test_unknown_policy_lists_registered_names():
    with pytest.raises(ValueError) as err:
        duo_jax.make_policy("nope")
    msg = str(err.value)
    assert msg.startswith("Unknown policy 'nope'; registered policies are: ")
    for name in ("always", "ask_every_k", "random"):
        assert name in msg
