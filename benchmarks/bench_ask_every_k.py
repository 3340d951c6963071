"""Benchmark: the AskEveryK decision, and coordinated evaluation on Procgen coinrun.

    python benchmarks/bench_ask_every_k.py [--quick] [--note TEXT]

Measures, in one run:

1. Decision: the package's `make_policy("ask_every_k").act` under `jax.jit`
   (`jnp.where(step % k == 0, EXPERT, NOVICE)`) against a per-env Python loop written like the
   reference DuoAI tutorial's `AskEveryKPolicy.act` (numpy arrays; the reference writes each
   action into a torch tensor, which is slower, so numpy is the generous baseline). A vectorized
   numpy `np.where` is timed too, for reference. Time per call is the median over repeats, after
   compilation, with `block_until_ready`.
2. Coordinated evaluation: `duo_jax.core.evaluator.Evaluator` (ask_every_k, several candidates,
   freshly initialised small_cnn novice and expert) on coinrun's fixed val_sim levels, against raw
   `ProcgenEnv` stepping with random actions on the same levels and batch. Fixed-level setup and
   the first (compiling) step are timed separately and excluded from steps/s. The Evaluator is
   timed by wrapping its `make_env` and (at run time, in this process only) its `make_coord_step`,
   so that each jitted coordination call and each env step are timed individually.

Writes benchmarks/results/ask_every_k.json and prints Markdown tables. The machine's load average
and CPU count are recorded: numbers taken on a busy machine are lower than on an idle one.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import jax
import jax.numpy as jnp

import duo_jax
import duo_jax.core.evaluator as evaluator_module
from duo_jax.agents.agent import init_agent
from duo_jax.core.coordination import Costs
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.policy import EXPERT, NOVICE, stack_params
from duo_jax.envs import procgen as procgen_module
from duo_jax.envs.procgen import NUM_ACTIONS, OBS_SHAPE, make_eval_env

RESULTS = Path(__file__).resolve().parent / "results" / "ask_every_k.json"
GAME, SPLIT = "coinrun", "val_sim"
K = 5                                  # k of the decision benchmark
CANDIDATES = (1, 2, 5, 10)             # k values evaluated together in the coordinated benchmark

perf = time.perf_counter


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------------------------------
# 1. The decision
# ---------------------------------------------------------------------------------------------

class ReferenceAskEveryK:
    """The reference tutorial's per-env loop (DuoAI `AskEveryKPolicy.act`), with numpy arrays."""

    def __init__(self, k: int, step: np.ndarray):
        self.k = k
        self.step = step.copy()            # the reference keeps `np.array([0] * num_envs)` (int64)

    def act(self) -> np.ndarray:
        batch_size = len(self.step)
        action = np.zeros(batch_size, np.int64)   # reference: torch.zeros(batch_size).long()
        for i in range(batch_size):
            if self.step[i] % self.k == 0:
                action[i] = EXPERT
            else:
                action[i] = NOVICE
            self.step[i] += 1
        return action


def time_per_call(call, target_s: float, repeats: int) -> tuple[float, int]:
    """Median over `repeats` of the mean time of `inner` back-to-back calls; `inner` fills ~target_s."""
    call()
    t = perf()
    call()
    one = max(perf() - t, 1e-7)
    inner = max(1, int(target_s / one))
    times = []
    for _ in range(repeats):
        t = perf()
        for _ in range(inner):
            call()
        times.append((perf() - t) / inner)
    return float(np.median(times)), inner


