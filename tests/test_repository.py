"""The tracked tree stays small enough to travel: a GPU session copies at most 64 MiB of working tree, and the
shipped agents are params only (their training states stay where they were trained)."""

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
