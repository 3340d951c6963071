"""The PPO coordinator's trainer on a host-stepped env (Procgen): learn when to ask the expert, on the
coordination environment of the train split.

The coordination environment is the base env plus the novice/expert pair: the coordinator's action picks
who acts, its reward is the env reward minus the expert and switch costs. One jit call per env step does
both agents' forward passes, the coordinator's decision and the costs for all envs; GAE and each minibatch
step are jit calls too (the env steps on the host, so the iteration is a host loop over time steps).

Training curves go to `task.logdir` at every iteration's env step count: `loss/<name>` and, when episodes ended,
`train/return` (net of costs), `train/episode_length`, `train/expert_fraction`; at each evaluation
`val/<split>/reward_mean`, `val/<split>/expert_fraction`, `val/<split>/episode_length_mean`.

Before training and every `eval_every` iterations the policy is evaluated on each validation split, on its
fixed levels; the best so far per split is saved as `<workdir>/best_<split>`, the training state as `<workdir>/last`,
from which an interrupted run resumes exactly (params, optimizer, key, return normaliser, episode statistics,
the envs' own states where the env has `get_state`/`set_state`, as Procgen does). A loss or params that stop
being finite stop training (`Diverged`) before anything is saved. The final policy is evaluated and saved as
`<workdir>/final`.
The skyline is this algorithm with `algorithm.train_split="test"` (the test pair and distribution).

On a JAX-native env (gridworlds) all of this runs in jitted chunks instead (`ppo_jax.train_alphas`), and a cost
sweep trains every alpha at once; the method (`ppo.py`) picks the trainer.
"""
from __future__ import annotations

import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from duo_jax.coordinators.features import extract, feature_reads
from duo_jax.coordinators.grid_search import AlgorithmResult
from duo_jax.coordinators.ppo_jax import VAL_CURVES
from duo_jax.coordinators.ppo_network import CoordinatorNet
from duo_jax.core import checkpoint
from duo_jax.core.coordination import Costs, acting_expert_logits, base_action, masked_logits, observe, step_cost
from duo_jax.core.curves import open_curves
from duo_jax.core.evaluator import format_summary
from duo_jax.core.policy import NOVICE, stack_params
from duo_jax.core.task import TrainTask
from duo_jax.rl.ppo import (
    Batch,
    ReturnNormalizer,
    check_finite,
    make_update,
    optimizer,
    restore_env_state,
    save_env_state,
)


@functools.lru_cache(maxsize=8)
def _compiled(feature_type: str, hidden_dim: int, novice_apply, expert_apply, open_expert: bool, temperature: float):
    net = CoordinatorNet(hidden_dim)
    novice_on_all = bool(feature_reads(feature_type) & {"novice_hidden", "novice_logits"})

    @jax.jit
    def step(params, novice_params, expert_params, obs, prev_action, first, costs: Costs, key):
        k_pol, k_act = jax.random.split(key)
        # Unless the coordinator reads the expert, the expert runs only on the envs that asked for it; unless
        # it reads the novice (features `obs` only), the novice runs only on the envs it acts for.
        if novice_on_all:
            novice_out, expert_out, cobs = observe(novice_apply, expert_apply, novice_params, expert_params, obs,
                                                   open_expert, expert_on_all=False)
        else:
            novice_out, expert_out, cobs = None, None, {"base_obs": obs}
        features = extract(cobs, feature_type)
        logits, value, _ = net.apply(params, features)
        action = jax.random.categorical(k_pol, logits, axis=-1).astype(jnp.int32)
        logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
        expert_logits = acting_expert_logits(expert_apply, expert_params, obs, expert_out, action)
        novice_logits = novice_out[0] if novice_out is not None else masked_logits(
            novice_apply, novice_params, obs, action == NOVICE)
        env_action = base_action(action, novice_logits, expert_logits, k_act, temperature)
        return env_action, action, logp, value, step_cost(action, prev_action, first, costs), features

    @jax.jit
    def init(key, novice_params, expert_params, obs):
        _, _, cobs = observe(novice_apply, expert_apply, novice_params, expert_params, obs, open_expert)
        return net.init(key, extract(cobs, feature_type))

    return step, init, net.apply


