"""Procgen (C++, steps on the host) with the YRC splits and fixed evaluation levels.

Evaluation envs replay a fixed list of levels: each level's start state is captured
once from a single-level env (`get_state`) and written into the slots of one big
vector env (`set_state`), so every candidate and every method sees the same levels.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from duo_jax.core.environment import EnvFamily
from duo_jax.core.registry import register_environment
from duo_jax.envs.procgen_compat import Games

GAMES = (
    "bigfish", "bossfight", "caveflyer", "chaser", "climber", "coinrun", "dodgeball", "fruitbot",
    "heist", "jumper", "leaper", "maze", "miner", "ninja", "plunder", "starpilot",
)
NUM_ACTIONS = 15
OBS_SHAPE = (64, 64, 3)


@dataclass(frozen=True)
class Split:
    distribution_mode: str
    start_level: int
    num_levels: int


# Reference (DuoAI) defaults.
SPLITS = {
    "train": Split("easy", 0, 100_000),
    "val_sim": Split("easy", 50_000, 256),
    "val_true": Split("hard", 50_000, 256),
    "test": Split("hard", 0, 100_000),
}


def check_game(game: str) -> None:
    if game not in GAMES:
        raise ValueError(f"env.game must be one of {', '.join(GAMES)}; got {game!r}.")


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}.")


def split_levels(split: str, num_episodes: int, seed: int = 0) -> np.ndarray:
    """The fixed level seeds of a split: distinct levels drawn with `seed` (all of them if the split is small)."""
    check_split(split)
    s = SPLITS[split]
    rng = np.random.default_rng(seed)
    offsets = rng.choice(s.num_levels, size=num_episodes, replace=num_episodes > s.num_levels)
    return (s.start_level + offsets).astype(np.int64)


@functools.lru_cache(maxsize=4096)  # ~38 KB a level
def _level_state(game: str, mode: str, level: int) -> bytes:
    return Games(1, game, mode, num_levels=1, start_level=int(level), rand_seed=0).get_state()[0]


class ProcgenEnv:
    """A batch of Procgen games with a numpy API: `reset() -> obs`, `step(a) -> (obs, reward, done)`.

    `done[i]` is True when env i's episode ended at this step; the returned obs is then the
    first frame of its next episode (Procgen resets itself). Frames are uint8 [B, 64, 64, 3].
    """

    def __init__(self, game: str, split: str, num_envs: int, seed: int = 0):
        check_game(game)
        check_split(split)
        self.game, self.split, self.num_envs = game, split, num_envs
        s = SPLITS[split]
        self._env = self._make(num_levels=s.num_levels, start_level=s.start_level, rand_seed=seed)

    def _make(self, **kwargs):
        return Games(self.num_envs, self.game, SPLITS[self.split].distribution_mode, **kwargs)

    def observe(self) -> np.ndarray:
        return self._env.observe()[1]

    def reset(self) -> np.ndarray:
        return self.observe()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._env.act(np.asarray(action, dtype=np.int32))
        reward, obs, first = self._env.observe()
        return obs, reward.astype(np.float32), first.astype(bool)

    def get_state(self) -> list[bytes]:
        """Each env's whole game (level, positions, its random generators), for a trainer's checkpoint."""
        return self._env.get_state()

    def set_state(self, states: list[bytes]) -> np.ndarray:
        """Continue exactly where `get_state` was taken (any env of the same game and split); returns the frames."""
        if len(states) != self.num_envs:
            raise ValueError(f"set_state takes one state per env ({self.num_envs}); got {len(states)}.")
        for slot, state in enumerate(states):
            self._env.set_state(slot, state)
        return self.observe()


class ProcgenLevelEnv(ProcgenEnv):
    """Slots that play chosen fixed levels (a `LevelEnv`): a level's start state is captured once from a
    single-level env (`get_state`) and written into a slot (`set_state`, cheaper than an env step), so a
    slot can start any level at any step. `levels[e]` is the level seed of episode e."""

    def __init__(self, game: str, split: str, num_envs: int, levels: np.ndarray, seed: int = 0):
        check_game(game)
        check_split(split)
        self.game, self.split, self.num_envs = game, split, num_envs
        self.levels = np.asarray(levels, np.int64)
        self._env = self._make(num_levels=1, start_level=0, rand_seed=seed)
        self._seed = seed

    def _set_states(self, slots, states) -> None:
        for slot, state in zip(np.asarray(slots).tolist(), states):
            self._env.set_state(slot, state)

    def load(self, slots: np.ndarray, episodes: np.ndarray) -> None:
        mode = SPLITS[self.split].distribution_mode
        self._set_states(slots, [_level_state(self.game, mode, int(self.levels[e])) for e in episodes])

    def compact(self, slots: np.ndarray) -> ProcgenLevelEnv:
        states = self._env.get_state()
        new = ProcgenLevelEnv(self.game, self.split, len(slots), self.levels, self._seed)
        new._set_states(range(len(slots)), [states[i] for i in np.asarray(slots).tolist()])
        return new


def make_eval_env(game: str, split: str, num_episodes: int, num_envs: int, seed: int = 0) -> ProcgenLevelEnv:
    """`num_envs` slots over the split's `num_episodes` fixed levels (drawn with `seed`); a slot plays a fixed
    level once the caller `load`s one into it."""
    return ProcgenLevelEnv(game, split, num_envs, split_levels(split, num_episodes, seed), seed=seed)


def procgen_family(env_config) -> EnvFamily:
    """`env_config.game`: one of GAMES."""
    game = env_config.game
    check_game(game)
    return EnvFamily(
        name=f"procgen/{game}",
        splits=tuple(SPLITS),
        num_actions=NUM_ACTIONS,
        obs_shape=OBS_SHAPE,
        make_train_env=lambda split, num_envs, seed=0: ProcgenEnv(game, split, num_envs, seed=seed),
        make_eval_env=functools.partial(make_eval_env, game),
    )


register_environment("procgen", procgen_family)
