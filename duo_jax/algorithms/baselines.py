"""Grid-search baselines that ignore the observation: always (novice or expert) and random."""
from __future__ import annotations

from duo_jax.algorithms.grid_search import register_grid_search


def _check_always(config) -> None:
    if config.algorithm.agent not in ("novice", "expert"):
        raise ValueError(f"algorithm.agent must be 'novice' or 'expert'; got {config.algorithm.agent!r}.")


@register_grid_search("always", check=_check_always)
def always(key, policy, task, config):
    del key, policy, task
    return [{"expert": int(config.algorithm.agent == "expert")}]


def _check_random(config) -> None:
    probs = tuple(config.algorithm.probabilities)
    if not probs or not all(isinstance(p, (int, float)) and 0.0 <= p <= 1.0 for p in probs):
        raise ValueError(f"algorithm.probabilities must be a non-empty list of numbers in [0, 1]; got {probs!r}.")


@register_grid_search("random", check=_check_random)
def random(key, policy, task, config):
    del key, policy, task
    return [{"prob": float(p)} for p in config.algorithm.probabilities]