class _Buffer:
    """Host arrays of one rollout, [T, B, ...]."""

    def __init__(self, T: int, B: int):
        self.T, self.B = T, B
        self.features = None
        self.scalars = {
            k: np.zeros((T, B), np.float32) for k in ("logp", "value", "reward", "done", "truncated", "trunc_value")
        }
        self.action = np.zeros((T, B), np.int32)

    def add_features(self, t: int, features: dict) -> None:
        if self.features is None:
            self.features = {k: np.zeros((self.T, *v.shape), v.dtype) for k, v in features.items()}
        for k, v in features.items():
            self.features[k][t] = v

    def batch(self) -> Batch:
        s = self.scalars
        return Batch(
            self.features, self.action, s["logp"], s["value"], s["reward"], s["done"], s["truncated"], s["trunc_value"]
        )


def _save_policy(path: str, params, config, **extra) -> None:
    checkpoint.save_policy(path, "ppo", params, config.policy.to_dict(), algorithm=config.algorithm.name, **extra)


def train_host(key, policy, task: TrainTask, validators, config) -> AlgorithmResult:
    """Train the `ppo` policy on `task`'s host env at `task.costs`, validated on `validators` (see above)."""
    a, p = config.algorithm, config.policy
    T, B = a.num_steps, a.num_envs
    num_iters = a.total_steps // (T * B)
    step, init, apply = _compiled(
        p.feature_type, p.hidden_dim, task.novice.apply, task.expert.apply, task.open_expert, task.temperature
    )
    novice_params, expert_params = task.novice.params, task.expert.params
    env = task.make_env(B, config.seed)
    obs = env.reset()
    key, k_init = jax.random.split(key)
    params = init(k_init, novice_params, expert_params, obs)
    tx = optimizer(a, num_iters)
    opt_state = tx.init(params)
    update = make_update(apply, tx, a)

    last_dir = os.path.join(task.workdir, "last")
    start, norm_state, history, best = 0, None, {s: [] for s in validators}, {}
    first, prev = np.ones(B, bool), np.zeros(B, np.int32)
    ep_ret, ep_len, ep_expert = np.zeros(B), np.zeros(B, np.int64), np.zeros(B, np.int64)
    if checkpoint.latest_step(last_dir) is not None:
        restored, meta = checkpoint.load_checkpoint(
            last_dir, target={"params": params, "opt_state": opt_state, "key": key}
        )
        params, opt_state, key = restored["params"], restored["opt_state"], restored["key"]
        start, norm_state, history = meta["iteration"], meta["normalizer"], meta["history"]
        for split, summary in meta["best"].items():
            best[split] = (
                checkpoint.load_checkpoint(os.path.join(task.workdir, f"best_{split}"), target=params)[0],
                summary,
            )
        obs = restore_env_state(env, meta.get("env"), obs)
        if "rollout" in meta:
            r = meta["rollout"]
            first, prev = np.asarray(r["first"], bool), np.asarray(r["prev"], np.int32)
            ep_ret, ep_len, ep_expert = (
                np.asarray(r["ret"], np.float64),
                np.asarray(r["len"], np.int64),
                np.asarray(r["expert"], np.int64),
            )
        logging.info("PPO resumed from %s at iteration %d of %d", last_dir, start, num_iters)
    normalizer = ReturnNormalizer(B, a.gamma, norm_state)

    def evaluate(params, it: int, key) -> dict:
        out = {}
        for split, validator in validators.items():
            key, k = jax.random.split(key)
            summary = validator.evaluate(policy, stack_params([params]), k)[0]
            history[split].append(dict(iteration=it, steps=it * T * B, **summary))
            logging.info("PPO iter %d %s: %s", it, split, format_summary(summary))
            if split not in best or summary["reward_mean"] > best[split][1]["reward_mean"]:
                best[split] = (params, summary)
                _save_policy(
                    os.path.join(task.workdir, f"best_{split}"),
                    params,
                    config,
                    selected_on=split,
                    summary=summary,
                    iteration=it,
                )
            out[split] = summary
        return out

    buf = _Buffer(T, B)
    finished = []
    t0 = time.time()
    # Opened after the restore: its first write, at the first step redone, drops the curves logged from there on.
    with open_curves(task.logdir, config) as curves:
        if start == 0:  # the initial policy is a validation point too (YRC-Bench's); its key leaves training's alone
            val = evaluate(params, 0, jax.random.fold_in(key, num_iters + 1))
            curves.write(0, {f"val/{split}/{f}": summary[f] for split, summary in val.items() for f in VAL_CURVES})
        for it in range(start, num_iters):
            for t in range(T):
                key, k = jax.random.split(key)
                out = jax.device_get(step(params, novice_params, expert_params, obs, prev, first, task.costs, k))
                env_action, action, logp, value, cost, features = out
                buf.add_features(t, features)
                buf.action[t], buf.scalars["logp"][t], buf.scalars["value"][t] = action, logp, value
                obs, reward, done = env.step(env_action)
                net_reward = reward - cost
                ep_ret += net_reward
                ep_len += 1
                ep_expert += action
                # Procgen ends over-long episodes itself; the time limit marks them as truncated, not terminal.
                truncated = done & (ep_len >= a.time_limit)
                buf.scalars["reward"][t] = normalizer(net_reward, done)
                buf.scalars["done"][t], buf.scalars["truncated"][t] = done, truncated
                buf.scalars["trunc_value"][t] = np.where(
                    truncated, value, 0.0
                )  # the value of the episode's last state seen
                finished += [(r, n, e / n) for r, n, e in zip(ep_ret[done], ep_len[done], ep_expert[done])]
                ep_ret[done], ep_len[done], ep_expert[done] = 0.0, 0, 0
                first, prev = done, action
            key, k_last, k_upd, k_eval = jax.random.split(key, 4)
            last_value = step(params, novice_params, expert_params, obs, prev, first, task.costs, k_last)[3]
            params, opt_state, metrics = update(params, opt_state, buf.batch(), last_value, k_upd)
            check_finite(metrics, params, it + 1, last_dir)
            scalars = {f"loss/{k}": v for k, v in metrics.items()}
            if finished:
                r, length, e = np.mean(finished, axis=0)
                scalars.update({"train/return": r, "train/episode_length": length, "train/expert_fraction": e})
                logging.info(
                    "PPO iter %d/%d | return %.3f len %.1f expert %.3f (%d eps) | %.0f steps/s | %s",
                    it + 1,
                    num_iters,
                    r,
                    length,
                    e,
                    len(finished),
                    (it + 1 - start) * T * B / (time.time() - t0),
                    json.dumps({k: round(float(v), 4) for k, v in metrics.items()}),
                )
                finished = []
            curves.write((it + 1) * T * B, scalars)
            if (it + 1) % a.eval_every == 0 or it + 1 == num_iters:
                val = evaluate(params, it + 1, k_eval)
                curves.write(
                    (it + 1) * T * B,
                    {f"val/{split}/{f}": summary[f] for split, summary in val.items() for f in VAL_CURVES},
                )
                # Everything the next iterations read (`finished` was emptied by the log line above).
                meta = {
                    "iteration": it + 1,
                    "normalizer": normalizer.state(),
                    "history": history,
                    "best": {s: summary for s, (_, summary) in best.items()},
                    "env": save_env_state(env),
                    "rollout": {
                        "first": first.tolist(),
                        "prev": prev.tolist(),
                        "ret": ep_ret.tolist(),
                        "len": ep_len.tolist(),
                        "expert": ep_expert.tolist(),
                    },
                }
                checkpoint.save_checkpoint(
                    last_dir, {"params": params, "opt_state": opt_state, "key": key}, meta, step=it + 1, max_to_keep=1
                )
    _save_policy(os.path.join(task.workdir, "final"), params, config, iteration=num_iters)
    return AlgorithmResult({s: b[0] for s, b in best.items()}, {s: b[1] for s, b in best.items()}, history)
