"""Benchmark: the Procgen path — coordinated evaluation and agent PPO training, on whatever JAX sees.

    python benchmarks/bench_procgen.py [--quick] [--reference PATH] [--reps 3] [--note TEXT] [--out PATH] [--overwrite]

1. Forward-pass ceilings: one agent's jitted forward pass at each batch size (images/s), the most
   counted steps/s an evaluation could reach if it did nothing but run the novice once per step.
2. Coordinated evaluation: the real `Evaluator` on coinrun's hard test levels, ask_every_k (k = 5 for
   one candidate; k in 1, 2, 5, 10 for four), with the shipped small_cnn agents or freshly initialised
   IMPALA CNNs, at 64 and 256 slots per candidate. Counted steps/s (steps of episodes that count),
   executed slot-steps/s (every slot stepped, counted or not), their ratio `useful_step_fraction`, and
   counted steps/s as a fraction of the ceiling. The wall time includes everything after a first
   (compiling) evaluation and the capture of the levels' start states (timed apart): loading levels into
   slots, compaction and bookkeeping.
3. Overlap: the env stepped (Procgen's own threads, between `act` and `observe`) while the novice's forward
   pass runs, against the two one after the other.
4. Agent PPO training: `duo_jax.agents.ppo.train` on coinrun's train split (the configs/train_agent.py
   settings: 64 envs x 256 steps, 3 epochs x 8 minibatches), env-steps/s of the iterations after the
   first (compiling) one: `{"model": ..., "ppo_env_steps_per_s": ...}` per model.
5. Against the PyTorch reference (`--reference PATH`, a checkout of DuoAI, khanhptnk/yrc; torch from
   `pip install -e .[reference]`): the IMPALA setting (1 candidate, 64 slots, 64 episodes, k = 5, 256-step
   cap), duo_jax and the reference's own evaluator (benchmarks/reference_duoai.py, in a subprocess)
   timed in turn `--reps` times; medians and their ratio. Without `--reference` the comparison is left out.

On a GPU (or any accelerator) it also prints a table of the device's numbers. Without a Procgen package (the
GPU machine's image: procgen-mirror pins numpy<2, procgen-gym has wheels for Python 3.13 only), or with
`--ceilings-only`, it runs the forward-pass ceilings alone and records why the rest was skipped.

Writes benchmarks/results/local/procgen.json (or --out; the published numbers are benchmarks/results/procgen.json)
with the machine's load and the library versions, and prints a Markdown table.
"""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from common import loadavg, machine_info, output, parser  # benchmarks/common.py

import duo_jax
from duo_jax.agents import ppo
from duo_jax.agents.agent import init_agent, load_agent
from duo_jax.core.coordination import Costs
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.policy import stack_params
from duo_jax.envs import procgen_compat
from duo_jax.envs.procgen import (
    NUM_ACTIONS,
    OBS_SHAPE,
    SPLITS,
    ProcgenEnv,
    _level_state,
    make_eval_env,
    split_levels,
)

