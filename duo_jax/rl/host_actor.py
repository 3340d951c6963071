"""PPO's actor and training loop for host-stepped vector envs (Procgen), flax examples/ppo-style: the env steps
on the host, acting is one jit call per env step, GAE one per iteration, each minibatch step one more
(`duo_jax.rl.ppo.make_update`).

One loop trains base agents (`duo_jax.agents.ppo`, on a Procgen vector env) and coordinators
(`duo_jax.coordinators.ppo_host`, on `duo_jax.core.coord_env.HostCoordEnv`): the same rollout, return
normaliser, update, finite checks, curves and Orbax training state, from which a killed run resumes exactly
(params, optimizer, key, normaliser, the episodes in progress, the envs' own states). What is the caller's own
(the agents' snapshots and `agent` checkpoint; the coordinator's validations and best policies) comes in
through `Hooks`.

A host env: `reset() -> obs`, `step(action) -> (obs, reward, done)` or `(obs, reward, done, info)` (info: [B]
arrays, averaged per episode when named in `info_names`); optionally `get_state()`/`set_state(states) -> obs`
(each env's game, as bytes) and `carry()`/`set_carry(dict)` (a wrapper's own JSON state), for exact resumes.
"""
from __future__ import annotations

import functools
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from duo_jax.core import checkpoint
from duo_jax.core.agent import sample_action
from duo_jax.core.curves import open_curves
from duo_jax.rl.ppo import (
    Batch,
    ReturnNormalizer,
    check_finite,
    make_update,
    num_iterations,
    restore_env_state,
    save_env_state,
)


class Hooks:
    """What a trainer adds to the loop; every method is optional (these defaults do nothing)."""

    def resume(self, meta: dict, params) -> None:
        """Restore the trainer's own state from the training state's metadata (`params`: the restored ones)."""

    def start(self, params, key) -> dict:
        """Curves at step 0 of a run that starts afresh (a validation of the initial policy)."""
        return {}

    def iteration(self, it: int, params, key, saving: bool) -> dict:
        """After iteration `it`'s update (counted from 1); `saving`: the training state is saved next.
        Returns curves for the iteration's step."""
        return {}

    def meta(self) -> dict:
        """The trainer's own part of the training state's metadata (JSON)."""
        return {}


class EpisodeStats:
    """The running return, length and `info_names` sums of each env's episode in progress, and the
    finished episodes since the last `pop`. `state()` is JSON and exact."""

    def __init__(self, num_envs: int, info_names: tuple[str, ...] = (), state: dict | None = None):
        self.names = tuple(info_names)
        self.ret, self.len = np.zeros(num_envs), np.zeros(num_envs, np.int64)
        self.sums = {name: np.zeros(num_envs) for name in self.names}
        if state:
            self.ret, self.len = np.asarray(state["ret"], np.float64), np.asarray(state["len"], np.int64)
            self.sums = {name: np.asarray(state[name], np.float64) for name in self.names}
        self.finished = []

    def step(self, reward: np.ndarray, info: dict) -> np.ndarray:
        """Adds one step; returns the episodes' lengths so far."""
        self.ret += reward
        self.len += 1
        for name in self.names:
            self.sums[name] += info[name]
        return self.len

    def end(self, done: np.ndarray) -> None:
        """Records the episodes that ended and starts their envs' next ones."""
        for i in np.flatnonzero(done):
            n = int(self.len[i])
            self.finished.append((self.ret[i], n, *(self.sums[name][i] / n for name in self.names)))
        self.ret[done], self.len[done] = 0.0, 0
        for name in self.names:
            self.sums[name][done] = 0.0

    def pop(self) -> dict | None:
        """Means over the finished episodes (`return`, `length`, each info name) and their count; None if none."""
        if not self.finished:
            return None
        means = np.mean(np.asarray(self.finished, np.float64), axis=0)
        out = {"return": means[0], "length": means[1], **dict(zip(self.names, means[2:])),
               "episodes": len(self.finished)}
        self.finished = []
        return out

    def state(self) -> dict:
        return {"ret": self.ret.tolist(), "len": self.len.tolist(), **{k: v.tolist() for k, v in self.sums.items()}}


@functools.lru_cache(maxsize=16)
def _actor(apply):
    @jax.jit
    def act(params, obs, key):
        logits, value, _ = apply(params, obs)
        action = sample_action(logits, key)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
        return action, logp, value

    return act


class _Buffer:
    """Host arrays of one rollout, [T, B, ...]; observations may be a dict (a coordinator's)."""

    def __init__(self, T: int, B: int, truncation: bool):
        self.T, self.obs = T, None
        names = ("logp", "value", "reward", "done") + (("truncated", "truncation_value") if truncation else ())
        self.scalars = {k: np.zeros((T, B), np.float32) for k in names}
        self.action = np.zeros((T, B), np.int32)

    def add_obs(self, t: int, obs) -> None:
        if self.obs is None:
            self.obs = jax.tree.map(lambda x: np.zeros((self.T, *np.shape(x)), np.asarray(x).dtype), obs)
        jax.tree.map(lambda buf, x: buf.__setitem__(t, x), self.obs, obs)

    def batch(self) -> Batch:
        s = self.scalars
        return Batch(self.obs, self.action, s["logp"], s["value"], s["reward"], s["done"], s.get("truncated"),
                     s.get("truncation_value"))


