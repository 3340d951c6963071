"""Benchmark: the whole gridworld protocol, `python -m duo_jax.suite --env <game>`, from scratch.

    python benchmarks/bench_suite.py [--envs distshift,lavagap,doorkey] [--seeds 0,1,2] [--quick] [--methods ROWS]
                                     [--keep DIR] [--note TEXT] [--out PATH] [--overwrite] [--merge]

For each game, the suite runs as a user runs it (one process: every row and seed, then the report) into a
fresh temporary directory, so nothing is reused: no finished sweep, no compiled program in the persistent
cache. Records its wall time and, from each sweep.json's own wall_time_s, the seconds per family of rows
(simple: the five baselines, logit, ood, ppo, skyline).

Then the ceiling: the coordinator PPO chunk of each feature type the suite trains (the rows' own config:
all alphas vmapped, `num_envs` x `num_steps` per iteration), compiled first, timed warm over a few
iterations (the best of two): env steps, both agents' and the coordinator's forward and backward passes, nothing else.
That cost per iteration times the iterations the protocol trains (rows x seeds x iterations) is the least
time any run of these rows can take on this machine; `suite_over_ceiling` is the suite's wall time over it.

`--keep DIR`: the suite runs into DIR (which must be empty or absent) instead of a temporary directory, and its
sweeps and report stay there: a timed run from scratch that is also a protocol run
(`DIR/<game>/seed_<s>/<row>_sweep`, `DIR/reports/<game>`).

`--quick`: one row per family, seed 0, 64 test episodes and two PPO iterations (a smoke test of the
benchmark, not a measurement of the protocol); `--methods` runs only the rows it names (with --quick,
among the quick rows: `--quick --methods always_novice` is benchmarks/device_check.sh's CI smoke test).
Writes benchmarks/results/local/suite.json (or --out; the published numbers are benchmarks/results/suite.json)
and prints a Markdown table. Each game's entry lists its `runs`, each with its seeds, wall time, load and `meta`
(machine, versions). A whole suite takes hours here, so `--merge` adds this run to the --out file: other games
are kept, and a game already there on other seeds is combined with it (wall times, seconds per family and
ceilings add up; `--seeds 1 --merge` after `--seeds 0`); a seed measured again replaces its game's entry.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import loadavg, machine_info, output, parser  # benchmarks/common.py

REPO = Path(__file__).resolve().parent.parent

FAMILIES = ("simple", "logit", "ood", "ppo", "skyline")
QUICK_ROWS = "always_novice,logit_max_logit,ood_hidden"
QUICK_PPO_ROWS = "ppo_dist,skyline_dist"
QUICK = ("evaluation.num_episodes=64", "evaluation.num_envs=64")          # --override=FIELD=VALUE, quick runs
QUICK_PPO = ("algorithm.total_steps=32768", "algorithm.eval_every=1")
CEILING_ITERS, CEILING_REPEATS = 2, 2  # the best of two warm chunks of two iterations


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def family(method: str) -> str:
    head = method.split("_")[0]
    return head if head in FAMILIES else "simple"


def run_suite(env: str, seeds: str, out: str, quick: bool, methods: str | None = None) -> float:
    """Wall seconds of the suite command(s), start-up and report included."""
    base = [sys.executable, "-m", "duo_jax.suite", "--env", env, "--seeds", seeds, "--out", out,
            "--report_dir", os.path.join(out, "reports")]
    quick_rows = [(QUICK_ROWS, QUICK), (QUICK_PPO_ROWS, QUICK + QUICK_PPO)]
    if methods:
        quick_rows = [(",".join(r for r in rows.split(",") if r in methods.split(",")), o) for rows, o in quick_rows]
        quick_rows = [(rows, o) for rows, o in quick_rows if rows]
    commands = [base + ["--methods", rows, *(["--no_report"] if i < len(quick_rows) - 1 else []),
                        *[f"--override={o}" for o in overrides]]
                for i, (rows, overrides) in enumerate(quick_rows)] if quick else [
                    base + (["--methods", methods] if methods else [])]
    start = time.perf_counter()
    for command in commands:
        log(" ".join(command))
        done = subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            sys.exit(f"error: the suite on {env} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def sweeps(out: str, env: str) -> list[dict]:
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, env, "seed_*", "*_sweep", "sweep.json")))]


def ceiling(env: str, rows: list[dict], quick: bool) -> dict:
    """Warm seconds per PPO iteration of each trained feature type, and the protocol's training at that rate."""
    import jax
    import jax.numpy as jnp

    from duo_jax import suite
    from duo_jax.agents.ppo import num_iterations
    from duo_jax.coordinators.ppo_jax import make_coord_trainer
    from duo_jax.experiment import setup

    trained = collections.Counter(r["method"] for r in rows if family(r["method"]) in ("ppo", "skyline"))
    per_feature, total_s, total_steps = {}, 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for method, runs in sorted(trained.items()):
            config = suite.build_config(env, method, 0, tmp, (*QUICK, *QUICK_PPO) if quick else ())
            s = setup(config)
            task = s.task(config.algorithm.train_split)
            split = task.env.jax_split(task.split)
            init, iterate = make_coord_trainer(config, split.env, split.env_params, task.novice, task.expert,
                                               task.costs)
            alphas = jnp.asarray(config.sweep.alphas, jnp.float32)

            @functools.partial(jax.jit, static_argnums=1)
            def chunk(runner, n, iterate=iterate, alphas=alphas):
                return jax.lax.scan(lambda r, _: jax.vmap(iterate)(r, alphas), runner, None, n)

            runner = jax.jit(jax.vmap(init))(jax.random.split(jax.random.PRNGKey(0), len(alphas)))
            runner = jax.block_until_ready(chunk(runner, CEILING_ITERS)[0])  # compiles
            times = []
            for _ in range(CEILING_REPEATS):
                start = time.perf_counter()
                jax.block_until_ready(chunk(runner, CEILING_ITERS)[0])
                times.append(time.perf_counter() - start)
            per_iter = min(times) / CEILING_ITERS
            a = config.algorithm
            steps = len(alphas) * a.num_envs * a.num_steps
            iters = num_iterations(a) * runs
            per_feature[method] = {"s_per_iteration": round(per_iter, 4), "env_steps_per_s": round(steps / per_iter),
                                   "iterations": iters, "ceiling_s": round(per_iter * iters, 1)}
            total_s += per_iter * iters
            total_steps += steps * iters
            log(f"{env} {method}: {per_feature[method]}")
    return {"training_env_steps": total_steps, "ceiling_s": round(total_s, 1),
            "env_steps_per_s": round(total_steps / total_s) if total_s else None, "rows": per_feature}