def bench_decision(batch_sizes, repeats: int, target_s: float) -> list[dict]:
    policy = duo_jax.make_policy("ask_every_k")
    act = jax.jit(policy.act)
    params = {"k": jnp.int32(K)}
    key = jax.random.PRNGKey(0)
    rows = []
    for B in batch_sizes:
        start = np.random.default_rng(B).integers(0, 100, B)   # varied counters: both branches taken

        # Correctness first: three calls of each agree exactly.
        ref = ReferenceAskEveryK(K, start)
        state = jnp.asarray(start, jnp.int32)
        for _ in range(3):
            a_jit, state = act(params, state, {}, key)
            if not np.array_equal(np.asarray(a_jit), ref.act()):
                raise AssertionError(f"jit AskEveryK and the reference loop disagree at batch {B}")

        # Compile time of a fresh jit at this batch size (trace + compile + first run); a new policy
        # has new function objects, so nothing is reused from the jit caches.
        fresh = jax.jit(duo_jax.make_policy("ask_every_k").act)
        s0 = policy.init(B)
        t = perf()
        jax.block_until_ready(fresh(params, s0, {}, key))
        compile_s = perf() - t

        holder = {"state": policy.init(B)}

        def jit_call():
            a, holder["state"] = act(params, holder["state"], {}, key)
            a.block_until_ready()

        def jit_host_call():
            a, holder["state"] = act(params, holder["state"], {}, key)
            np.asarray(a)

        vec_state = {"step": start.copy()}

        def numpy_vec_call():
            s = vec_state["step"]
            a = np.where(s % K == 0, EXPERT, NOVICE)
            vec_state["step"] = s + 1
            return a

        ref = ReferenceAskEveryK(K, start)
        loop_s, loop_inner = time_per_call(ref.act, target_s, repeats)
        vec_s, _ = time_per_call(numpy_vec_call, target_s, repeats)
        jit_s, jit_inner = time_per_call(jit_call, target_s, repeats)
        jit_host_s, _ = time_per_call(jit_host_call, target_s, repeats)
        row = {
            "batch": B,
            "k": K,
            "loop_s_per_call": loop_s,
            "loop_decisions_per_s": B / loop_s,
            "numpy_vectorized_s_per_call": vec_s,
            "numpy_vectorized_decisions_per_s": B / vec_s,
            "jit_s_per_call": jit_s,
            "jit_decisions_per_s": B / jit_s,
            "jit_to_host_s_per_call": jit_host_s,
            "jit_compile_s": compile_s,
            "speedup_jit_vs_loop": loop_s / jit_s,
            "repeats": repeats,
            "inner_calls": {"loop": loop_inner, "jit": jit_inner},
            "loadavg": loadavg(),
        }
        log(f"decision B={B}: loop {loop_s*1e3:.3f} ms, np.where {vec_s*1e6:.1f} us, "
            f"jit {jit_s*1e6:.1f} us -> x{row['speedup_jit_vs_loop']:.0f}")
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# 2. Coordinated evaluation vs raw Procgen stepping
# ---------------------------------------------------------------------------------------------

class Probe:
    """Collects the timings of one Evaluator.evaluate call."""

    def __init__(self):
        self.setup_s = 0.0
        self.jit_s: list[float] = []
        self.env_s: list[float] = []
        self.env_end: list[float] = []


class TimedEnv:
    def __init__(self, env, probe: Probe):
        self._env, self._probe = env, probe
        self.num_envs = env.num_envs

    def reset(self):
        return self._env.reset()

    def step(self, action):
        t = perf()
        out = self._env.step(action)
        t1 = perf()
        self._probe.env_s.append(t1 - t)
        self._probe.env_end.append(t1)
        return out


@contextlib.contextmanager
def timed_coord_step(probe_ref: dict):
    """Wraps evaluator.make_coord_step (in this process) so each jitted call is timed, synchronously.

    The Evaluator calls `jax.device_get` on the outputs right after each call, so blocking here
    does not change what it waits for.
    """
    original = evaluator_module.make_coord_step

    def wrapped(*args, **kwargs):
        init, step = original(*args, **kwargs)

        def step_timed(*a):
            t = perf()
            out = jax.block_until_ready(step(*a))
            probe_ref["probe"].jit_s.append(perf() - t)
            return out

        return init, step_timed

    evaluator_module.make_coord_step = wrapped
    try:
        yield
    finally:
        evaluator_module.make_coord_step = original


def cold_levels() -> None:
    """Forget captured level states, so each setup time includes capturing them."""
    procgen_module._level_state.cache_clear()


def bench_raw(N: int, C: int, target_s: float, min_steps: int, warmup: int = 5) -> dict:
    B = N * C
    cold_levels()
    t = perf()
    env = make_eval_env(GAME, SPLIT, N, N, C, 0, 0)
    env.reset()
    setup_s = perf() - t
    rng = np.random.default_rng(0)
    for _ in range(warmup):
        env.step(rng.integers(0, NUM_ACTIONS, B, dtype=np.int32))
    steps, t0 = 0, perf()
    while steps < min_steps or perf() - t0 < target_s:
        env.step(rng.integers(0, NUM_ACTIONS, B, dtype=np.int32))
        steps += 1
    dt = perf() - t0
    return {
        "slots": B, "setup_s": setup_s, "steps": steps, "measured_s": dt,
        "env_steps_per_s": B * steps / dt, "s_per_batched_step": dt / steps, "loadavg": loadavg(),
    }