def train(cfg, env, apply, params, tx, key, hooks: Hooks, *, state_dir: str, curves_dir: str, config,
          curve_tags: dict, checkpoint_every: int, info_names: tuple[str, ...] = (), time_limit: int | None = None,
          name: str = "PPO"):
    """Train `params` with PPO on the host env `env` (already made, not yet reset); returns the final params.

    `cfg`: a PPO section (num_envs, num_steps, total_steps, gamma, gae_lambda, ...); `apply(params, obs) ->
    (logits, value, _)`; `tx`: `duo_jax.rl.ppo.optimizer`. The training state goes to `state_dir` every
    `checkpoint_every` iterations and after the last; a run that finds one there resumes from it. Curves go to
    `curves_dir` at each iteration's env step count: `loss/<name>` and, where episodes ended, `curve_tags[k]` for
    k in `return`, `length`, `episodes` and `info_names` (those it names). `time_limit`: an episode that ends at
    that length is truncated, not terminal (Procgen ends over-long episodes itself): it bootstraps from the value
    of its last state seen."""
    T, B = cfg.num_steps, cfg.num_envs
    num_iters = num_iterations(cfg)
    act, update = _actor(apply), make_update(apply, tx, cfg)
    opt_state = tx.init(params)
    obs = env.reset()
    start, norm_state, episodes = 0, None, None
    if checkpoint.latest_step(state_dir) is not None:
        restored, meta = checkpoint.load_checkpoint(
            state_dir, target={"params": params, "opt_state": opt_state, "key": key}
        )
        params, opt_state, key = restored["params"], restored["opt_state"], restored["key"]
        start, norm_state, episodes = meta["iteration"], meta["normalizer"], meta.get("episodes")
        obs = restore_env_state(env, meta.get("env"), obs)
        if "env_carry" in meta:
            env.set_carry(meta["env_carry"])
        hooks.resume(meta, params)
        logging.info("%s resumed from %s at iteration %d of %d", name, state_dir, start, num_iters)
    normalizer = ReturnNormalizer(B, cfg.gamma, norm_state)
    stats = EpisodeStats(B, info_names, episodes)
    buf = _Buffer(T, B, time_limit is not None)
    t0 = time.time()
    # Opened after the restore: its first write, at the first step redone, drops the curves logged from there on.
    with open_curves(curves_dir, config) as curves:
        if start == 0:  # its key leaves training's alone
            curves.write(0, hooks.start(params, jax.random.fold_in(key, num_iters + 1)))
        for it in range(start, num_iters):
            for t in range(T):
                key, k = jax.random.split(key)
                action, logp, value = jax.device_get(act(params, obs, k))
                buf.add_obs(t, obs)
                buf.action[t], buf.scalars["logp"][t], buf.scalars["value"][t] = action, logp, value
                obs, reward, done, *info = env.step(action)
                length = stats.step(reward, info[0] if info else {})
                buf.scalars["reward"][t] = normalizer(reward, done)
                buf.scalars["done"][t] = done
                if time_limit is not None:
                    truncated = done & (length >= time_limit)
                    buf.scalars["truncated"][t] = truncated
                    buf.scalars["truncation_value"][t] = np.where(truncated, value, 0.0)
                stats.end(done)
            key, k_last, k_update = jax.random.split(key, 3)
            _, _, last_value = act(params, obs, k_last)
            params, opt_state, metrics = update(params, opt_state, buf.batch(), last_value, k_update)
            check_finite(metrics, params, it + 1, state_dir)
            metrics = {k: float(v) for k, v in metrics.items()}
            scalars = {f"loss/{k}": v for k, v in metrics.items()}
            done_episodes = stats.pop()
            if done_episodes is not None:
                scalars.update({tag: done_episodes[k] for k, tag in curve_tags.items() if k in done_episodes})
                logging.info(
                    "%s iter %d/%d steps %d | return %.3f len %.1f%s (%d eps) | %.0f steps/s | %s",
                    name, it + 1, num_iters, (it + 1) * T * B, done_episodes["return"], done_episodes["length"],
                    "".join(f" {k} {done_episodes[k]:.3f}" for k in info_names), done_episodes["episodes"],
                    (it + 1 - start) * T * B / (time.time() - t0),
                    json.dumps({k: round(v, 4) for k, v in metrics.items()}),
                )
            saving = (it + 1) % checkpoint_every == 0 or it + 1 == num_iters
            scalars.update(hooks.iteration(it + 1, params, jax.random.fold_in(k_update, 1), saving))
            curves.write((it + 1) * T * B, scalars)
            if saving:
                # Everything the next iterations read (the finished episodes were popped above).
                meta = {
                    "iteration": it + 1,
                    "normalizer": normalizer.state(),
                    "episodes": stats.state(),
                    "env": save_env_state(env),
                    **({"env_carry": env.carry()} if hasattr(env, "carry") else {}),
                    **hooks.meta(),
                }
                checkpoint.save_checkpoint(
                    state_dir, {"params": params, "opt_state": opt_state, "key": key}, meta, step=it + 1,
                    max_to_keep=1,
                )
    return params
