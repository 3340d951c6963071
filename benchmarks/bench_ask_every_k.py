"""Benchmark: the AskEveryK decision (coordinated evaluation on Procgen is in bench_procgen.py).

    python benchmarks/bench_ask_every_k.py [--quick] [--note TEXT]

Measures the decision: the package's `make_policy("ask_every_k").act` under `jax.jit`
   (`jnp.where(step % k == 0, EXPERT, NOVICE)`) against a per-env Python loop written like the
   reference DuoAI tutorial's `AskEveryKPolicy.act` (numpy arrays; the reference writes each
   action into a torch tensor, which is slower, so numpy is the generous baseline). A vectorized
   numpy `np.where` is timed too, for reference. Time per call is the median over repeats, after
   compilation, with `block_until_ready`.

Writes benchmarks/results/local/ask_every_k.json (or --out; the published numbers are
benchmarks/results/ask_every_k.json) and prints Markdown tables. The machine's load average
and CPU count are recorded: numbers taken on a busy machine are lower than on an idle one.
"""
from __future__ import annotations

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from common import loadavg, machine_info, parse_args  # benchmarks/common.py

import duo_jax
from duo_jax.core.policy import EXPERT, NOVICE

K = 5                                  # k of the decision benchmark

perf = time.perf_counter


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


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

        def jit_call(holder=holder):
            a, holder["state"] = act(params, holder["state"], {}, key)
            a.block_until_ready()

        def jit_host_call(holder=holder):
            a, holder["state"] = act(params, holder["state"], {}, key)
            np.asarray(a)

        vec_state = {"step": start.copy()}

        def numpy_vec_call(vec_state=vec_state):
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

def environment_info(quick: bool, note: str) -> dict:
    return machine_info(quick=quick, note=note, reference_note=(
        "The reference loop writes each action into a torch tensor (action = torch.zeros(B).long(); "
        "action[i] = ...); this benchmark uses numpy arrays instead, which is faster per element, so the "
        "speed-up is a lower bound."))


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
    return "\n".join(lines)


def main() -> None:
    args, out = parse_args(__doc__, "ask_every_k.json", "smoke check: small repeats and short runs")

    if args.quick:
        decision_cfg = dict(batch_sizes=(128, 1024, 16384), repeats=5, target_s=0.002)
    else:
        decision_cfg = dict(batch_sizes=(128, 1024, 16384), repeats=30, target_s=0.01)

    result = {"meta": environment_info(args.quick, args.note)}
    result["decision"] = bench_decision(**decision_cfg)
    result["meta"]["loadavg_end"] = loadavg()

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
