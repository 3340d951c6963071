"""An environment family: the splits of one task and how to build their vector envs."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np


class LevelEnv(Protocol):
    """Host env slots that play chosen episodes of a split's fixed levels, for scheduled evaluation.

    `load(slots, episodes)` starts episode `episodes[i]` (level `episodes[i]` of the fixed list, from its
    start state) in slot `slots[i]`; `observe()` gives every slot's current frame; `step(action)` steps every
    slot; `compact(slots)` returns a new env of `len(slots)` slots holding those slots' current states, in
    that order (the evaluator shrinks its batch as episodes run out).
    """

    num_envs: int

    def load(self, slots: np.ndarray, episodes: np.ndarray) -> None: ...

    def observe(self) -> np.ndarray: ...

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def compact(self, slots: np.ndarray) -> LevelEnv: ...


class EnvFamily(NamedTuple):
    """`make_train_env(split, num_envs, seed)` -> env with random levels of the split: `num_envs`,
    `reset() -> obs`, `step(a) -> (obs, reward, done)` (an env that ends an episode starts another itself).

    `make_eval_env(split, num_episodes, num_envs, seed)` -> a `LevelEnv` with `num_envs` slots over the
    split's `num_episodes` fixed levels (drawn from `seed`): episode e always plays level e of that list.

    A JAX-native family also gives `jax_split(split) -> JaxSplit` (duo_jax.core.jax_evaluator): then
    evaluation runs as one jitted scan, while its host envs keep every other algorithm working unchanged.
    """

    name: str
    splits: tuple[str, ...]
    num_actions: int
    obs_shape: tuple[int, ...]
    make_train_env: Callable[..., Any]
    make_eval_env: Callable[..., Any]
    jax_split: Callable[[str], Any] | None = None
