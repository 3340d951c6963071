"""The shipped agents form the pairs YRC-0 needs: read off their checkpoints' configs (no rollouts)."""
import os

import pytest
from helpers import REPO

from duo_jax.agents.suite import MIN_GAP
from duo_jax.core.checkpoint import load_checkpoint

GRIDWORLDS = ("distshift", "lavagap", "doorkey")
GAMES = tuple(sorted(os.listdir(os.path.join(REPO, "agents"))))   # every shipped set, Procgen ones as installed


def test_every_shipped_set_has_its_three_agents():
    assert {"coinrun", *GRIDWORLDS} <= set(GAMES)
    for game in GAMES:
        assert all(
            os.path.isdir(os.path.join(REPO, "agents", game, r, "agent")) for r in ("sim_novice", "novice", "expert")
        )


def config(game: str, role: str) -> dict:
    return load_checkpoint(os.path.join(REPO, "agents", game, role, "agent"))[1]


def train_task_stats(c: dict) -> dict:
    """Where the simulated pair plays: a gridworld agent's training-task stats, a Procgen agent's val_sim ones."""
    return c["train_task_stats"] if "train_task_stats" in c else c["split_stats"]["val_sim"]


@pytest.mark.parametrize("game", GAMES)
def test_sim_novice_is_an_earlier_snapshot_of_the_novice_run(game):
    sim, novice, expert = config(game, "sim_novice"), config(game, "novice"), config(game, "expert")
    assert sim["run_id"] == novice["run_id"] != expert["run_id"] and sim["seed"] == novice["seed"]
    assert sim["train_steps"] < novice["train_steps"]


# Procgen sets installed before the simulated novice became the half-way snapshot (issue 38), until retrained.
EARLIER_SNAPSHOTS = ("coinrun", "ninja")


@pytest.mark.parametrize("game", [g for g in GAMES if g not in EARLIER_SNAPSHOTS])
def test_sim_novice_is_the_half_way_checkpoint(game):
    """YRC-Bench's simulated novice is its novice's 40M-step checkpoint of 80M: here the same half of one run
    (the gridworld novices trained at a constant learning rate, the Procgen ones annealed)."""
    sim, novice = config(game, "sim_novice"), config(game, "novice")
    assert 2 * sim["train_steps"] == novice["train_steps"]
    if game in GRIDWORLDS:
        assert novice["train_config"]["ppo"]["final_lr_fraction"] == 1.0


@pytest.mark.parametrize("game", GAMES)
def test_pairs_are_real_pairs(game):
    """Where the simulated pair plays, the novice (the simulated expert) beats the sim_novice by more than
    both 95% intervals together, and by at least MIN_GAP (0.1); on the test task the expert beats the novice likewise.
    The gridworld agents all played under the paper's action noise."""
    sim, novice, expert = (config(game, r) for r in ("sim_novice", "novice", "expert"))
    if game in GRIDWORLDS:
        assert sim["action_noise"] == novice["action_noise"] == expert["action_noise"] == 0.1
    for weak, strong in ((train_task_stats(sim), train_task_stats(novice)), (novice["stats"], expert["stats"])):
        gap = strong["reward_mean"] - weak["reward_mean"]
        assert gap > strong["reward_ci95"] + weak["reward_ci95"] and gap >= MIN_GAP, (game, weak, strong)