REPO = Path(__file__).resolve().parent.parent
GAME, SPLIT = "coinrun", "test"
perf = time.perf_counter
# (model, candidates, slots per candidate, episodes per candidate); the IMPALA rows with one candidate are
# the setting measured against the PyTorch reference in issue 12 (64 envs, ask_every_k k=5, 256-step cap).
EVALUATIONS = {
    False: [("small_cnn", 1, 64, 1024), ("small_cnn", 1, 256, 1024), ("small_cnn", 4, 64, 512),
            ("small_cnn", 4, 256, 1024), ("impala_cnn", 1, 64, 64), ("impala_cnn", 1, 64, 256),
            ("impala_cnn", 4, 64, 128)],
    True: [("small_cnn", 1, 64, 64), ("impala_cnn", 1, 64, 64)],
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def agents(model: str):
    if model == "small_cnn":
        return load_agent(str(REPO / "agents/coinrun/novice/agent")), load_agent(
            str(REPO / "agents/coinrun/expert/agent")
        )
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    return init_agent(k1, model, NUM_ACTIONS, OBS_SHAPE), init_agent(k2, model, NUM_ACTIONS, OBS_SHAPE)


def forward_ceiling(agent, batch: int, target_s: float) -> float:
    """Images/s of one jitted forward pass at this batch (median of repeats)."""
    fwd = jax.jit(agent.apply)
    obs = jnp.asarray(np.random.default_rng(0).integers(0, 255, (batch, *OBS_SHAPE)), jnp.uint8)
    jax.block_until_ready(fwd(agent.params, obs))
    times = []
    t_end = perf() + target_s
    while perf() < t_end or len(times) < 3:
        t = perf()
        jax.block_until_ready(fwd(agent.params, obs))
        times.append(perf() - t)
    return batch / float(np.median(times))


def procgen_missing() -> str | None:
    """Why no Procgen env can run here (no package installed), or None."""
    try:
        procgen_compat.package()
    except ImportError as e:
        return str(e)
    return None


def loaded_env(batch: int):
    """`batch` slots playing the split's first `batch` fixed levels."""
    env = make_eval_env(GAME, SPLIT, batch, batch, 0)
    env.load(np.arange(batch), np.arange(batch))
    return env


def env_rate(batch: int, target_s: float) -> float:
    """Env-steps/s of the fixed-level env alone at this batch, random actions."""
    env = loaded_env(batch)
    rng = np.random.default_rng(0)
    steps, t0 = 0, perf()
    while perf() - t0 < target_s or steps < 5:
        env.step(rng.integers(0, NUM_ACTIONS, batch, dtype=np.int32))
        steps += 1
    return batch * steps / (perf() - t0)


def overlap_probe(batch: int, reps: int) -> dict:
    """Does stepping Procgen (its C++ threads run between `act` and `observe`) while the novice's forward pass
    runs save time on this machine? Times each alone, and interleaved: act, forward pass, observe."""
    agent = agents("small_cnn")[0]
    fwd = jax.jit(agent.apply)
    env = loaded_env(batch)
    obs, action = env.observe(), np.zeros(batch, np.int32)
    jax.block_until_ready(fwd(agent.params, obs))

    def timed(body) -> float:
        t = perf()
        for _ in range(reps):
            body()
        return (perf() - t) / reps

    f = timed(lambda: jax.block_until_ready(fwd(agent.params, obs)))
    e = timed(lambda: env.step(action))

    def both():
        env._env.act(action)
        jax.block_until_ready(fwd(agent.params, obs))
        env._env.observe()

    o = timed(both)
    return {
        "batch": batch,
        "forward_s": f,
        "env_step_s": e,
        "serial_s": f + e,
        "overlapped_s": o,
        "saving": 1 - o / (f + e),
        "loadavg": loadavg(),
    }


def evaluation_timer(model: str, C: int, N: int, episodes: int, max_num_steps: int):
    """Compiles the evaluation (a first run at `N` episodes) and captures the levels' start states; returns
    (`timed() -> row`, the first call's and the capture's seconds)."""
    novice, expert = agents(model)
    ks = (5,) if C == 1 else (1, 2, 5, 10)
    params = stack_params([{"k": np.int32(k)} for k in ks])

    def evaluator(num_episodes):
        return Evaluator(
            SPLIT,
            lambda k: make_eval_env(GAME, SPLIT, num_episodes, k, 0),
            novice,
            expert,
            Costs(0.0, 0.0, 0.0),
            num_episodes=num_episodes,
            num_envs=N,
            max_num_steps=max_num_steps,
            progress=False,
        )

    policy = duo_jax.make_policy("ask_every_k")
    t = perf()
    evaluator(N).evaluate(policy, params, jax.random.PRNGKey(0))  # compiles every batch size the run will use
    first_s = perf() - t
    t = perf()
    for level in split_levels(SPLIT, episodes, 0):  # start states are captured once per level and process
        _level_state(GAME, SPLITS[SPLIT].distribution_mode, int(level))
    capture_s = perf() - t

    def timed(seed: int = 1) -> dict:
        ev = evaluator(episodes)
        t = perf()
        summaries = ev.evaluate(policy, params, jax.random.PRNGKey(seed))
        wall = perf() - t
        return row(ev.last_stats, summaries, wall)

    def row(st, summaries, wall) -> dict:
        return {
            "model": model,
        "candidates": C,
        "slots_per_candidate": N,
        "episodes_per_candidate": episodes,
        "k_values": list(ks),
        "max_num_steps": max_num_steps,
            "wall_s": wall,
            "first_call_s": first_s,
            "level_capture_s": capture_s,
            "counted_steps": st["counted_steps"],
            "executed_slot_steps": st["executed_slot_steps"],
            "useful_step_fraction": st["useful_step_fraction"],
            "counted_steps_per_s": st["counted_steps"] / wall,
            "executed_slot_steps_per_s": st["executed_slot_steps"] / wall,
            "expert_fraction": [round(s["expert_fraction"], 4) for s in summaries],
            "loadavg": loadavg(),
        }

    return timed


def bench_evaluation(model: str, C: int, N: int, episodes: int, max_num_steps: int) -> dict:
    return evaluation_timer(model, C, N, episodes, max_num_steps)()


def versus_reference(reference: str, reps: int) -> dict:
    """duo_jax and the reference's evaluator on the IMPALA setting, timed in turn `reps` times (the reference
    in a subprocess that runs one evaluation per line it reads); medians and their ratio."""
    N = episodes = 64
    timed = evaluation_timer("impala_cnn", 1, N, episodes, 256)
    cmd = [sys.executable, str(REPO / "benchmarks/reference_duoai.py"), "--reference", reference, "--serve",
           "--num-envs", str(N), "--episodes", str(episodes), "--k", "5", "--max-num-steps", "256"]
    env = {**os.environ, "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)

    def reference_run() -> dict:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    try:
        if "ready" not in json.loads(proc.stdout.readline() or "{}"):
            raise RuntimeError(f"the reference did not start: {' '.join(cmd)}")
        ours, theirs = [], []
        for rep in range(reps):
            ours.append(timed(seed=rep))
            theirs.append(reference_run())
            log(f"vs reference, run {rep}: duo_jax {ours[-1]['counted_steps_per_s']:,.0f}, reference "
                f"{theirs[-1]['counted_steps_per_s']:,.0f} counted steps/s (load {loadavg()})")
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    ours_med = float(np.median([r["counted_steps_per_s"] for r in ours]))
    theirs_med = float(np.median([r["counted_steps_per_s"] for r in theirs]))
    return {
        "setting": {"game": GAME, "split": SPLIT, "policy": "ask_every_k", "k": 5, "slots": N, "episodes": episodes,
                    "max_num_steps": 256, "agents": "freshly initialised IMPALA CNNs"},
        "reference": {"path": reference, "commit": _commit(reference), "runs": theirs,
                      "counted_steps_per_s": theirs_med},
        "duo_jax": {"runs": ours, "counted_steps_per_s": ours_med,
                    "executed_slot_steps_per_s": float(np.median([r["executed_slot_steps_per_s"] for r in ours])),
                    "useful_step_fraction": float(np.median([r["useful_step_fraction"] for r in ours]))},
        "ratio": ours_med / theirs_med,
    }


def _commit(path: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def bench_training(model: str, num_envs: int, num_steps: int, iterations: int) -> dict:
    """Env-steps/s of `iterations` PPO iterations, the trainer as shipped: the time of a run of 1 + iterations
    minus that of a run of 1 (both compile the same functions), after a discarded warm-up run."""
    config = runpy.run_path(str(REPO / "configs/train_agent.py"))["get_config"]()
    config.model.name = model
    config.ppo.num_envs, config.ppo.num_steps = num_envs, num_steps
    config.ppo.checkpoint_every = 10**9
    per_iter = num_envs * num_steps
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (0, 1, 1 + iterations):
            config.out_dir = os.path.join(tmp, f"run{n}")
            config.ppo.total_steps = max(n, 1) * per_iter
            t = perf()
            ppo.train(config, lambda game, split, k, seed: ProcgenEnv(game, split, k, seed=seed))
            times[n] = perf() - t
    dt = times[1 + iterations] - times[1]
    return {
        "model": model,
        "num_envs": num_envs,
        "num_steps": num_steps,
        "num_epochs": config.ppo.num_epochs,
        "num_minibatches": config.ppo.num_minibatches,
        "iterations_timed": iterations,
        "ppo_env_steps_per_s": iterations * per_iter / dt,
        "first_iteration_s": times[1],
        "loadavg": loadavg(),
    }


def markdown(r: dict) -> str:
    m = r["meta"]
    title = (f"Procgen benchmark — jax {m['jax']} on {m['backend']}, {m['cpu_count']} CPUs, "
             f"load {m['loadavg_start']} -> {m['loadavg_end']}" + (" (quick)" if m["quick"] else ""))
    ceilings = ["", "| model | batch | forward ceiling (img/s) |", "|---|---:|---:|"]
    ceilings += [f"| {c['model']} | {c['batch']} | {c['images_per_s']:,.0f} |" for c in r["forward_ceilings"]]
    if r.get("skipped"):
        return "\n".join([title, *ceilings, "", f"Skipped: {r['skipped']}"])
    lines = [
        title,
        "",
        "| model | candidates | slots/cand. | episodes/cand. | counted steps/s | executed slot-steps/s "
        "| useful fraction | forward ceiling (img/s) | counted / ceiling | ceiling with env steps | counted / it "
        "| expert fraction |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in r["evaluation"]:
        lines.append(
            f"| {e['model']} | {e['candidates']} | {e['slots_per_candidate']} | {e['episodes_per_candidate']} "
            f"| {e['counted_steps_per_s']:,.0f} | {e['executed_slot_steps_per_s']:,.0f} "
            f"| {e['useful_step_fraction']:.3f} | {e['ceiling_images_per_s']:,.0f} "
            f"| {e['fraction_of_ceiling']:.2f} | {e['ceiling_with_env_steps_per_s']:,.0f} "
            f"| {e['fraction_of_ceiling_with_env']:.2f} | {e['expert_fraction']} |"
        )
    lines += [
        "",
        "| batch | forward pass | env step | serial | env stepped during the forward pass |",
        "|---:|---:|---:|---:|---:|",
    ]
    for o in r["overlap"]:
        lines.append(
            f"| {o['batch']} | {o['forward_s'] * 1e3:.1f} ms | {o['env_step_s'] * 1e3:.1f} ms "
            f"| {o['serial_s'] * 1e3:.1f} ms | {o['overlapped_s'] * 1e3:.1f} ms ({o['saving']:+.0%}) |"
        )
    lines += ["", "| model | envs x steps | epochs x minibatches | PPO env-steps/s |", "|---|---|---|---:|"]
    for t in r["training"]:
        lines.append(
            f"| {t['model']} | {t['num_envs']} x {t['num_steps']} | {t['num_epochs']} x "
            f"{t['num_minibatches']} | {t['ppo_env_steps_per_s']:,.0f} |"
        )
    v = r.get("versus_reference")
    if v:
        def runs(side):
            return ", ".join(f"{x['counted_steps_per_s']:,.0f}" for x in v[side]["runs"])

        lines += [
            "",
            "| IMPALA, 64 envs, k = 5 | counted steps/s (median) | runs |",
            "|---|---:|---|",
            f"| reference DuoAI (torch {v['reference']['runs'][0]['torch']}) "
            f"| {v['reference']['counted_steps_per_s']:,.0f} "
            f"| {runs('reference')} |",
            f"| duo_jax | {v['duo_jax']['counted_steps_per_s']:,.0f} "
            f"| {runs('duo_jax')} |",
            f"| ratio | {v['ratio']:.2f}x | |",
        ]
    return "\n".join(lines)


def gpu_table(r: dict) -> str:
    """The accelerator's numbers, for a session that has one for a few minutes."""
    m = r["meta"]
    lines = [f"On {m['devices'][0]} ({m['backend']}):", "", "| what | setting | rate |", "|---|---|---:|"]
    for c in r["forward_ceilings"]:
        lines.append(f"| forward pass, images/s | {c['model']}, batch {c['batch']} | {c['images_per_s']:,.0f} |")
    for e in r["evaluation"]:
        lines.append(f"| evaluation, counted steps/s | {e['model']}, {e['candidates']} x {e['slots_per_candidate']} "
                     f"slots | {e['counted_steps_per_s']:,.0f} |")
    for t in r["training"]:
        lines.append(f"| PPO training, env-steps/s | {t['model']}, {t['num_envs']} x {t['num_steps']} "
                     f"| {t['ppo_env_steps_per_s']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = parser(__doc__, "procgen.json")
    ap.add_argument("--quick", action="store_true", help="smoke check: few episodes, one training iteration")
    ap.add_argument("--note", default="", help="free text stored in the results (e.g. what else ran)")
    ap.add_argument("--reference", default=None, help="a checkout of the PyTorch reference (khanhptnk/yrc)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved runs of each side against the reference")
    ap.add_argument("--ceilings-only", action="store_true",
                    help="the forward-pass ceilings alone (what runs without a Procgen package; automatic then)")
    args = ap.parse_args()
    out = output(args, "procgen.quick.json" if args.quick else "procgen.json")
    if args.reference and not (Path(args.reference) / "yrc" / "core" / "evaluator.py").exists():
        sys.exit(f"error: --reference {args.reference} is not a checkout of khanhptnk/yrc (no yrc/core/evaluator.py).")

    skipped = "--ceilings-only" if args.ceilings_only else procgen_missing()
    if skipped and args.reference:
        sys.exit(f"error: --reference needs a Procgen env, and none runs here: {skipped}")
    result = {"meta": machine_info(quick=args.quick, note=args.note), "forward_ceilings": [], "evaluation": [],
              "overlap": [], "training": []}
    if skipped:
        result["skipped"] = f"evaluation, overlap and training (they step Procgen): {skipped}"
        log(f"skipped {result['skipped']}")
    ceilings, envs = {}, {}
    target = 0.5 if args.quick else 3.0
    for model, C, N, episodes in EVALUATIONS[args.quick]:
        key = (model, C * N)
        if key not in ceilings:
            ceilings[key] = forward_ceiling(agents(model)[0], C * N, target)
            result["forward_ceilings"].append({"model": model, "batch": C * N, "images_per_s": ceilings[key],
                                               "loadavg": loadavg()})
            log(f"forward {model} batch {C * N}: {ceilings[key]:,.0f} images/s")
        if skipped:
            continue
        if C * N not in envs:
            envs[C * N] = env_rate(C * N, target)
        row = bench_evaluation(model, C, N, episodes, 256)
        row["ceiling_images_per_s"] = ceilings[key]
        row["fraction_of_ceiling"] = row["counted_steps_per_s"] / ceilings[key]
        # On a CPU the env and the network share the cores: one env step plus one forward pass per step.
        row["env_steps_per_s_alone"] = envs[C * N]
        row["ceiling_with_env_steps_per_s"] = 1 / (1 / ceilings[key] + 1 / envs[C * N])
        row["fraction_of_ceiling_with_env"] = row["counted_steps_per_s"] / row["ceiling_with_env_steps_per_s"]
        log(
            f"eval {model} C={C} N={N} E={episodes}: {row['counted_steps_per_s']:,.0f} counted/s, "
            f"useful {row['useful_step_fraction']:.3f}, {row['fraction_of_ceiling']:.2f} of ceiling"
        )
        result["evaluation"].append(row)
    if args.reference:
        result["versus_reference"] = versus_reference(args.reference, args.reps)
    result["overlap"] = [] if skipped else [overlap_probe(b, 10 if args.quick else 50) for b in (64, 256)]
    for model, steps, iters in () if skipped else (("small_cnn", 256, 1 if args.quick else 3),
                                                   ("impala_cnn", 16, 1 if args.quick else 2)):
        row = bench_training(model, 64, steps, iters)
        log(f"train {model}: {row['ppo_env_steps_per_s']:,.0f} env-steps/s")
        result["training"].append(row)
    result["meta"]["loadavg_end"] = loadavg()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(markdown(result))
    if result["meta"]["backend"] != "cpu":
        print("\n" + gpu_table(result))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
