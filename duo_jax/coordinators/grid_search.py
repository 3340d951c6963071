"""Grid search: evaluate every candidate params in one batched rollout per split, keep the best."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np
from absl import logging

from duo_jax.core.evaluator import Evaluator, format_summary
from duo_jax.core.policy import Policy, stack_params, to_python
from duo_jax.core.registry import register_algorithm


class AlgorithmResult(NamedTuple):
    """What every algorithm returns: per validation split the chosen params, their summary, and all candidates."""

    best_params: dict[str, Any]
    best_summary: dict[str, dict]
    candidates: dict[str, list[dict]]


def _key_first_deprecated(search: Callable) -> Callable:
    """Keep the earlier tutorial's `grid_search(key, policy, validators, candidates)` working, deprecated
    (CHANGELOG.md, Breaking): a first argument that is an array (a PRNG key, never a Policy) is dropped."""

    @functools.wraps(search)
    def call(*args, **kwargs):
        if args and isinstance(args[0], jax.Array | np.ndarray):
            warnings.warn(
                "grid_search(key, policy, validators, candidates) is deprecated and its key is ignored (every "
                "split draws on its own random stream); call grid_search(policy, validators, candidates).",
                DeprecationWarning, stacklevel=2,
            )
            args = args[1:]
        return search(*args, **kwargs)

    return call


@_key_first_deprecated
def grid_search(policy: Policy, validators: dict[str, Evaluator], candidates: list[dict]) -> AlgorithmResult:
    """Every candidate on every validation split (each split's own random stream), the best kept per split."""
    params = stack_params(candidates)
    best_params, best_summary, table = {}, {}, {}
    for split, validator in validators.items():
        summaries = validator.evaluate(policy, params)
        table[split] = [dict(params=to_python(c), **s) for c, s in zip(candidates, summaries)]
        for c, s in zip(candidates, summaries):
            logging.info("%s %s: %s", split, to_python(c), format_summary(s))
        best = int(np.argmax([s["reward_mean"] for s in summaries]))
        best_params[split], best_summary[split] = candidates[best], summaries[best]
        logging.info("BEST on %s: %s", split, to_python(candidates[best]))
    return AlgorithmResult(best_params, best_summary, table)


def register_grid_search(name: str, candidates: Callable | None = None, *, check: Callable | None = None,
                         override: bool = False):
    """Register an algorithm that is a grid search over `candidates(key, policy, task, config) -> [params]`.

    Usable as a decorator. The candidates must not depend on the costs (the cost sweep relies on it), and
    `duo_jax.sweep` proposes them with the same key as `duo_jax.main`, so both evaluate the same ones.
    """

    def add(propose: Callable) -> Callable:
        def run(key, policy, task, validators, config):
            return grid_search(policy, validators, propose(key, policy, task, config))

        register_algorithm(name, run, check=check, candidates=propose, override=override)
        return propose

    return add if candidates is None else add(candidates)
