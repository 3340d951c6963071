"""PPO for base agents on JAX-native envs (gridworlds), PureJaxRL-style: one jitted `train(key)`.

`make_train(config, env, env_params)` returns `train(key) -> (params, metrics)`: a `lax.scan` over
iterations of `duo_jax.rl.jax_actor` (a `lax.scan` rollout over vmapped envs, GAE, then epochs x minibatches of
updates). The model has no convolutions, so everything, updates included, stays inside the scan (unlike
`duo_jax.agents.ppo`, whose host env and CNNs want one jit call per step).

`train_and_save` runs the same iterations in jitted chunks instead, so that it can checkpoint the whole
training state (a killed run resumes bit for bit) and keep snapshots at given steps (YRC-0's simulated
novice is an earlier snapshot of the novice's own run).
"""
from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from duo_jax.agents.agent import Agent, init_agent, make_model, provenance, sample_action, training_identity
from duo_jax.core import checkpoint
from duo_jax.core.curves import open_curves
from duo_jax.core.evaluator import format_summary, summarize
from duo_jax.envs.gridworld.env import make
from duo_jax.envs.gridworld.family import check_action_noise
from duo_jax.rl import jax_actor
from duo_jax.rl.jax_actor import RunnerState, Transition, advantages, masked_mean  # noqa: F401 (earlier home)
from duo_jax.rl.ppo import check_finite, check_snapshots, num_iterations, optimizer


def make_train(config: ml_collections.ConfigDict, env, env_params):
    """`train(key) -> (params, metrics)`, jittable and vmappable over keys; metrics are [num_iterations].

    `config.model.name` names the model, `config.ppo` holds the PPO settings (see
    configs/train_grid_agent.py). No host callback inside: under jax 0.10.2 a `jax.debug.callback` in a
    vmapped scan could hang the computation.
    """
    init, iteration = make_iteration(config, env, env_params)

    def train(key: jax.Array):
        runner, metrics = jax.lax.scan(iteration, init(key), jnp.arange(num_iterations(config.ppo)))
        return runner.params, metrics

    return train


def make_iteration(config: ml_collections.ConfigDict, env, env_params):
    """`(init(key) -> RunnerState, iteration(runner, it) -> (runner, metrics))`: `make_train`'s pieces, the
    actor of `duo_jax.rl.jax_actor` with this agent's model and optimizer."""
    cfg = config.ppo
    num_iters = num_iterations(cfg)
    if num_iters < 1:
        raise ValueError(
            f"ppo.total_steps={cfg.total_steps} is less than one iteration ({cfg.num_envs * cfg.num_steps} steps)."
        )
    apply = make_model(config.model.name, env.num_actions).apply

    def init_params(key, obs):
        return init_agent(key, config.model.name, env.num_actions, env.obs_shape).params

    init, iterate = jax_actor.make_iteration(cfg, env, apply, init_params, optimizer(cfg, num_iters))
    return (lambda key: init(key, env_params)), (lambda runner, it: iterate(runner, env_params))


def evaluate_agent(
    agent: Agent, env, env_params, num_episodes: int, key: jax.Array, max_steps: int | None = None
) -> dict:
    """Each of `num_episodes` envs plays its first episode (actions sampled at temperature 1).

    An episode still running after `max_steps` (default: the env's time limit) counts with the
    reward and length it has then. Returns `core.evaluator.summarize`'s dict (reward_mean,
    reward_ci95, episode_length_mean, episodes, ...).
    """
    max_steps = int(env_params.max_steps if max_steps is None else max_steps)
    reward, length = _first_episodes(agent.apply, env, num_episodes, max_steps)(agent.params, env_params, key)
    reward, length = np.asarray(reward), np.asarray(length)
    return summarize(reward, reward, length, np.zeros_like(length))


def _first_episodes(apply, env, num_episodes: int, max_steps: int):
    @jax.jit
    def run(params, env_params, key):
        k_reset, k_run = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_episodes), env_params)

        def body(carry, key):
            obs, env_state, active, reward, length = carry
            k_act, k_env = jax.random.split(key)
            action = sample_action(apply(params, obs)[0], k_act)
            obs, env_state, r, terminated, truncated, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_env, num_episodes), env_state, action, env_params
            )
            reward = reward + jnp.where(active, r, 0.0)
            length = length + active.astype(jnp.int32)
            active = active & ~(terminated | truncated)
            return (obs, env_state, active, reward, length), None

        init = (
            obs,
            env_state,
            jnp.ones(num_episodes, bool),
            jnp.zeros(num_episodes),
            jnp.zeros(num_episodes, jnp.int32),
        )
        (_, _, _, reward, length), _ = jax.lax.scan(body, init, jax.random.split(k_run, max_steps))
        return reward, length

    return run


def family(task: str) -> str:
    """The game family a gridworld task belongs to: DoorKey-8x8 -> doorkey."""
    for prefix in ("DistShift", "LavaGap", "DoorKey"):
        if task.startswith(prefix):
            return prefix.lower()
    raise ValueError(f"Unknown gridworld task family for {task!r}.")


def _progress_logger(num_iters: int, steps_per_iter: int, every: int):
    t0, first = time.time(), [None]

    def log(it: int, metrics: dict):
        it += 1
        first[0] = it if first[0] is None else first[0]
        if it % every and it != num_iters:
            return
        m = {k: float(np.mean(v)) for k, v in metrics.items()}
        logging.info(
            "iter %d/%d steps %d | return %.3f len %.1f (%d eps) | entropy %.3f kl %.4f | %.0f steps/s",
            it,
            num_iters,
            it * steps_per_iter,
            m["return_mean"],
            m["length_mean"],
            m["episodes"],
            m["entropy"],
            m["approx_kl"],
            (it - first[0] + 1) * steps_per_iter / (time.time() - t0),
        )

    return log


