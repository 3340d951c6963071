# The first tutorial's (docs/add_a_new_algorithm.md at cc06496) AskEveryK algorithm block, verbatim but for the
# registered name: an algorithm (key, policy, envs, validators, config) calling grid_search(key, ...).
"""AskEveryK: grid search over k, the number of steps between expert queries."""
from __future__ import annotations

from duo_jax.algorithms.grid_search import grid_search
from duo_jax.core.registry import register_algorithm


def _check_ask_every_k(config) -> None:
    ks = tuple(config.algorithm.candidates)
    if not ks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise ValueError(f"algorithm.candidates must be a non-empty list of integers k >= 1; got {ks!r}.")


@register_algorithm("ask_every_k_tutorial_v1", check=_check_ask_every_k)
def ask_every_k(key, policy, envs, validators, config):
    del envs
    return grid_search(key, policy, validators, [{"k": int(k)} for k in config.algorithm.candidates])
