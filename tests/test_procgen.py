import numpy as np
import pytest

from duo_jax.envs.procgen import GAMES, ProcgenEnv, make_eval_env


@pytest.mark.parametrize("game", GAMES)
def test_every_game_replays_its_fixed_levels(game):
    """Two candidates on the same fixed levels see identical frames under identical actions."""
    env = make_eval_env(game, "val_true", num_episodes=2, num_envs=4)
    env.load(np.arange(4), np.arange(4) % 2)                             # slot i plays level i % 2
    obs = env.observe()
    assert obs.shape == (4, 64, 64, 3) and obs.dtype == np.uint8
    for a in range(3):
        obs, reward, done = env.step(np.full(4, a, np.int32))
        np.testing.assert_array_equal(obs[:2], obs[2:])
        np.testing.assert_array_equal(reward[:2], reward[2:])


def test_unknown_game_and_split_are_named():
    with pytest.raises(ValueError, match="env.game must be one of .*coinrun"):
        ProcgenEnv("pong", "train", 1)
    with pytest.raises(ValueError, match="split must be one of train, val_sim, val_true, test"):
        ProcgenEnv("coinrun", "valid", 1)
