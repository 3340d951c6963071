"""PPO's actor for JAX envs, PureJaxRL-style: one iteration (a `lax.scan` rollout over vmapped envs, GAE, the
epochs of minibatch updates) as one pure function, so a trainer jits a chunk of iterations or the whole run.

Base agents train with it on the gridworlds (`duo_jax.agents.jax_ppo`), coordinators on the coordination env of
a gridworld (`duo_jax.coordinators.ppo_jax`, `duo_jax.core.coord_env`): the same transitions, GAE and update.
The env params are an argument of each iteration, not a constant of it, so a trainer can vmap over them (the
alphas of a cost sweep). No host callback inside: under jax 0.10.2 a `jax.debug.callback` in a vmapped scan
could hang the computation, and XLA's persistent cache never stores programs with host callbacks.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from duo_jax.core.agent import sample_action
from duo_jax.rl.ppo import gae, scan_update


class Transition(NamedTuple):
    obs: Any                  # [T, B, ...] the obs acted on (a pytree: the coordinator's is a dict)
    action: jnp.ndarray       # [T, B]
    logp: jnp.ndarray         # [T, B]
    value: jnp.ndarray        # [T, B]
    reward: jnp.ndarray       # [T, B]
    done: jnp.ndarray         # [T, B] the episode ended at step t (terminated or truncated)
    truncated: jnp.ndarray    # [T, B] it ended by the time limit only: bootstrap from final_obs
    final_obs: Any            # [T, B, ...] the obs step t reached, before any auto-reset
    episode_return: jnp.ndarray  # [T, B] meaningful where done
    episode_length: jnp.ndarray  # [T, B] meaningful where done
    info: Any = None          # [T, B] the env's info entries named in `info_means`


class RunnerState(NamedTuple):
    params: Any
    opt_state: Any
    env_state: Any
    obs: Any
    key: jax.Array


def masked_mean(x: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
    """Mean of `x` where `mask`, 0 where nothing is masked in (fixed shapes, no boolean indexing)."""
    mask = mask.astype(jnp.float32)
    return (x * mask).sum() / jnp.maximum(mask.sum(), 1.0)


def _flat(tree, T: int, B: int):
    return jax.tree.map(lambda x: x.reshape(T * B, *x.shape[2:]), tree)


def advantages(apply, params, batch: Transition, last_obs, gamma: float, lam: float, observe_final=None):
    """GAE over the rollout, bootstrapped from V(last_obs); a step truncated by the time limit
    bootstraps from V(final_obs), the obs it reached, not the next episode's first obs (`observe_final` maps
    what the env put in info["final_obs"] to observations, for envs that defer that work to here)."""
    T, B = batch.reward.shape
    _, last_value, _ = apply(params, last_obs)
    final = _flat(batch.final_obs, T, B)
    _, truncation_value, _ = apply(params, final if observe_final is None else observe_final(final))
    return gae(
        batch.reward, batch.value, batch.done.astype(jnp.float32), last_value, gamma, lam,
        batch.truncated.astype(jnp.float32), truncation_value.reshape(T, B),
    )


def make_iteration(cfg, env, apply: Callable, init_params: Callable, tx, info_means: tuple[str, ...] = ()):
    """`(init(key, env_params) -> RunnerState, iteration(runner, env_params) -> (runner, metrics))`, both pure.

    `cfg`: a PPO section (num_envs, num_steps, gamma, gae_lambda, clip_eps, vf_coef, ent_coef, num_epochs,
    num_minibatches); `env`: gymnax-style, one env (vmapped here); `apply(params, obs) -> (logits, value, _)`;
    `init_params(key, obs)`: the model's params from a batch of observations; `tx`: `duo_jax.rl.ppo.optimizer`.
    Metrics: `return_mean` and `length_mean` of the episodes that ended (0 if none), `episodes`, `reward_mean`
    (per step), the mean of each info entry in `info_means`, and the update's losses (pg_loss, vf_loss, entropy,
    approx_kl). An env that defers its final observations (`CoordEnv(defer_final=True)`) has them made here, from
    the whole rollout's final frames (`advantages`' `observe_final`)."""
    T, B = cfg.num_steps, cfg.num_envs
    observe_final = env.observe_final if getattr(env, "defer_final", False) else None
    if (T * B) % cfg.num_minibatches:
        raise ValueError(f"num_envs * num_steps = {T * B} is not divisible by num_minibatches={cfg.num_minibatches}.")
    reset = jax.vmap(env.reset, in_axes=(0, None))
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def iteration(runner: RunnerState, env_params):
        def env_step(runner: RunnerState, _):
            key, k_act, k_env = jax.random.split(runner.key, 3)
            logits, value, _ = apply(runner.params, runner.obs)
            action = sample_action(logits, k_act)
            logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
            obs, env_state, reward, terminated, truncated, info = step(
                jax.random.split(k_env, B), runner.env_state, action, env_params
            )
            transition = Transition(
                runner.obs, action, logp, value, reward, terminated | truncated, truncated & ~terminated,
                info["final_obs"], info["episode_return"], info["episode_length"],
                {name: info[name] for name in info_means},
            )
            return runner._replace(env_state=env_state, obs=obs, key=key), transition

        runner, batch = jax.lax.scan(env_step, runner, None, T)
        adv, ret = advantages(apply, runner.params, batch, runner.obs, cfg.gamma, cfg.gae_lambda, observe_final)
        data = _flat((batch.obs, batch.action, batch.logp, adv, ret), T, B)
        key, k_epochs = jax.random.split(runner.key)
        params, opt_state, losses = scan_update(apply, tx, cfg, runner.params, runner.opt_state, data, k_epochs)
        metrics = {
            "return_mean": masked_mean(batch.episode_return, batch.done),
            "length_mean": masked_mean(batch.episode_length.astype(jnp.float32), batch.done),
            "episodes": batch.done.sum(),
            "reward_mean": batch.reward.mean(),
            **{name: batch.info[name].mean() for name in info_means},
            **jax.tree.map(jnp.mean, losses),
        }
        return RunnerState(params, opt_state, runner.env_state, runner.obs, key), metrics

    def init(key: jax.Array, env_params) -> RunnerState:
        key, k_init, k_reset = jax.random.split(key, 3)
        obs, env_state = reset(jax.random.split(k_reset, B), env_params)
        params = init_params(k_init, obs)
        return RunnerState(params, tx.init(params), env_state, obs, key)

    return init, iteration
