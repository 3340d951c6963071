"""The gymnax interface of the gridworlds: gymnax's signatures, tuples, spaces and auto-reset semantics,
the same dynamics as GridEnv, and a PureJaxRL-style PPO written against gymnax alone that learns on one."""
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import struct

from duo_jax.envs.gridworld import make as make_grid_env
from duo_jax.envs.gridworld.constants import FORWARD, LEFT, RIGHT
from duo_jax.envs.gridworld.gymnax_env import Box, Discrete, GymnaxGridEnv, make


def test_make_returns_env_and_default_params():
    env, params = make("DoorKey-5x5")
    assert isinstance(env, GymnaxGridEnv) and env.name == "DoorKey-5x5" and env.num_actions == 7
    assert params == env.default_params == make_grid_env("DoorKey-5x5").default_params()
    with pytest.raises(ValueError, match="Unknown gridworld env 'DoorKey'"):
        make("DoorKey")


def test_spaces_match_gymnax():
    env, params = make("LavaGapS5")
    actions, frames = env.action_space(params), env.observation_space(params)
    assert isinstance(actions, Discrete) and actions.n == 7 and actions.shape == () and actions.dtype == jnp.int32
    assert isinstance(frames, Box) and frames.shape == (7, 7, 3) and frames.dtype == jnp.uint8
    assert (frames.low, frames.high) == (0, 255)
    keys = jax.random.split(jax.random.PRNGKey(0), 512)
    a = jax.vmap(actions.sample)(keys)
    assert a.dtype == jnp.int32 and sorted(np.unique(a).tolist()) == list(range(7))
    assert bool(jnp.all(jax.vmap(actions.contains)(a))) and not bool(actions.contains(7))
    o = jax.vmap(frames.sample)(keys)
    assert o.shape == (512, 7, 7, 3) and o.dtype == jnp.uint8 and bool(jnp.all(jax.vmap(frames.contains)(o)))
    obs, _ = env.reset(jax.random.PRNGKey(1), params)
    assert bool(frames.contains(obs)) and obs.shape == frames.shape and obs.dtype == frames.dtype


def test_step_is_gridenv_step_in_gymnax_tuples():
    """DistShift1 is deterministic: right, 2 x forward, left, 6 x forward, left, 2 x forward reaches the goal."""
    env, params = make("DistShift1")
    grid = make_grid_env("DistShift1")
    grid_step = jax.jit(grid.step)
    path = [RIGHT, FORWARD, FORWARD, LEFT] + [FORWARD] * 6 + [LEFT, FORWARD, FORWARD]
    key = jax.random.PRNGKey(0)
    obs, state = env.reset(key, None)                       # params=None: the defaults, as in gymnax
    want_obs, want_state = grid.reset(key, params)
    np.testing.assert_array_equal(obs, want_obs)
    for t, action in enumerate(path):
        key, k = jax.random.split(key)
        obs, state, reward, done, info = env.step(k, state, action, params)
        want = grid_step(k, want_state, action, params)
        want_state = want[1]
        jax.tree.map(np.testing.assert_array_equal, (obs, state, reward), want[:3])
        assert bool(done) == (t == len(path) - 1) and bool(info["terminated"]) == bool(done)
        assert float(info["discount"]) == (0.0 if done else 1.0)
    assert float(reward) == pytest.approx(1 - 0.9 * len(path) / params.max_steps)
    np.testing.assert_array_equal(state.agent_pos, [1, 1])   # auto-reset to the start
    assert int(state.step_count) == 0 and not bool(info["truncated"])


def test_truncation_is_done_with_discount_one():
    env, params = make("DistShift1")
    params = params._replace(max_steps=3)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    for _ in range(3):
        _, state, reward, done, info = env.step(jax.random.PRNGKey(1), state, LEFT, params)
    assert bool(done) and bool(info["truncated"]) and float(info["discount"]) == 1.0 and float(reward) == 0.0


# -- PureJaxRL-style PPO, written against the gymnax interface only -------------------------------------

@struct.dataclass
class LogEnvState:
    env_state: object
    episode_returns: jnp.ndarray
    episode_lengths: jnp.ndarray
    returned_episode_returns: jnp.ndarray


class LogWrapper:
    """PureJaxRL's LogWrapper: the return of the last finished episode, in info."""

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name):
        return getattr(self._env, name)

    def reset(self, key, params=None):
        obs, env_state = self._env.reset(key, params)
        return obs, LogEnvState(env_state, jnp.float32(0), jnp.int32(0), jnp.float32(0))

    def step(self, key, state, action, params=None):
        obs, env_state, reward, done, info = self._env.step(key, state.env_state, action, params)
        returns = state.episode_returns + reward
        state = LogEnvState(env_state, returns * (1 - done), (state.episode_lengths + 1) * (1 - done),
                            jnp.where(done, returns, state.returned_episode_returns))
        info["returned_episode_returns"], info["returned_episode"] = state.returned_episode_returns, done
        return obs, state, reward, done, info


