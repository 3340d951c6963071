"""The shipped agents form the pairs YRC-0 needs: read off their checkpoints' configs (no rollouts)."""
import os

import pytest

from duo_jax.core.checkpoint import load_checkpoint
from helpers import REPO

GRIDWORLDS = ("distshift", "lavagap", "doorkey")


def config(game: str, role: str) -> dict:
    return load_checkpoint(os.path.join(REPO, "agents", game, role, "agent"))[1]


@pytest.mark.parametrize("game", GRIDWORLDS)
def test_sim_novice_is_an_earlier_snapshot_of_the_novice_run(game):
    sim, novice = config(game, "sim_novice"), config(game, "novice")
    assert sim["run_id"] == novice["run_id"] and sim["seed"] == novice["seed"]
    assert sim["train_steps"] < novice["train_steps"]


@pytest.mark.parametrize("game", GRIDWORLDS)
def test_pairs_are_real_pairs_under_the_papers_noise(game):
    """On the train task the novice (the simulated expert) beats the sim_novice by more than both 95%
    intervals together, and by at least 0.1; on the test task the expert beats the novice likewise."""
    sim, novice, expert = (config(game, r) for r in ("sim_novice", "novice", "expert"))
    assert sim["action_noise"] == novice["action_noise"] == expert["action_noise"] == 0.1
    for weak, strong in ((sim["train_task_stats"], novice["train_task_stats"]), (novice["stats"], expert["stats"])):
        gap = strong["reward_mean"] - weak["reward_mean"]
        assert gap > strong["reward_ci95"] + weak["reward_ci95"] and gap >= 0.1, (game, weak, strong)
