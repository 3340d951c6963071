"""A whole environment's benchmark, as the paper reports it: every method and variant, several seeds, one report.

    python -m duo_jax.suite --env distshift --overwrite          # 31 methods x seeds 0,1,2, then reports/distshift
    python -m duo_jax.suite --env coinrun --methods always_novice,logit_max_logit --seeds 0 --report_dir experiments
    python -m duo_jax.suite --env jumper                         # any Procgen game with agents in agents/<game>
    python -m duo_jax.suite --env lavagap --list                 # the methods and their config overrides
    python -m duo_jax.suite --env distshift --methods sensitivity   # logit and ood calibrated on the deployed novice
    python -m duo_jax.suite --env doorkey --jobs jobs.txt        # one command per unfinished sweep, then:
    python -m duo_jax.launch --executor=slurm --commands=jobs.txt  # and rerun the suite for the report

Each (method, seed) is one `duo_jax.sweep` into `<out>/<env>/seed_<s>/<method>_sweep`, with `seed` and
`evaluation.seed` both `s`: seed s trains with seed s and tests on the levels and random streams of
evaluation seed s, the same for every method (paired comparisons). A finished sweep is skipped and an
interrupted one resumes, so rerunning the command after a kill continues where it stopped. When every
sweep of the environment exists, `duo_jax.report` pools the seeds into `<report_dir>/<env>`; a report already
there (the shipped reports/<env>) is replaced only with `--overwrite`, which is checked before the first sweep.

To use more cores, run the same command in several terminals (or jobs sharing `--out`): a sweep that
another process is running is skipped, so each process takes the next free one.
"""
from __future__ import annotations

import difflib
import gc
import glob
import os
import shlex
import time

import jax
from absl import logging

from duo_jax import cli
from duo_jax.agents.ppo import Diverged
from duo_jax.core.checkpoint import CannotResume
from duo_jax.envs import procgen
from duo_jax.envs.gridworld.family import GAMES as GRID_GAMES
from duo_jax.experiment import ExperimentBusy
from duo_jax.report import build_table, check_out, load_sweeps, write_report
from duo_jax.suite_config import (  # noqa: F401  (suite.<name> too)
    ENVS,
    SENSITIVITY,
    all_methods,
    build_config,
    config_path,
    methods,
    sensitivity_methods,
)
from duo_jax.sweep import prepare as prepare_sweep
from duo_jax.sweep import run as run_sweep


def sweep_dir(out: str, env: str, seed: int, name: str) -> str:
    return os.path.join(out, env, f"seed_{seed}", f"{name}_sweep")


def check_env(env: str) -> None:
    if env not in ENVS:
        near = difflib.get_close_matches(env, ENVS, n=1)
        raise ValueError(f"--env must be a Procgen game ({', '.join(procgen.GAMES)}) or a gridworld "
                         f"({', '.join(GRID_GAMES)}); got {env!r}{f' (did you mean {near[0]}?)' if near else ''}.")