TRAIN_METRICS = ("return_mean", "length_mean", "episodes", "reward_mean")  # the rest are the update's losses


def _evaluate(agent: Agent, env, params, config) -> dict:
    stats = evaluate_agent(agent, env, params, config.env.num_eval_episodes, jax.random.PRNGKey(config.env.eval_seed))
    return dict(stats, task=env.name, max_num_steps=int(env.max_steps), action_noise=float(params.action_noise))


def _save_agent(path: str, params, config, step: int, wall: float, envs) -> dict:
    """Evaluate `params` on the test task (`stats`, whose BP the costs use) and the training task
    (`train_task_stats`), and save them as an agent checkpoint with its provenance."""
    (env, env_params), (eval_env, eval_params) = envs
    agent = Agent(make_model(config.model.name, env.num_actions).apply, params, {})
    stats = _evaluate(agent, eval_env, eval_params, config)
    train_stats = _evaluate(agent, env, env_params, config)
    logging.info("%s at %d steps, on %s: %s", env.name, step, eval_env.name, format_summary(stats))
    logging.info("%s at %d steps, on %s: %s", env.name, step, env.name, format_summary(train_stats))
    agent_config = {
        "model": config.model.name,
        "num_actions": env.num_actions,
        "obs_shape": list(env.obs_shape),
        "game": family(env.name),
        "trained_on": env.name,
        "action_noise": float(env_params.action_noise),
        **provenance(config, step),
        "train_seconds": round(wall, 1),
        "stats": dict(stats, split="test"),
        "train_task_stats": train_stats,
        "train_config": config.to_dict(),  # to reproduce it
    }
    checkpoint.save_checkpoint(path, params, agent_config)
    return agent_config


def train_and_save(config: ml_collections.ConfigDict) -> str:
    """Train (or resume) on `config.env.task` under `config.env.action_noise`, and save `<out_dir>/agent`,
    evaluated on `config.env.eval_task` (and the training task); returns its path.

    Every `ppo.checkpoint_every` iterations the whole training state goes to `<out_dir>/state`, and a rerun
    of the same config resumes from it bit for bit. At each step count in `ppo.snapshots` the agent is also
    saved as `<out_dir>/snapshot_<steps>`, with the same `run_id`. Training curves go to `<out_dir>/curves`.
    A non-finite loss stops the run, leaving
    the last checkpoint as it was.
    """
    noise = check_action_noise(config.env.action_noise)
    env, eval_env = make(config.env.task), make(config.env.eval_task or config.env.task)
    envs = ((env, env.default_params(noise)), (eval_env, eval_env.default_params(noise)))
    cfg = config.ppo
    num_iters, steps_per_iter = num_iterations(cfg), cfg.num_envs * cfg.num_steps
    snapshots = check_snapshots(cfg.snapshots, num_iters * steps_per_iter)
    init, iteration = make_iteration(config, env, envs[0][1])
    iteration = jax.jit(iteration)
    log = _progress_logger(num_iters, steps_per_iter, cfg.log_every)
    out_dir = os.path.abspath(config.out_dir)
    state_dir = os.path.join(out_dir, "state")
    runner, start, wall = jax.jit(init)(jax.random.PRNGKey(config.seed)), 0, 0.0
    if checkpoint.latest_step(state_dir) is not None:
        restored, meta = checkpoint.load_checkpoint(state_dir, target=runner)
        if meta["identity"] != training_identity(config):
            raise ValueError(
                f"out_dir {config.out_dir!r} holds a training run with a different config; "
                "choose another out_dir or delete it."
            )
        runner = jax.tree.unflatten(jax.tree.structure(runner), jax.tree.leaves(restored))
        start, wall = meta["iteration"], meta["train_seconds"]
        logging.info("Resumed from %s at iteration %d", state_dir, start)
    t0 = time.time() - wall
    with open_curves(os.path.join(out_dir, "curves"), config) as curves:
        for it in range(start, num_iters):
            runner, metrics = iteration(runner, it)
            metrics = jax.device_get(metrics)
            check_finite(metrics, runner.params, it + 1, state_dir)
            log(it, metrics)
            step = (it + 1) * steps_per_iter
            ended = float(metrics["episodes"]) > 0  # no episode ended: no return or length to log
            curves.write(
                step,
                {
                    f"{'train' if k in TRAIN_METRICS else 'loss'}/{k}": v
                    for k, v in metrics.items()
                    if ended or k not in TRAIN_METRICS
                },
            )
            for snap in snapshots:
                if step - steps_per_iter < snap <= step:  # an earlier agent of the same run
                    _save_agent(
                        os.path.join(out_dir, f"snapshot_{snap}"), runner.params, config, step, time.time() - t0, envs
                    )
            if (it + 1) % cfg.checkpoint_every == 0 and it + 1 < num_iters:
                meta = {"iteration": it + 1, "train_seconds": time.time() - t0, "identity": training_identity(config)}
                checkpoint.save_checkpoint(state_dir, runner, meta)
    path = os.path.join(out_dir, "agent")
    agent_config = _save_agent(path, runner.params, config, num_iters * steps_per_iter, time.time() - t0, envs)
    logging.info(
        "Trained on %s: %d steps in %.1fs (compile included)",
        env.name,
        agent_config["train_steps"],
        agent_config["train_seconds"],
    )
    return path