def run_evaluate(evaluator: Evaluator, params, probe_ref: dict) -> tuple[Probe, float, list[dict]]:
    probe = Probe()
    probe_ref["probe"] = probe
    t = perf()
    summaries = evaluator.evaluate(duo_jax.make_policy("ask_every_k"), params, jax.random.PRNGKey(0))
    return probe, perf() - t, summaries


def bench_coordinated(N: int, C: int, target_s: float, min_steps: int, probe_steps: int) -> dict:
    B = N * C
    k_nov, k_exp = jax.random.split(jax.random.PRNGKey(1))
    novice = init_agent(k_nov, "small_cnn", NUM_ACTIONS, OBS_SHAPE)
    expert = init_agent(k_exp, "small_cnn", NUM_ACTIONS, OBS_SHAPE)
    params = stack_params([{"k": np.int32(k)} for k in CANDIDATES[:C]])
    probe_ref: dict = {}

    def make_env(num_envs, repeats, round_idx):
        t = perf()
        env = make_eval_env(GAME, SPLIT, N, num_envs, repeats, round_idx, 0)
        probe_ref["probe"].setup_s += perf() - t
        return TimedEnv(env, probe_ref["probe"])

    def evaluator(max_num_steps: int) -> Evaluator:
        return Evaluator(SPLIT, make_env, novice, expert, Costs(0.5, 0.0, 0.01), num_episodes=N, num_envs=N,
                         max_num_steps=max_num_steps, progress=False)

    with timed_coord_step(probe_ref):
        # Short first call: cold level setup + compile, and a per-step estimate to size the main run.
        cold_levels()
        p1, total1, _ = run_evaluate(evaluator(probe_steps), params, probe_ref)
        per_step = float(np.median(np.diff(p1.env_end))) if len(p1.env_end) > 1 else 0.1
        max_steps = int(min(1000, max(min_steps, target_s / per_step)))
        # Main call: a new Evaluator.evaluate, levels cold again so its setup is comparable.
        cold_levels()
        p2, total2, summaries = run_evaluate(evaluator(max_steps), params, probe_ref)

    n = len(p2.env_end)
    region = p2.env_end[-1] - p2.env_end[0]        # from the end of env step 1 to the end of step n
    steady = n - 1
    jit_steady = float(np.sum(p2.jit_s[1:n]))
    env_steady = float(np.sum(p2.env_s[1:n]))
    return {
        "slots": B, "candidates": C, "episodes_per_candidate": N, "k_values": list(CANDIDATES[:C]),
        "max_num_steps": max_steps, "steps_run": n, "steady_steps": steady, "measured_s": region,
        "env_steps_per_s": B * steady / region,
        "s_per_batched_step": region / steady,
        "setup_s": p2.setup_s,
        "first_call_s": p2.jit_s[0],                       # trace + compile + first run
        "evaluate_total_s": total2,
        "split": {
            "jit_call_s_per_step": jit_steady / steady,    # novice + expert + coordinator, incl. obs transfer
            "env_step_s_per_step": env_steady / steady,
            "other_host_s_per_step": (region - jit_steady - env_steady) / steady,
            "jit_fraction": jit_steady / region,
            "env_fraction": env_steady / region,
            "other_fraction": 1 - (jit_steady + env_steady) / region,
        },
        "probe_call": {"max_num_steps": probe_steps, "setup_s": p1.setup_s, "first_call_s": p1.jit_s[0],
                       "evaluate_total_s": total1},
        "expert_fraction": [round(s["expert_fraction"], 4) for s in summaries],
        "stopped_early_all_episodes_done": n < max_steps,
        "loadavg": loadavg(),
    }


# ---------------------------------------------------------------------------------------------

def environment_info(quick: bool, note: str) -> dict:
    def version(dist):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "note": note,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        "numpy": np.__version__,
        "procgen": version("procgen-mirror") or version("procgen"),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_start": loadavg(),
        "reference_note": ("The reference loop writes each action into a torch tensor "
                           "(action = torch.zeros(B).long(); action[i] = ...); this benchmark uses numpy "
                           "arrays instead, which is faster per element, so the speed-up is a lower bound."),
    }