def _parse_methods(text: str, env: str, allowed: list[str], groups: dict[str, list[str]]) -> list[str]:
    """The method names of `--methods` (a group name stands for its methods); an unknown one gets the nearest
    names, and `--list` all of them."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in items if t not in allowed and t not in groups]
    listing = f"python -m duo_jax.suite --env {env} --list shows all {len(allowed)}"
    if not items:
        raise ValueError(f"--methods must be comma-separated method names, all or {SENSITIVITY} ({listing}); "
                         f"got {text!r}.")
    if unknown:
        near = difflib.get_close_matches(unknown[0], [*groups, *allowed], n=3)
        guess = f"; did you mean {', '.join(near)}?" if near else "."
        raise ValueError(f"--methods: {env} has no method {unknown[0]!r}{guess} {listing}.")
    return list(dict.fromkeys(name for t in items for name in groups.get(t, [t])))


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must be distinct integers >= 0 separated by commas, e.g. 0,1,2; got {text!r}.")
    return seeds


def method_names(env: str, text: str) -> list[str]:
    """The methods `--methods` names, checked: `all` is the paper's rows, `sensitivity` the logit and ood rows
    calibrated on the deployed novice (`suite_config.sensitivity_methods`)."""
    check_env(env)
    groups = {"all": list(methods(env)), SENSITIVITY: list(sensitivity_methods(env))}
    return _parse_methods(text, env, list(all_methods(env)), groups)


def prepare(args) -> list[tuple[str, int, object]]:
    """Every (method, seed, config) the run needs, all checked before the first sweep starts."""
    names = method_names(args.env, args.methods)
    seeds = _parse_seeds(args.seeds)
    units = []
    for seed in seeds:
        for name in names:
            config = build_config(args.env, name, seed, args.out, tuple(args.override))
            units.append((name, seed, config))
    todo = [
        c
        for name, seed, c in units
        if not os.path.isfile(os.path.join(sweep_dir(args.out, args.env, seed, name), "sweep.json"))
    ]
    for config in todo[:1]:
        prepare_sweep(config)  # loads the agents and checks the config as the sweeps will
    return units


def _map_count() -> tuple[int, int] | None:
    """(memory maps of this process, the kernel's limit), or None where /proc does not say (not Linux)."""
    try:
        with open("/proc/self/maps") as maps, open("/proc/sys/vm/max_map_count") as limit:
            return sum(1 for _ in maps), int(limit.read())
    except (OSError, ValueError):
        return None


def release_programs(fraction: float = 0.5) -> bool:
    """XLA:CPU maps every compiled program's code into the process (about 7 maps each), and jax keeps every
    program it compiled; a suite compiles hundreds, and at the kernel's limit (vm.max_map_count, 65,530 by
    default) LLVM fails ("Cannot allocate memory") and the process dies. Past `fraction` of the limit this drops
    them all (`jax.clear_caches()`): later sweeps compile what they need again. Returns whether it did."""
    count = _map_count()
    if count is None or count[0] < fraction * count[1]:
        return False
    jax.clear_caches()
    gc.collect()
    logging.info("released compiled programs: %d of at most %d memory maps in use, %s now", *count,
                 (_map_count() or ("?",))[0])
    return True


def run_units(units, env: str, out: str) -> list[str]:
    """Each sweep that has no sweep.json yet, in order, skipping those another process is running;
    returns the skipped sweeps' directories that still have no sweep.json."""
    elsewhere = []
    for i, (name, seed, config) in enumerate(units):
        path = sweep_dir(out, env, seed, name)
        if os.path.isfile(os.path.join(path, "sweep.json")):
            logging.info("[%d/%d] %s seed %d: done", i + 1, len(units), name, seed)
            continue
        start = time.time()
        logging.info("[%d/%d] %s seed %d: sweeping into %s", i + 1, len(units), name, seed, path)
        try:
            run_sweep(config)
        except ExperimentBusy:
            logging.info("[%d/%d] %s seed %d: another process is running it; skipped", i + 1, len(units), name, seed)
            elsewhere.append(path)
            continue
        logging.info("[%d/%d] %s seed %d: %.0f s", i + 1, len(units), name, seed, time.time() - start)
        release_programs()
    return [p for p in elsewhere if not os.path.isfile(os.path.join(p, "sweep.json"))]


def job_commands(units, args) -> list[str]:
    """One `duo_jax.suite` command per unfinished (method, seed), for `duo_jax.launch --commands`."""
    overrides = [f"--override={shlex.quote(o)}" for o in args.override]
    return [
        " ".join(
            [
                "python -m duo_jax.suite",
                f"--env={args.env}",
                f"--methods={name}",
                f"--seeds={seed}",
                f"--out={shlex.quote(args.out)}",
                "--no_report",
                *overrides,
            ]
        )
        for name, seed, _ in units
        if not os.path.isfile(os.path.join(sweep_dir(args.out, args.env, seed, name), "sweep.json"))
    ]


def report(env: str, out: str, report_dir: str) -> None:
    """The pooled report over every finished sweep of the environment (all seeds)."""
    paths = sorted(glob.glob(os.path.join(out, env, "seed_*", "*_sweep", "sweep.json")))
    sweeps = load_sweeps([os.path.dirname(p) for p in paths])
    rows = build_table(sweeps)
    written = write_report(rows, os.path.join(report_dir, env), sweeps)
    with open(written["md"]) as f:
        print(f.read())
    print("wrote " + ", ".join(written.values()))


@cli.interruptible("run the same command again to resume: finished sweeps are skipped, the interrupted one continues")
def main(argv=None) -> None:
    parser = cli.ArgumentParser(prog="python -m duo_jax.suite", description=__doc__.split("\n\nEach")[0])
    parser.add_argument(
        "--env",
        required=True,
        help=f"a Procgen game with agents in agents/<game>, or a gridworld: {', '.join(GRID_GAMES)}",
    )
    parser.add_argument("--methods", default="all", help="comma-separated method names, all (the paper's rows) or "
                        "sensitivity (logit and ood calibrated on the deployed novice); see --list")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--out", default="experiments/suite", help="where the sweeps go: <out>/<env>/seed_<s>/")
    parser.add_argument("--report_dir", default="reports", help="the report goes to <report_dir>/<env>")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a config override for every sweep, e.g. --override=evaluation.num_episodes=256",
    )
    parser.add_argument("--list", action="store_true", help="print the --methods and their overrides, and stop")
    parser.add_argument("--overwrite", action="store_true", help="replace a report already in <report_dir>/<env>")
    parser.add_argument("--no_report", action="store_true", help="run the sweeps only")
    parser.add_argument(
        "--jobs",
        metavar="FILE",
        help="write one command per unfinished sweep to FILE (for "
        "python -m duo_jax.launch --commands=FILE) instead of running them",
    )
    args = parser.parse_args(argv)
    if args.list:
        try:
            names = method_names(args.env, args.methods)
        except ValueError as err:
            cli.fail(err)
        table = all_methods(args.env)
        cli.print_lines(f"{name:32s} {table[name][0]:14s} {' '.join(table[name][1])}" for name in names)
        return
    if not (args.no_report or args.jobs):  # before hours of sweeps: the report's place is free, or may be replaced
        try:
            method_names(args.env, args.methods)  # a mistyped method is the first thing to hear about
            check_out(os.path.join(args.report_dir, args.env), "report", args.overwrite, "--report_dir")
        except ValueError as err:
            cli.fail(err)
    logging.set_verbosity(logging.INFO)
    # The suite's sweeps compile the same rollouts and trainers again and again (same agents and shapes,
    # other params): XLA's persistent cache serves the repeats from disk.
    jax.config.update("jax_compilation_cache_dir", os.path.join(os.path.abspath(args.out), ".jax_cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    try:
        units = prepare(args)
    except (ValueError, OSError) as err:
        cli.fail(err)
    if args.jobs:
        commands = job_commands(units, args)
        with open(args.jobs, "w") as f:
            f.write("".join(c + "\n" for c in commands))
        print(f"wrote {len(commands)} commands to {args.jobs}")
        return
    try:
        running = run_units(units, args.env, args.out)
    except (Diverged, CannotResume) as err:  # a NaN in a PPO row (its last good checkpoint is kept), a stale state
        cli.fail(err)
    if running:
        print(
            f"{len(running)} sweep(s) are still running in another process ({', '.join(running)}); the report "
            "waits for them: the process that finishes the last sweep writes it, or rerun this command then."
        )
    elif not args.no_report:
        try:
            report(args.env, args.out, args.report_dir)
        except (ValueError, OSError) as err:
            cli.fail(err)


if __name__ == "__main__":
    main()
