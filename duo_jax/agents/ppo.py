"""PPO for base agents (novice/expert) on a host vector env, in JAX + optax.

The env steps on the host; acting is one jit call per env step, GAE one jit call
per iteration, each minibatch step one more (PPO's core is `duo_jax.rl.ppo`). Training resumes from the last
checkpoint under `<out_dir>/state` exactly where it stopped (params, optimizer, key,
return normaliser, episode statistics and the envs' own states), so a killed run
rerun ends with the params of an uninterrupted one; the latest params are also saved
as the `<out_dir>/agent` checkpoint that `load_agent` reads.
"""
from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging

from duo_jax.agents.agent import init_agent, provenance, sample_action
from duo_jax.core import checkpoint
from duo_jax.core.curves import open_curves

# PPO's core moved to duo_jax.rl.ppo; these names stay importable from here.
from duo_jax.rl.ppo import (  # noqa: F401
    MICROBATCH,
    Batch,
    Diverged,
    ReturnNormalizer,
    check_finite,
    check_snapshots,
    gae,
    make_update,
    minibatch_grads,
    normalize,
    num_iterations,
    optimizer,
    ppo_loss,
    restore_env_state,
    save_env_state,
    scan_update,
)


def train(config: ml_collections.ConfigDict, make_env) -> str:
    """Train (or resume) a base agent; returns the path of its `agent` checkpoint.

    `make_env(game, split, num_envs, seed)` returns a host vector env; with `get_state()` (bytes per env) and
    `set_state(states) -> obs` a resumed run continues bit for bit (Procgen has both). Training curves go to
    `<out_dir>/curves`, at every iteration's env step count: `loss/<pg_loss|vf_loss|entropy|approx_kl>` and,
    when episodes ended in it, `train/return_mean`, `train/length_mean`, `train/episodes`."""
    cfg = config.ppo
    out_dir = os.path.abspath(config.out_dir)
    env = make_env(config.env.game, config.env.split, cfg.num_envs, config.seed)
    obs = env.reset()
    key = jax.random.PRNGKey(config.seed)
    key, init_key = jax.random.split(key)
    agent = init_agent(init_key, config.model.name, config.env.num_actions, obs.shape[1:])
    num_iters = num_iterations(cfg)
    tx = optimizer(cfg, num_iters)
    params, opt_state = agent.params, tx.init(agent.params)
    start_iter, norm_state = 0, None
    ep_ret = np.zeros(cfg.num_envs)
    ep_len = np.zeros(cfg.num_envs, dtype=np.int64)
    state_dir = os.path.join(out_dir, "state")
    if checkpoint.latest_step(state_dir) is not None:
        target = {"params": params, "opt_state": opt_state, "key": key}
        restored, meta = checkpoint.load_checkpoint(state_dir, target=target)
        params, opt_state, key = restored["params"], restored["opt_state"], restored["key"]
        start_iter, norm_state = meta["iteration"], meta["normalizer"]
        obs = restore_env_state(env, meta.get("env"), obs)
        if "episodes" in meta:
            ep_ret, ep_len = (
                np.asarray(meta["episodes"]["ret"], np.float64),
                np.asarray(meta["episodes"]["len"], np.int64),
            )
        logging.info("Resumed from %s at iteration %d", state_dir, start_iter)
    normalizer = ReturnNormalizer(cfg.num_envs, cfg.gamma, norm_state)
    update = make_update(agent.apply, tx, cfg)

    @jax.jit
    def act(params, obs, key):
        logits, value, _ = agent.apply(params, obs)
        action = sample_action(logits, key)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
        return action, logp, value

    finished_ret, finished_len = [], []
    T, B = cfg.num_steps, cfg.num_envs
    buf = {k: np.zeros((T, B), np.float32) for k in ("logp", "value", "reward", "done")}
    buf_obs = np.zeros((T, B, *obs.shape[1:]), np.uint8)
    buf_act = np.zeros((T, B), np.int32)
    t0 = time.time()
    # Opened after the restore: its first write, at the first step redone, drops the curves logged from there on.
    with open_curves(os.path.join(out_dir, "curves"), config) as curves:
        for it in range(start_iter, num_iters):
            for t in range(T):
                key, k = jax.random.split(key)
                action, logp, value = jax.device_get(act(params, obs, k))
                buf_obs[t], buf_act[t], buf["logp"][t], buf["value"][t] = obs, action, logp, value
                obs, reward, done = env.step(action)
                ep_ret += reward
                ep_len += 1
                finished_ret.extend(ep_ret[done].tolist())
                finished_len.extend(ep_len[done].tolist())
                ep_ret[done], ep_len[done] = 0.0, 0
                buf["reward"][t] = normalizer(reward, done)
                buf["done"][t] = done
            key, k1, k2 = jax.random.split(key, 3)
            _, _, last_value = act(params, obs, k1)
            batch = Batch(buf_obs, buf_act, buf["logp"], buf["value"], buf["reward"], buf["done"])
            params, opt_state, metrics = update(params, opt_state, batch, last_value, k2)
            check_finite(metrics, params, it + 1, state_dir)
            step = (it + 1) * T * B
            metrics = {k: float(v) for k, v in metrics.items()}
            scalars = {f"loss/{k}": v for k, v in metrics.items()}
            if finished_ret:
                scalars.update(
                    {
                        "train/return_mean": np.mean(finished_ret),
                        "train/length_mean": np.mean(finished_len),
                        "train/episodes": len(finished_ret),
                    }
                )
                logging.info(
                    "iter %d/%d steps %d | return %.2f len %.0f (%d eps) | %.0f steps/s | %s",
                    it + 1,
                    num_iters,
                    step,
                    np.mean(finished_ret),
                    np.mean(finished_len),
                    len(finished_ret),
                    (it + 1 - start_iter) * T * B / (time.time() - t0),
                    json.dumps({k: round(v, 4) for k, v in metrics.items()}),
                )
                finished_ret, finished_len = [], []
            curves.write(step, scalars)
            agent_config = dict(
                agent.config, game=config.env.game, trained_on=config.env.split, **provenance(config, step)
            )
            for snap in cfg.get("snapshots", ()):
                # An earlier checkpoint of the same run: YRC-0's simulated novice shares the novice's features.
                if step - T * B < snap <= step:
                    checkpoint.save_checkpoint(os.path.join(out_dir, f"snapshot_{snap}"), params, agent_config)
            if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == num_iters:
                # The agent first, the training state last: a run killed between the two redoes these iterations.
                checkpoint.save_checkpoint(
                    os.path.join(out_dir, "agent"), params, agent_config, step=step, max_to_keep=1
                )
                # Everything the next iterations read; the per-iteration logging lists are empty here.
                meta = {
                    "iteration": it + 1,
                    "normalizer": normalizer.state(),
                    "config": config.to_dict(),
                    "episodes": {"ret": ep_ret.tolist(), "len": ep_len.tolist()},
                    "env": save_env_state(env),
                }
                checkpoint.save_checkpoint(
                    state_dir, {"params": params, "opt_state": opt_state, "key": key}, meta, step=it + 1, max_to_keep=1
                )
    return os.path.join(out_dir, "agent")
