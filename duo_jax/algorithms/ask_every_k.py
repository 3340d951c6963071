"""AskEveryK: grid search over k, the number of steps between expert queries."""
from __future__ import annotations

from duo_jax.algorithms.grid_search import register_grid_search


def _check_ask_every_k(config) -> None:
    ks = tuple(config.algorithm.candidates)
    if not ks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise ValueError(f"algorithm.candidates must be a non-empty list of integers k >= 1; got {ks!r}.")


@register_grid_search("ask_every_k", check=_check_ask_every_k)
def ask_every_k(key, policy, task, config):
    del key, policy, task
    return [{"k": int(k)} for k in config.algorithm.candidates]
