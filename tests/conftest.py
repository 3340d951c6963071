"""Shared fixtures: tiny agent checkpoints (never the shipped agents/), configs pointing at them."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
from helpers import load_config  # noqa: E402

from duo_jax.agents.agent import init_agent  # noqa: E402
from duo_jax.core.checkpoint import save_checkpoint  # noqa: E402

STATS = {"reward_mean": 8.0, "episode_length_mean": 80.0}   # BP = 0.1


@pytest.fixture(scope="session")
def agent_paths(tmp_path_factory) -> dict[str, str]:
    """Untrained small_cnn novice/expert checkpoints with measured stats, plus one without stats."""
    root = tmp_path_factory.mktemp("agents")
    paths = {}
    for seed, name in enumerate(("novice", "expert", "nostats")):
        agent = init_agent(jax.random.PRNGKey(seed), "small_cnn", 15, (64, 64, 3))
        config = dict(agent.config, game="coinrun")
        if name != "nostats":
            config["stats"] = STATS
        paths[name] = str(root / name)
        save_checkpoint(paths[name], agent.params, config)
    return paths


@pytest.fixture
def make_config(agent_paths, tmp_path):
    """`make_config(name='ask_every_k')`: configs/<name>.py with tiny evaluation settings and tmp paths."""

    def make(name: str = "ask_every_k"):
        c = load_config(name)
        c.agents.train_novice = c.agents.test_novice = agent_paths["novice"]
        c.agents.train_expert = c.agents.test_expert = agent_paths["expert"]
        c.experiments_dir = str(tmp_path / "experiments")
        c.evaluation.num_episodes = 2
        c.evaluation.num_envs = 2
        c.evaluation.max_num_steps = 16
        c.evaluation.progress = False
        if name == "ask_every_k":
            c.algorithm.candidates = (1, 4)
        return c

    return make


@pytest.fixture
def cli_args(agent_paths, tmp_path) -> list[str]:
    """Command-line overrides pointing `python -m duo_jax.main` at the tiny agents and a tmp experiments dir."""
    return [
        f"--config.agents.train_novice={agent_paths['novice']}",
        f"--config.agents.test_novice={agent_paths['novice']}",
        f"--config.agents.train_expert={agent_paths['expert']}",
        f"--config.agents.test_expert={agent_paths['expert']}",
        f"--config.experiments_dir={tmp_path / 'experiments'}",
        "--config.evaluation.progress=False",
    ]


@pytest.fixture(autouse=True, scope="module")
def _registries_restored():
    """What a test module's plugins register is gone after it: every module starts from the built-ins."""
    from duo_jax.core import registry
    from duo_jax.envs.gridworld.env import ENVS

    registries = (registry.ALGORITHMS, registry.POLICIES, registry.ENVIRONMENTS, registry.MODELS, ENVS)
    saved = [(dict(r._entries), dict(r._places)) for r in registries]
    yield
    for r, (entries, places) in zip(registries, saved):
        r._entries.clear()
        r._entries.update(entries)
        r._places.clear()
        r._places.update(places)
