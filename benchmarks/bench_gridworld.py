"""Benchmark: coordinated evaluation on the JAX-native gridworlds.

    python benchmarks/bench_gridworld.py [--quick] [--note TEXT] [--out PATH] [--overwrite]

Measures, in one run, per test task (DistShift2, LavaGapS7, DoorKey-8x8) and batch size:

1. raw: the env alone, random actions, a jitted `lax.scan` over `jax.vmap(env.step)` — the ceiling;
   raw_no_reset: the same with `env.step_env` (no auto-reset), which is what evaluation steps, since only
   each slot's first episode counts — so coordinated evaluation can outrun `raw`;
2. jitted: duo_jax's `JaxEvaluator` (AskEveryK, 4 candidates sharing the batch, grid_mlp novice and
   expert): reset, both agents, the coordinator, the env and the episode counts in one `lax.scan`;
3. python loop: the same evaluation driven step by step from Python (`Evaluator` over `JaxVecEnv`):
   the same jitted coordination step and jitted env step, one host round trip per step — what a
   non-functional design costs;
4. PPO coordinator training (`make_coord_train`, `dist` features), one jitted call vmapped over two
   alphas, 256 envs x 32 steps x 10 iterations each: coordinator env-steps/s over both alphas.
5. the suite's PPO row (`ppo_suite_row`): configs/gridworld.py:<game>,ppo with `hidden_dist` features, all six
   alphas vmapped, 256 envs x 64 steps, 3 epochs x 8 minibatches, two iterations: env-steps/s over all alphas.

Steps are slot-steps (every env slot steps through all `steps` steps). Compile time (first call) is
reported separately and excluded from steps/s, which is the best of three timed calls. Writes
benchmarks/results/local/gridworld.json (or --out; the published numbers are benchmarks/results/gridworld.json)
and prints a Markdown table.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
from common import parse_args  # benchmarks/common.py

import duo_jax
from duo_jax.agents.agent import Agent, init_agent, load_agent
from duo_jax.config import load_config
from duo_jax.coordinators.ppo_jax import make_coord_train
from duo_jax.core.coordination import Costs
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.jax_evaluator import JaxEvaluator
from duo_jax.core.policy import stack_params
from duo_jax.envs.gridworld.family import GAMES, gridworld_family

CANDIDATES = (1, 2, 5, 10)
perf = time.perf_counter


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def agent(game: str, role: str, seed: int) -> Agent:
    """The shipped agent if there is one (speed does not depend on the weights), else a fresh grid_mlp."""
    path = f"agents/{game}/{role}/agent"
    if os.path.isdir(path):
        return load_agent(path)
    return init_agent(jax.random.PRNGKey(seed), "grid_mlp", 7, (7, 7, 3))


def best_of(fn, repeats: int = 3) -> tuple[float, float]:
    """(first call incl. compile, best of `repeats` later calls), seconds."""
    t = perf()
    jax.block_until_ready(fn())
    first = perf() - t
    times = []
    for _ in range(repeats):
        t = perf()
        jax.block_until_ready(fn())
        times.append(perf() - t)
    return first, min(times)


def raw_env(env, batch: int, steps: int, auto_reset: bool = True):
    params = env.default_params()
    reset = jax.vmap(env.reset, in_axes=(0, None))
    if auto_reset:
        step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    else:
        step = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))

    @jax.jit
    def run(key):
        obs, state = reset(jax.random.split(key, batch), params)

        def body(carry, _):
            state, key, total = carry
            key, k_act, k_env = jax.random.split(key, 3)
            action = jax.random.randint(k_act, (batch,), 0, env.num_actions)
            obs, state, reward, *_ = step(jax.random.split(k_env, batch), state, action, params)
            return (state, key, total + reward.sum() + obs.sum()), None

        return jax.lax.scan(body, (state, key, jnp.float32(0)), None, length=steps)[0][2]

    return lambda: run(jax.random.PRNGKey(0))


def evaluators(game: str, batch: int, steps: int):
    family = gridworld_family(ml_collections.ConfigDict({"game": game}))
    N = batch // len(CANDIDATES)

    def make_env(n):
        return family.make_eval_env("test", N, n, 0)

    novice, expert = agent(game, "novice", 0), agent(game, "expert", 1)
    args = ("test", make_env, novice, expert, Costs(0.4, 0.0, 0.01), N, N, steps, False, 1.0, False)
    return Evaluator(*args), JaxEvaluator(*args, jax_split=family.jax_split("test"), seed=0)


def ppo_train(game: str, env, quick: bool):
    c = load_config(str(Path(__file__).resolve().parent.parent / "configs" / "ppo.py"))
    c.policy.feature_type = "dist"
    B, T, iters = (64, 16, 2) if quick else (256, 32, 10)
    c.algorithm.update(num_envs=B, num_steps=T, total_steps=B * T * iters, num_minibatches=4, num_epochs=3)
    novice, expert = agent(game, "novice", 0), agent(game, "expert", 1)
    train = jax.jit(jax.vmap(make_coord_train(c, env, env.default_params(), novice, expert, Costs(0.0, 0.0, 0.05))))
    keys, alphas = jax.random.split(jax.random.PRNGKey(0), 2), jnp.array([0.0, 1.0])
    return (lambda: train(keys, alphas)[1]["expert_fraction"]), 2 * B * T * iters, B


def ppo_suite_row(game: str, quick: bool):
    """The suite's own PPO row (configs/gridworld.py:<game>,ppo, `hidden_dist`): all six alphas vmapped, 256 envs
    x 64 steps, 3 epochs x 8 minibatches; two iterations (quick: one, 64 envs)."""
    from duo_jax import suite

    c = suite.build_config(game, "ppo_hidden_dist", 0, "/nonexistent", ())
    iters = 1 if quick else 2
    if quick:
        c.algorithm.num_envs = 64
    c.algorithm.total_steps = c.algorithm.num_envs * c.algorithm.num_steps * iters
    novice, expert = agent(game, "novice", 0), agent(game, "expert", 1)
    env = gridworld_family(c.env).jax_split("train").env
    train = jax.jit(jax.vmap(make_coord_train(c, env, env.default_params(), novice, expert, Costs(0.0, 0.0, 0.05))))
    A = len(c.sweep.alphas)
    keys, alphas = jax.random.split(jax.random.PRNGKey(0), A), jnp.asarray(c.sweep.alphas, jnp.float32)
    return (lambda: train(keys, alphas)[1]["expert_fraction"]), A * c.algorithm.total_steps, A


def main() -> None:
    a, results = parse_args(__doc__, "gridworld.json", "small batches, for a smoke test")
    batches = (256,) if a.quick else (1024, 8192)
    loop_batch = batches[0]    # the same batch as the first jitted row: a like-for-like comparison
    steps = 32 if a.quick else 128
    policy, params = duo_jax.make_policy("ask_every_k"), stack_params([{"k": k} for k in CANDIDATES])
    load = os.getloadavg()
    rows = []
    for game, (_, test_task) in GAMES.items():
        family = gridworld_family(ml_collections.ConfigDict({"game": game}))
        env = family.jax_split("test").env
        for batch in batches:
            row = {"game": game, "task": test_task, "batch": batch, "steps": steps, "candidates": len(CANDIDATES)}
            first, best = best_of(raw_env(env, batch, steps), 5)
            row["raw"] = {"compile_s": round(first - best, 3), "steps_per_s": batch * steps / best}
            first, best = best_of(raw_env(env, batch, steps, auto_reset=False), 5)
            row["raw_no_reset"] = {"compile_s": round(first - best, 3), "steps_per_s": batch * steps / best}
            host, jitted = evaluators(game, batch, steps)
            first, best = best_of(
                lambda jitted=jitted: jitted.rollout(policy, params, jax.random.PRNGKey(0))["length"], 5
            )
            row["jitted"] = {"compile_s": round(first - best, 3), "steps_per_s": batch * steps / best}
            if batch == batches[0]:
                host_small, _ = evaluators(game, loop_batch, steps)
                first, best = best_of(
                    lambda host_small=host_small: host_small.rollout(policy, params, jax.random.PRNGKey(0))["length"], 1
                )
                row["python_loop"] = {
                    "batch": loop_batch,
                    "compile_s": round(first - best, 3),
                    "steps_per_s": loop_batch * steps / best,
                }
            row["jitted_over_raw"] = row["jitted"]["steps_per_s"] / row["raw"]["steps_per_s"]
            row["jitted_over_raw_no_reset"] = row["jitted"]["steps_per_s"] / row["raw_no_reset"]["steps_per_s"]
            if batch == batches[0]:
                fn, total, envs = ppo_train(game, env, a.quick)
                first, best = best_of(fn, 1)
                row["ppo_train"] = {
                    "envs_per_alpha": envs,
                    "alphas": 2,
                    "compile_s": round(first - best, 3),
                    "steps_per_s": total / best,
                }
                fn, total, alphas = ppo_suite_row(game, a.quick)
                first, best = best_of(fn, 1)
                row["ppo_suite_row"] = {
                    "alphas": alphas,
                    "compile_s": round(first - best, 3),
                    "steps_per_s": total / best,
                }
            rows.append(row)
            log(json.dumps(row))
    out = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_before": load,
        "load_average_after": os.getloadavg(),
        "note": a.note,
        "rows": rows,
    }
    tmp = results.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2))
    os.replace(tmp, results)
    log(f"wrote {results}")
    print(
        f"Gridworld benchmark — jax {jax.__version__} on {out['devices']}, {out['cpus']} CPUs, "
        f"load {load} -> {out['load_average_after']}\n"
    )
    print(
        "| task | batch | raw env steps/s | raw, no auto-reset | jitted coordinated steps/s | ratio to raw (no reset) "
        "| python loop steps/s (batch) | PPO coordinator train steps/s (2 alphas / suite row) "
        "| compile raw / jitted / loop / ppo |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        loop, ppo = r.get("python_loop"), r.get("ppo_train")
        loop_s = f"{loop['steps_per_s']:,.0f} ({loop['batch']})" if loop else "—"
        ppo_s = f"{ppo['steps_per_s']:,.0f} / {r['ppo_suite_row']['steps_per_s']:,.0f}" if ppo else "—"
        comp = f"{r['raw']['compile_s']:.1f} / {r['jitted']['compile_s']:.1f} / " + (
            f"{loop['compile_s']:.1f} / {ppo['compile_s']:.1f} s" if loop else "— / — s"
        )
        print(
            f"| {r['task']} | {r['batch']} | {r['raw']['steps_per_s']:,.0f} "
            f"| {r['raw_no_reset']['steps_per_s']:,.0f} | "
            f"{r['jitted']['steps_per_s']:,.0f} | {r['jitted_over_raw']:.2f} ({r['jitted_over_raw_no_reset']:.2f}) | "
            f"{loop_s} | {ppo_s} | {comp} |"
        )


if __name__ == "__main__":
    main()
