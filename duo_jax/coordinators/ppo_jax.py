"""The PPO coordinator on a JAX-native env, trained in one jitted call, vmappable over seeds and alphas.

    train = make_coord_train(config, env, env_params, novice, expert, costs)
    params, metrics = jax.jit(jax.vmap(train))(keys, alphas)     # a whole cost sweep, one compiled call

`train_alphas` is what `duo_jax.main` and `duo_jax.sweep` run on JAX-native envs: the coordinators of
all alphas side by side, in jitted chunks of `eval_every` iterations, validated and checkpointed
between chunks (best per alpha and split, resumable).

It is base-agent PPO (`duo_jax.rl.jax_actor`) on the coordination env (`duo_jax.core.coord_env`: both agents'
forward passes, the base action, the env step with auto-reset, the costs, alpha in the env params): an
iteration is one `lax.scan` rollout, GAE (a truncated episode bootstraps from the value of its final
observation) and the epochs of minibatch updates. The policy it trains is the registered "ppo" policy (same
network, same features), so its params evaluate like any other.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from duo_jax.agents.agent import Agent
from duo_jax.coordinators.features import extract, feature_reads
from duo_jax.coordinators.grid_search import AlgorithmResult
from duo_jax.coordinators.ppo_network import CoordinatorNet
from duo_jax.core import checkpoint
from duo_jax.core.coord_env import CoordEnv, CoordParams
from duo_jax.core.coordination import Costs, charged
from duo_jax.core.curves import open_curves
from duo_jax.core.distributed import replicate, shard_batch, to_host
from duo_jax.core.evaluator import summaries
from duo_jax.core.jax_evaluator import JaxEvaluator
from duo_jax.core.task import TrainTask
from duo_jax.rl import jax_actor
from duo_jax.rl.jax_actor import RunnerState
from duo_jax.rl.ppo import check_finite, num_iterations, optimizer

# The fields of a validation summary logged as `val/<split>/<field>` (here and in ppo_host.py).
VAL_CURVES = ("reward_mean", "expert_fraction", "episode_length_mean")
TRAIN_METRICS = ("net_reward_per_step", "expert_fraction")  # logged as `train/<name>`, the losses as `loss/<name>`
ENGINE = "coord_env"  # in `last`'s metadata: runs saved before the coordination env hold another runner


def make_coord_env(config, env, novice: Agent, expert: Agent) -> CoordEnv:
    """The coordination env of `env` for `config`'s coordinator: the observation parts its features read; final
    frames observed after each rollout (`defer_final`)."""
    return CoordEnv(env, novice, expert, bool(config.coordination.open_expert),
                    float(config.coordination.temperature), feature_reads(config.policy.feature_type),
                    defer_final=True)


def make_coord_train(config, env, env_params, novice: Agent, expert: Agent, costs: Costs):
    """`train(key, alpha) -> (params, metrics)`; `config.algorithm` holds the PPO settings of configs/ppo.py,
    `config.policy` the feature type and width. Metrics are [num_iterations]: mean reward net of costs per step,
    expert fraction, losses."""
    init, iterate = make_coord_trainer(config, env, env_params, novice, expert, costs)

    def train(key: jax.Array, alpha):
        runner, metrics = jax.lax.scan(
            lambda r, _: iterate(r, alpha), init(key), None, num_iterations(config.algorithm)
        )
        return runner.params, metrics

    return train


def make_coord_trainer(config, env, env_params, novice: Agent, expert: Agent, costs: Costs):
    """`(init(key) -> runner, iterate(runner, alpha) -> (runner, metrics))`: one PPO iteration at a time (the
    actor of `duo_jax.rl.jax_actor` on the coordination env, `alpha` in its params), for callers that validate
    or checkpoint between iterations. Both are pure and vmappable."""
    a, p = config.algorithm, config.policy
    coord_env = make_coord_env(config, env, novice, expert)
    net = CoordinatorNet(p.hidden_dim)

    def apply(params, cobs):
        return net.apply(params, extract(cobs, p.feature_type))

    def init_params(key, cobs):
        return net.init(key, extract(cobs, p.feature_type))

    init, iteration = jax_actor.make_iteration(
        a, coord_env, apply, init_params, optimizer(a, num_iterations(a)), info_means=("expert",)
    )

    def params_at(alpha) -> CoordParams:
        return CoordParams(env_params, costs._replace(alpha=alpha))

    def iterate(runner: RunnerState, alpha):
        runner, m = iteration(runner, params_at(alpha))
        metrics = {"net_reward_per_step": m.pop("reward_mean"), "expert_fraction": m.pop("expert")}
        for name in ("return_mean", "length_mean", "episodes"):
            m.pop(name)
        return runner, {**metrics, **m}

    return (lambda key: init(key, params_at(costs.alpha))), iterate


def _log_chunk(it: int, num_iters: int, metrics: dict, steps: int, seconds: float) -> None:
    """A progress line after each chunk (its last iteration's metrics per alpha): logged from the host between
    chunks, not by a callback inside the jitted chunk, so the chunk has no host round trip per iteration
    and XLA's persistent cache can keep it (it never stores programs with host callbacks)."""
    logging.info(
        "PPO iter %d/%d (%d alphas) | net reward/step %s | expert %s | %.0f steps/s",
        it,
        num_iters,
        len(metrics["expert_fraction"][-1]),
        np.round(np.asarray(metrics["net_reward_per_step"][-1], np.float64), 4).tolist(),
        np.round(np.asarray(metrics["expert_fraction"][-1], np.float64), 3).tolist(),
        steps / max(seconds, 1e-9),
    )


def train_alphas(key, policy, task: TrainTask, validators: dict, config, alphas) -> list[AlgorithmResult]:
    """PPO coordinators for every alpha, trained side by side (vmapped, one key: common random numbers)
    on the JAX env of `task.split`, in jitted chunks of `algorithm.eval_every` iterations.

    Before training and after each chunk, all alphas' policies are validated in one rollout per validation split,
    each scored at its own alpha, and the best so far per alpha and split is kept. `<task.workdir>/last` holds the
    training state (the whole runner: env states included) and those bests; a rerun resumes from it exactly.
    A loss or params that stop being finite raise `Diverged` before anything is saved. Returns one
    AlgorithmResult per alpha.

    Training curves go to `task.logdir` after each chunk, at its env step count, per alpha (a single-alpha
    run too): `alpha_<a>/loss/<name>`, `alpha_<a>/train/net_reward_per_step` and `.../train/expert_fraction`
    (means over the chunk's iterations), `alpha_<a>/val/<split>/<field>` for the fields of VAL_CURVES.
    """
    a = config.algorithm
    A, num_iters, steps_per_iter = len(alphas), num_iterations(config.algorithm), a.num_envs * a.num_steps
    # Validated a dozen times or more: staged rollouts win back their compile time (same counts).
    validators = {s: dataclasses.replace(v, staged=True) if isinstance(v, JaxEvaluator) else v
                  for s, v in validators.items()}
    split = task.env.jax_split(task.split)
    init, iterate = make_coord_trainer(config, split.env, split.env_params, task.novice, task.expert, task.costs)
    # What each alpha charges (costs.round_to_cents: the reference's prices); the alphas themselves name the curves.
    priced = [charged(config, task.costs._replace(alpha=float(alpha))).alpha for alpha in alphas]
    alpha_arr = jnp.asarray(priced, jnp.float32)

    @functools.partial(jax.jit, static_argnums=2)
    def run_chunk(runner, alpha_arr, n: int):
        return jax.lax.scan(lambda runner, _: jax.vmap(iterate)(runner, alpha_arr), runner, None, n)

    key, k_eval = jax.random.split(key)
    runner = jax.jit(jax.vmap(init))(jnp.broadcast_to(key, (A, *key.shape)))
    best_params = {s: runner.params for s in validators}
    best = {s: [None] * A for s in validators}
    history = {s: [[] for _ in alphas] for s in validators}
    last_dir = os.path.join(task.workdir, "last")
    it = 0
    if checkpoint.latest_step(last_dir) is not None:
        if checkpoint.load_checkpoint(last_dir)[1].get("engine") != ENGINE:
            raise checkpoint.CannotResume(
                f"{last_dir} holds a PPO run of an earlier duo_jax (before the coordination env), which this one "
                "cannot resume; remove it to start over."
            )
        restored, meta = checkpoint.load_checkpoint(
            last_dir, target={"runner": runner, "best": best_params, "key": k_eval}
        )
        if meta["alphas"] != list(alphas):
            raise checkpoint.CannotResume(
                f"{last_dir} was trained for alphas {meta['alphas']}, not {list(alphas)}; remove it to start over."
            )
        runner, best_params, k_eval = restored["runner"], restored["best"], restored["key"]
        best, history, it = meta["best"], meta["history"], meta["iteration"]
        logging.info("PPO resumed from %s at iteration %d of %d", last_dir, it, num_iters)
    envs = shard_batch((runner.env_state, runner.obs), axis=1)  # [alphas, envs]
    runner = runner._replace(env_state=envs[0], obs=envs[1])
    # Several processes: everything but the envs on every device (one process: unchanged).
    runner, best_params, k_eval = replicate((runner, best_params, k_eval))

    prefix = [f"alpha_{alpha:g}/" for alpha in alphas]

    def validate(it: int, scalars: dict) -> None:
        """Every alpha's policy on each validation split, scored at its own alpha; keeps the best per alpha."""
        nonlocal k_eval
        for s, validator in validators.items():
            k_eval, k = jax.random.split(k_eval)
            episodes = validator.rollout(policy, runner.params, k)
            improved = np.zeros(A, bool)
            for i in range(A):
                summary = summaries(episodes, validator.costs._replace(alpha=priced[i]))[i]
                history[s][i].append(dict(iteration=it, steps=it * steps_per_iter, **summary))
                improved[i] = best[s][i] is None or summary["reward_mean"] > best[s][i]["reward_mean"]
                best[s][i] = summary if improved[i] else best[s][i]
                scalars.update({f"{prefix[i]}val/{s}/{f}": summary[f] for f in VAL_CURVES})
            logging.info(
                "PPO iter %d %s: reward %s (alphas %s)",
                it,
                s,
                [round(h[-1]["reward_mean"], 4) for h in history[s]],
                list(alphas),
            )
            mask = jnp.asarray(improved)
            best_params[s] = jax.tree.map(
                lambda new, old, mask=mask: jnp.where(mask.reshape(-1, *[1] * (new.ndim - 1)), new, old),
                runner.params,
                best_params[s],
            )

    # Opened after the restore: its first write, at the first step redone, drops the curves logged from there on.
    with open_curves(task.logdir, config) as curves:
        if it == 0:  # the initial policy is a validation point too (YRC-Bench's); a resumed run has it in history
            scalars = {}
            validate(0, scalars)
            curves.write(0, scalars)
        while it < num_iters:
            n, start = min(a.eval_every, num_iters - it), time.time()
            runner, metrics = run_chunk(runner, alpha_arr, n)
            # Before anything is saved: the first iteration of the chunk where a metric of any alpha is not finite.
            m = to_host(metrics)
            _log_chunk(it + n, num_iters, m, A * n * steps_per_iter, time.time() - start)
            bad = next((i for i in range(n) if not all(np.isfinite(v[i]).all() for v in m.values())), n - 1)
            check_finite({k: v[bad] for k, v in m.items()}, runner.params, it + bad + 1, last_dir)
            it += n
            scalars = {
                f"{prefix[i]}{'train' if k in TRAIN_METRICS else 'loss'}/{k}": v[:, i].mean()
                for k, v in m.items()
                for i in range(A)
            }
            validate(it, scalars)
            curves.write(it * steps_per_iter, scalars)
            checkpoint.save_checkpoint(
                last_dir,
                {"runner": runner, "best": best_params, "key": k_eval},
                {"iteration": it, "alphas": list(alphas), "best": best, "history": history, "engine": ENGINE},
                step=it,
                max_to_keep=1,
            )
    unstack = lambda tree, i: jax.tree.map(lambda x: x[i], tree)  # noqa: E731
    best_params = to_host(best_params)
    return [
        AlgorithmResult(
            {s: unstack(best_params[s], i) for s in validators},
            {s: best[s][i] for s in validators},
            {s: history[s][i] for s in validators},
        )
        for i in range(A)
    ]