class ActorCritic(nn.Module):
    num_actions: int

    @nn.compact
    def __call__(self, obs):
        x = obs.reshape(obs.shape[0], -1).astype(jnp.float32) / 10.0
        pi = nn.tanh(nn.Dense(64)(nn.tanh(nn.Dense(64)(x))))
        v = nn.tanh(nn.Dense(64)(nn.tanh(nn.Dense(64)(x))))
        return nn.Dense(self.num_actions, kernel_init=nn.initializers.orthogonal(0.01))(pi), nn.Dense(1)(v)[:, 0]


class Transition(NamedTuple):
    done: jnp.ndarray
    action: jnp.ndarray
    value: jnp.ndarray
    reward: jnp.ndarray
    log_prob: jnp.ndarray
    obs: jnp.ndarray
    info: dict


def make_train(env, env_params, num_envs=32, num_steps=32, num_updates=24, epochs=4, minibatches=4, lr=2.5e-3,
               gamma=0.99, lam=0.95, clip=0.2, ent_coef=0.01):
    env = LogWrapper(env)
    network = ActorCritic(env.action_space(env_params).n)

    def train(rng):
        rng, k_init, k_reset = jax.random.split(rng, 3)
        params = network.init(k_init, jnp.zeros((1, *env.observation_space(env_params).shape), jnp.uint8))
        tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(lr, eps=1e-5))
        opt_state = tx.init(params)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs), env_params)

        def update(runner, _):
            def env_step(carry, _):
                params, env_state, obs, rng = carry
                rng, k_act, k_step = jax.random.split(rng, 3)
                logits, value = network.apply(params, obs)
                action = jax.random.categorical(k_act, logits)
                log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], 1)[:, 0]
                obs2, env_state, reward, done, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                    jax.random.split(k_step, num_envs), env_state, action, env_params)
                return (params, env_state, obs2, rng), Transition(done, action, value, reward, log_prob, obs, info)

            params, opt_state, env_state, obs, rng = runner
            (_, env_state, obs, rng), traj = jax.lax.scan(env_step, (params, env_state, obs, rng), None, num_steps)
            _, last_value = network.apply(params, obs)

            def gae(carry, t):
                adv, next_value = carry
                delta = t.reward + gamma * next_value * (1 - t.done) - t.value
                adv = delta + gamma * lam * (1 - t.done) * adv
                return (adv, t.value), adv

            _, advantages = jax.lax.scan(gae, (jnp.zeros_like(last_value), last_value), traj, reverse=True)
            targets = advantages + traj.value

            def loss_fn(params, batch):
                t, adv, target = batch
                logits, value = network.apply(params, t.obs)
                log_probs = jax.nn.log_softmax(logits)
                log_prob = jnp.take_along_axis(log_probs, t.action[:, None], 1)[:, 0]
                ratio = jnp.exp(log_prob - t.log_prob)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                actor = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv).mean()
                entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, -1).mean()
                return actor + 0.5 * jnp.square(value - target).mean() - ent_coef * entropy

            def epoch(carry, _):
                params, opt_state, rng = carry
                rng, k = jax.random.split(rng)
                flat = jax.tree.map(lambda x: x.reshape(num_steps * num_envs, *x.shape[2:]),
                                    (traj._replace(info={}), advantages, targets))
                perm = jax.random.permutation(k, num_steps * num_envs)
                shuffled = jax.tree.map(lambda x: x[perm].reshape(minibatches, -1, *x.shape[1:]), flat)

                def minibatch(carry, batch):
                    params, opt_state = carry
                    grads = jax.grad(loss_fn)(params, batch)
                    updates, opt_state = tx.update(grads, opt_state)
                    return (optax.apply_updates(params, updates), opt_state), None

                (params, opt_state), _ = jax.lax.scan(minibatch, (params, opt_state), shuffled)
                return (params, opt_state, rng), None

            (params, opt_state, rng), _ = jax.lax.scan(epoch, (params, opt_state, rng), None, epochs)
            finished = traj.info["returned_episode"]
            mean_return = jnp.sum(traj.info["returned_episode_returns"] * finished) / jnp.maximum(finished.sum(), 1)
            return (params, opt_state, env_state, obs, rng), mean_return

        runner = (params, opt_state, env_state, obs, rng)
        return jax.lax.scan(update, runner, None, num_updates)[1]

    return train


def test_purejaxrl_ppo_learns_on_a_gridworld():
    env, env_params = make("LavaGapS5")
    returns = np.asarray(jax.jit(make_train(env, env_params))(jax.random.PRNGKey(0)))
    # Mean return of the episodes that ended in each update: 0.07 over the first four updates (a near-random
    # policy), 0.90 over the last four (seed 0; 24,576 env steps in all).
    assert returns[:4].mean() < 0.15 and returns[-4:].mean() > 0.6
