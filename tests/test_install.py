"""The install per Python (pyproject's environment markers) and the Procgen package it picks."""
import hashlib
import importlib.metadata
import pathlib
import sys
import tomllib

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from duo_jax.envs import procgen_compat
from duo_jax.envs.procgen import GAMES, make_eval_env

PYPROJECT = tomllib.loads((pathlib.Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
SUPPORTED = ("3.11", "3.12", "3.13")
PROCGEN = {"procgen-mirror", "procgen-gym"}


def requirements(python_version: str | None = None) -> list[Requirement]:
    """The project's and the test extra's requirements that apply on `python_version` (default: this Python)."""
    env = None if python_version is None else {"python_version": python_version}
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["test"]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(env)]


def test_requires_python_is_the_supported_versions():
    spec = SpecifierSet(PYPROJECT["requires-python"])
    assert [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if spec.contains(v + ".0")] == list(SUPPORTED)


@pytest.mark.parametrize("version", SUPPORTED)
def test_each_python_gets_one_procgen_numpy_and_matching_jax(version):
    by_name = {}
    for r in requirements(version):
        assert r.name not in by_name, f"{r.name} is required twice on Python {version}"
        by_name[r.name] = r
    assert len(PROCGEN & set(by_name)) == 1
    assert by_name["jax"].specifier == by_name["jaxlib"].specifier
    # procgen-mirror pins numpy<2: it goes with numpy 1.x, procgen-gym with numpy 2.
    numpy_2 = by_name["numpy"].specifier.contains("2.0.0")
    assert numpy_2 == ("procgen-gym" in by_name)


def test_this_environment_has_what_pyproject_asks_for():
    """Catches a venv that drifted from pyproject.toml (the README's one install command makes it again)."""
    for r in requirements():
        try:
            installed = importlib.metadata.version(r.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{r.name} is not installed: pip install -e '.[test]'")
        assert r.specifier.contains(installed, prereleases=True), f"{r.name} {installed} is not {r}"
    names = {r.name for r in requirements()}
    assert procgen_compat.package() in names
    assert sys.version_info[:2] in [tuple(map(int, v.split("."))) for v in SUPPORTED]


# Both envs' game states (get_state) after 100 fixed actions on two val_true levels, recorded with
# procgen-mirror 0.10.7: the installed package must play every game exactly as it does. (procgen-gym's
# frames differ from procgen-mirror's in a few pixels of some frames of caveflyer, coinrun and ninja, from its
# own Qt build; the games' states do not.)
MIRROR_STATES = {
    "bigfish": "3908c495906f106d",
    "bossfight": "1f16b97a647c2c3d",
    "caveflyer": "54fba521fbc622ea",
    "chaser": "bbf674438d60b360",
    "climber": "b9da75391db6d4a1",
    "coinrun": "616a13b71031e01d",
    "dodgeball": "fc9c766db2dacc7f",
    "fruitbot": "ed0659747ce0b0e6",
    "heist": "0b32d93a7b5b0317",
    "jumper": "f29ce44e1d5e09d1",
    "leaper": "0fa28053447e80ef",
    "maze": "3c6e29274197b63c",
    "miner": "805225625f2cba85",
    "ninja": "2ecdb8419b894486",
    "plunder": "296256ef1d025b8d",
    "starpilot": "29c34378055f7cc7",
}


def test_the_procgen_package_plays_every_game_as_procgen_mirror():
    assert set(MIRROR_STATES) == set(GAMES)
    got = {}
    for game in GAMES:
        env = make_eval_env(game, "val_true", num_episodes=2, num_envs=2)
        env.load(np.arange(2), np.arange(2))
        for t in range(100):
            env.step(np.array([t % 15, (7 * t) % 15], np.int32))
        got[game] = hashlib.sha256(b"".join(env.get_state())).hexdigest()[:16]
    assert got == MIRROR_STATES, procgen_compat.package()


def test_set_state_needs_one_state_per_env():
    env = make_eval_env("coinrun", "val_true", num_episodes=2, num_envs=2)
    with pytest.raises(ValueError, match=r"set_state takes one state per env \(2\); got 1\."):
        env.set_state(env.get_state()[:1])