def markdown(result: dict) -> str:
    m = result["meta"]
    lines = [
        f"AskEveryK benchmark — jax {m['jax']} on {m['backend']} ({', '.join(m['devices'])}), "
        f"{m['cpu_count']} CPUs, load average {m['loadavg_start']} -> {m['loadavg_end']}"
        + (" (quick)" if m["quick"] else ""),
        "",
        f"### Decision (k={K}; median time per call after compile)",
        "",
        "| batch | Python loop (reference) | numpy np.where | jit act | jit decisions/s | speed-up jit vs loop |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["decision"]:
        lines.append(
            f"| {r['batch']} | {r['loop_s_per_call']*1e3:.3f} ms ({r['loop_decisions_per_s']:.3g}/s) "
            f"| {r['numpy_vectorized_s_per_call']*1e6:.1f} µs | {r['jit_s_per_call']*1e6:.1f} µs "
            f"| {r['jit_decisions_per_s']:.3g} | {r['speedup_jit_vs_loop']:.0f}x |"
        )
    lines += [
        "",
        f"### Coordinated evaluation on {GAME} ({SPLIT} fixed levels), env-steps/s (slot-steps)",
        "",
        "| slots | candidates | raw Procgen (random actions) | Evaluator (ask_every_k, small_cnn x2) | ratio "
        "| jit call / env step / other per step | setup (raw / eval) | first call (compile) | steps (raw / eval) |",
        "|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    for raw, co in zip(result["procgen_raw"], result["coordinated"]):
        s = co["split"]
        lines.append(
            f"| {co['slots']} | {co['candidates']} | {raw['env_steps_per_s']:,.0f} | {co['env_steps_per_s']:,.0f} "
            f"| {co['env_steps_per_s'] / raw['env_steps_per_s']:.2f} "
            f"| {s['jit_call_s_per_step']*1e3:.1f} / {s['env_step_s_per_step']*1e3:.1f} / "
            f"{s['other_host_s_per_step']*1e3:.1f} ms ({s['jit_fraction']:.0%} / {s['env_fraction']:.0%} / "
            f"{s['other_fraction']:.0%}) "
            f"| {raw['setup_s']:.2f} s / {co['setup_s']:.2f} s | {co['first_call_s']:.2f} s "
            f"| {raw['steps']} / {co['steady_steps']} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke check: small repeats and short runs")
    ap.add_argument("--note", default="", help="free text stored in the results (e.g. what else ran)")
    ap.add_argument("--out", default=None, help=f"results JSON path (default {RESULTS}; with --quick, *.quick.json)")
    args = ap.parse_args()

    # Import procgen and create one env once here, so the library's one-off load is not counted as
    # level setup of the first measurement.
    t = perf()
    procgen_module._gym3_env(num=1, env_name=GAME, num_levels=1, start_level=0, distribution_mode="easy")
    procgen_first_env_s = perf() - t

    if args.quick:
        decision_cfg = dict(batch_sizes=(128, 1024, 16384), repeats=5, target_s=0.002)
        slot_sizes, env_target_s, min_steps, probe_steps = (64,), 2.0, 10, 4
    else:
        decision_cfg = dict(batch_sizes=(128, 1024, 16384), repeats=30, target_s=0.01)
        slot_sizes, env_target_s, min_steps, probe_steps = (64, 256), 20.0, 50, 8
    C = len(CANDIDATES)

    result = {"meta": environment_info(args.quick, args.note)}
    result["meta"]["procgen_import_and_first_env_s"] = procgen_first_env_s
    result["decision"] = bench_decision(**decision_cfg)
    result["procgen_raw"], result["coordinated"] = [], []
    for B in slot_sizes:
        N = B // C
        raw = bench_raw(N, C, env_target_s, min_steps)
        log(f"raw procgen B={B}: {raw['env_steps_per_s']:,.0f} env-steps/s ({raw['steps']} steps)")
        co = bench_coordinated(N, C, env_target_s, min_steps, probe_steps)
        log(f"coordinated B={B}: {co['env_steps_per_s']:,.0f} env-steps/s ({co['steady_steps']} steps), "
            f"jit {co['split']['jit_fraction']:.0%}, env {co['split']['env_fraction']:.0%}")
        result["procgen_raw"].append(raw)
        result["coordinated"].append(co)
    result["meta"]["loadavg_end"] = loadavg()

    out = Path(args.out) if args.out else (RESULTS.with_suffix(".quick.json") if args.quick else RESULTS)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
