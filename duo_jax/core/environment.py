"""An environment family: the splits of one task and how to build their vector envs."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple


class EnvFamily(NamedTuple):
    """`make_train_env(split, num_envs, seed)` -> env with random levels of the split;
    `make_eval_env(split, num_episodes, num_envs, repeats, round_idx, seed)` -> env replaying
    the split's fixed levels. Envs expose `num_envs`, `reset() -> obs`, `step(a) -> (obs, reward, done)`.

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
