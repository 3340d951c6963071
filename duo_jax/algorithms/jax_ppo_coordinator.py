"""The PPO coordinator on a JAX-native env, trained in one jitted call, vmappable over seeds and alphas.

    train = make_coord_train(config, env, env_params, novice, expert, costs)
    params, metrics = jax.jit(jax.vmap(train))(keys, alphas)     # a whole cost sweep, one compiled call

Everything of an iteration runs inside `lax.scan`: both agents' forward passes, the coordinator's
decision, the base action, the env step (auto-reset), the costs, GAE (a truncated episode bootstraps
from the value of its final observation) and the epochs of minibatch updates. The policy it trains is
the registered "ppo" policy (same network, same features), so its params evaluate like any other.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from duo_jax.agents.agent import Agent
from duo_jax.agents.ppo import gae, scan_update
from duo_jax.core.coordination import Costs, base_action, observe, step_cost
from duo_jax.policies.features import extract
from duo_jax.policies.ppo import CoordinatorNet


class _Step(NamedTuple):
    features: Any
    action: jnp.ndarray
    logp: jnp.ndarray
    value: jnp.ndarray
    reward: jnp.ndarray
    done: jnp.ndarray
    truncated: jnp.ndarray
    final_obs: jnp.ndarray
    expert: jnp.ndarray


class _Runner(NamedTuple):
    params: Any
    opt_state: Any
    env_state: Any
    obs: jnp.ndarray
    prev_action: jnp.ndarray
    first: jnp.ndarray
    key: jax.Array


def make_coord_train(config, env, env_params, novice: Agent, expert: Agent, costs: Costs):
    """`train(key, alpha) -> (params, metrics)`; `config.algorithm` holds the PPO settings of configs/ppo.py,
    `config.policy` the feature type and width. Metrics are [num_iterations]: mean reward net of costs per step,
    expert fraction, losses."""
    a, p = config.algorithm, config.policy
    T, B = a.num_steps, a.num_envs
    num_iters = a.total_steps // (T * B)
    net = CoordinatorNet(p.hidden_dim)
    tx = optax.chain(optax.clip_by_global_norm(a.max_grad_norm), optax.adam(a.learning_rate, eps=1e-5))
    reset = jax.vmap(env.reset, in_axes=(0, None))
    env_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    temperature = float(config.coordination.temperature)
    open_expert = bool(config.coordination.open_expert)

    def features_of(obs):
        _, _, cobs = observe(novice.apply, expert.apply, novice.params, expert.params, obs, open_expert)
        return extract(cobs, p.feature_type)

    def train(key: jax.Array, alpha):
        step_costs = costs._replace(alpha=alpha)

        def one_step(runner: _Runner, _):
            key, k_pol, k_act, k_env = jax.random.split(runner.key, 4)
            novice_out, expert_out, cobs = observe(
                novice.apply, expert.apply, novice.params, expert.params, runner.obs, open_expert)
            features = extract(cobs, p.feature_type)
            logits, value, _ = net.apply(runner.params, features)
            action = jax.random.categorical(k_pol, logits).astype(jnp.int32)
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
            env_action = base_action(action, novice_out[0], expert_out[0], k_act, temperature)
            obs, env_state, reward, terminated, truncated, info = env_step(
                jax.random.split(k_env, B), runner.env_state, env_action, env_params)
            cost = step_cost(action, runner.prev_action, runner.first, step_costs)
            done = terminated | truncated
            out = _Step(features, action, logp, value, reward - cost, done, truncated & ~terminated,
                        info["final_obs"], action.astype(jnp.float32))
            return runner._replace(env_state=env_state, obs=obs, prev_action=action, first=done, key=key), out

        def iteration(runner: _Runner, _):
            runner, batch = jax.lax.scan(one_step, runner, None, T)
            _, last_value, _ = net.apply(runner.params, features_of(runner.obs))
            final = features_of(batch.final_obs.reshape(T * B, *batch.final_obs.shape[2:]))
            _, trunc_value, _ = net.apply(runner.params, final)
            adv, ret = gae(batch.reward, batch.value, batch.done.astype(jnp.float32), last_value, a.gamma,
                           a.gae_lambda, batch.truncated.astype(jnp.float32), trunc_value.reshape(T, B))
            flat = lambda x: x.reshape(T * B, *x.shape[2:])  # noqa: E731
            data = (jax.tree.map(flat, batch.features), flat(batch.action), flat(batch.logp), flat(adv), flat(ret))
            key, k_epochs = jax.random.split(runner.key)
            params, opt_state, losses = scan_update(net.apply, tx, a, runner.params, runner.opt_state, data, k_epochs)
            metrics = {"net_reward_per_step": batch.reward.mean(), "expert_fraction": batch.expert.mean(),
                       **jax.tree.map(jnp.mean, losses)}
            return runner._replace(params=params, opt_state=opt_state, key=key), metrics

        key, k_init, k_reset = jax.random.split(key, 3)
        obs, env_state = reset(jax.random.split(k_reset, B), env_params)
        params = net.init(k_init, features_of(obs))
        runner = _Runner(params, tx.init(params), env_state, obs, jnp.zeros(B, jnp.int32), jnp.ones(B, bool), key)
        runner, metrics = jax.lax.scan(iteration, runner, None, num_iters)
        return runner.params, metrics

    return train