def read_results(path: Path) -> dict:
    """An earlier run's results to --merge with, checked before the suite runs."""
    try:
        old = json.loads(path.read_text())
        if isinstance(old["meta"], dict) and isinstance(old["envs"], dict):
            return old
    except (OSError, ValueError, KeyError, TypeError):
        pass
    sys.exit(f"error: --merge needs --out {str(path)!r} to be an earlier bench_suite.py result (a JSON object with "
             "'meta' and 'envs'); name another --out or leave out --merge.")


RUN = ("seeds", "wall_s", "load_average_before", "load_average_after")  # what each run of a game records


def with_runs(entry: dict, meta: dict) -> dict:
    """`entry` as one run with `meta` (an entry just measured, or one of a file written before games kept their
    runs)."""
    return entry if "runs" in entry else {**entry, "runs": [{**{k: entry[k] for k in RUN}, "meta": meta}]}


def combine_ceilings(a: dict, b: dict) -> dict:
    """The ceiling of two runs' rows: iterations and seconds add up (each run timed at its own rate)."""
    rows = {}
    for method in sorted({*a["rows"], *b["rows"]}):
        ra, rb = a["rows"].get(method), b["rows"].get(method)
        if ra is None or rb is None:
            rows[method] = ra or rb
            continue
        steps_per_iteration = ra["env_steps_per_s"] * ra["s_per_iteration"]
        iterations, seconds = ra["iterations"] + rb["iterations"], ra["ceiling_s"] + rb["ceiling_s"]
        rows[method] = {"s_per_iteration": round(seconds / iterations, 4),
                        "env_steps_per_s": round(steps_per_iteration * iterations / seconds),
                        "iterations": iterations, "ceiling_s": round(seconds, 1)}
    steps, seconds = a["training_env_steps"] + b["training_env_steps"], a["ceiling_s"] + b["ceiling_s"]
    return {"training_env_steps": steps, "ceiling_s": round(seconds, 1),
            "env_steps_per_s": round(steps / seconds) if seconds else None, "rows": rows}


def combine(a: dict, b: dict) -> dict:
    """One game measured in two runs on disjoint seeds (a suite takes hours: a seed per session)."""
    sweeps_s = {**a["sweeps_s"], **b["sweeps_s"]}
    by_family = collections.defaultdict(float)
    for name, seconds in sweeps_s.items():
        by_family[family(name.split("/")[0])] += seconds
    wall, ceil = a["wall_s"] + b["wall_s"], combine_ceilings(a["ceiling"], b["ceiling"])
    return {"rows": len({name.split("/")[0] for name in sweeps_s}), "seeds": sorted({*a["seeds"], *b["seeds"]}),
            "wall_s": round(wall, 1), "by_family": {f: round(by_family[f], 1) for f in FAMILIES},
            "sweeps_s": sweeps_s, "ceiling": ceil,
            "suite_over_ceiling": round(wall / ceil["ceiling_s"], 2) if ceil["ceiling_s"] else None,
            "runs": a["runs"] + b["runs"]}


