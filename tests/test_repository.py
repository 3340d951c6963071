"""The tracked tree stays small enough to travel: a GPU session copies at most 64 MiB of working tree, and the
shipped agents are params only (their training states stay where they were trained). Published benchmark
results say what measured them."""

import json
import os
import subprocess

import pytest

from duo_jax import paths

LIMIT_MIB = 40


def tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=paths.REPO, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [f for f in out.decode().split("\0") if f]


def test_tracked_tree_under_limit():
    sizes = {f: os.path.getsize(os.path.join(paths.REPO, f)) for f in tracked_files()
             if os.path.isfile(os.path.join(paths.REPO, f))}
    total = sum(sizes.values())
    biggest = sorted(sizes, key=sizes.get, reverse=True)[:5]
    assert total < LIMIT_MIB * 2**20, f"tracked tree is {total / 2**20:.1f} MiB; the largest files: {biggest}"


def test_shipped_agents_are_params_only():
    states = sorted({"/".join(f.split("/")[:4]) for f in tracked_files() if f.split("/")[0:4:3] == ["agents", "state"]})
    assert states == [], f"training states are tracked: {states}"


def test_published_suite_benchmark_says_what_each_run_measured():
    """benchmarks/results/suite.json: every game lists the runs it was measured in (`bench_suite.py --merge`), each
    with its seeds, wall time, load and versions, and its totals add up over them."""
    with open(os.path.join(paths.REPO, "benchmarks", "results", "suite.json")) as f:
        suite = json.load(f)
    for env, entry in suite["envs"].items():
        runs = entry["runs"]
        assert sorted(s for r in runs for s in r["seeds"]) == entry["seeds"], env
        assert sum(r["wall_s"] for r in runs) == pytest.approx(entry["wall_s"], abs=0.1 * len(runs)), env
        assert all(r["meta"]["jax"] and len(r["load_average_before"]) == 3 for r in runs), env
        assert {name.split("/")[1] for name in entry["sweeps_s"]} == {f"seed_{s}" for s in entry["seeds"]}, env
        assert entry["suite_over_ceiling"] == pytest.approx(entry["wall_s"] / entry["ceiling"]["ceiling_s"], abs=0.01)