def merge(old: dict, new: dict) -> dict:
    """`old`'s games with `new`'s: a game measured in both on disjoint seeds is combined (wall times and
    ceilings add up, each run listed with its meta); on a seed measured again, the new run replaces the game."""
    envs = {env: with_runs(e, old["meta"]) for env, e in old["envs"].items()}
    for env, e in new["envs"].items():
        keep = env in envs and not set(envs[env]["seeds"]) & set(e["seeds"])
        envs[env] = combine(envs[env], e) if keep else e
    return {"meta": new["meta"], "envs": envs}


def main() -> None:
    ap = parser(__doc__, "suite.json")
    ap.add_argument("--envs", default="distshift,lavagap,doorkey", help="comma-separated gridworlds")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--quick", action="store_true", help="one row per family, tiny budgets: a smoke test")
    ap.add_argument("--methods", default=None, help="comma-separated rows to run (default: all, or with --quick "
                    f"the quick rows: {QUICK_ROWS},{QUICK_PPO_ROWS})")
    ap.add_argument("--note", default="", help="free text stored in the results (e.g. what else ran)")
    ap.add_argument("--keep", default=None, help="run the suite into this empty directory and keep what it writes")
    ap.add_argument("--merge", action="store_true", help="add this run to the --out file's games and seeds "
                    "(implies --overwrite)")
    args = ap.parse_args()
    args.overwrite = args.overwrite or args.merge
    if args.keep and os.path.exists(args.keep) and not (os.path.isdir(args.keep) and not os.listdir(args.keep)):
        sys.exit(f"error: --keep {args.keep!r} is not an empty folder; the suite must run from scratch (name an "
                 "empty or new folder).")
    results = output(args, "suite.quick.json" if args.quick else "suite.json")
    old = read_results(results) if args.merge and results.exists() else None
    from duo_jax.envs.gridworld.family import GAMES

    envs = [e.strip() for e in args.envs.split(",") if e.strip()]
    if not envs or set(envs) - set(GAMES):
        sys.exit(f"error: --envs must be comma-separated gridworlds among {', '.join(GAMES)}; got {args.envs!r}.")
    quick_rows = f"{QUICK_ROWS},{QUICK_PPO_ROWS}".split(",")
    if args.quick and args.methods and set(args.methods.split(",")) - set(quick_rows):
        sys.exit(f"error: --methods with --quick must be among the quick rows {', '.join(quick_rows)}; "
                 f"got {args.methods!r}.")
    seeds = "0" if args.quick else args.seeds
    meta = machine_info(quick=args.quick, note=args.note, command=" ".join(sys.argv))
    meta["load_average_before"] = meta.pop("loadavg_start")
    out = {"meta": meta, "envs": {}}
    for env in envs:
        with (contextlib.nullcontext(os.path.abspath(args.keep)) if args.keep
              else tempfile.TemporaryDirectory(prefix=f"bench_suite_{env}_")) as tmp:
            load = loadavg()
            wall = run_suite(env, seeds, tmp, args.quick, args.methods)
            rows = sweeps(tmp, env)
        by_family = collections.defaultdict(float)
        for r in rows:
            by_family[family(r["method"])] += r["wall_time_s"]
        entry = {
            "rows": len({r["method"] for r in rows}),
            "seeds": sorted({r["seed"] for r in rows}),
            "wall_s": round(wall, 1),
            "by_family": {f: round(by_family[f], 1) for f in FAMILIES},
            "sweeps_s": {f"{r['method']}/seed_{r['seed']}": r["wall_time_s"] for r in rows},
            "load_average_before": load,
            "load_average_after": loadavg(),
        }
        entry["ceiling"] = ceiling(env, rows, args.quick)
        c = entry["ceiling"]["ceiling_s"]
        entry["suite_over_ceiling"] = round(wall / c, 2) if c else None  # None: no trained row ran
        out["envs"][env] = entry = with_runs(entry, meta)
        log(f"{env}: {json.dumps({k: v for k, v in entry.items() if k not in ('sweeps_s', 'runs')})}")
    out["meta"]["load_average_after"] = loadavg()
    if old is not None:
        out = merge(old, out)
    tmp_file = results.with_suffix(".json.tmp")
    tmp_file.write_text(json.dumps(out, indent=2))
    os.replace(tmp_file, results)
    log(f"wrote {results}")
    print("| game | rows x seeds | wall | simple | logit | ood | ppo | skyline | PPO ceiling | wall / ceiling |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for env, e in out["envs"].items():
        fam = " | ".join(f"{e['by_family'][f]:.0f} s" for f in FAMILIES)
        print(f"| {env} | {e['rows']} x {len(e['seeds'])} | {e['wall_s']:.0f} s | {fam} | "
              f"{e['ceiling']['ceiling_s']:.0f} s | {ratio(e['suite_over_ceiling'])} |")


if __name__ == "__main__":
    main()
