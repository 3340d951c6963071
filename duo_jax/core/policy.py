"""The coordination policy: a bundle of pure functions over explicit state, like optax's transforms."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

NOVICE = 0
EXPERT = 1

PyTree = Any

# The coordinator observation's parts: the frame, and each agent's hidden layer and logits on it.
FEATURES = ("base_obs", "novice_hidden", "novice_logits", "expert_hidden", "expert_logits")
READS_ALL = frozenset(FEATURES)


class Policy(NamedTuple):
    """`init(num_envs) -> state`; `reset(state, done) -> state`; `act(params, state, obs, key) -> (action, state)`.

    `state` holds per-env arrays (counters, keys, recurrent state); `params` holds the tunable
    values (`k`, a threshold, network weights). `act` returns NOVICE (0) or EXPERT (1) per env.
    `reads`: the parts of `obs` (`FEATURES`) that `act` reads; `obs` holds only those. Evaluation skips what
    no one reads: a policy that reads neither agent's outputs runs each agent only on the envs it acts for.
    Left out, it is every part (always correct, never the cheapest).
    """

    init: Callable[[int], PyTree]
    reset: Callable[[PyTree, jnp.ndarray], PyTree]
    act: Callable[[PyTree, PyTree, dict, jax.Array], tuple[jnp.ndarray, PyTree]]
    reads: frozenset = READS_ALL


def check_reads(policy: Policy) -> None:
    """`policy.reads` is a frozenset of `FEATURES` (hashable: compiled steps are cached by policy); else one
    sentence naming it."""
    reads = policy.reads
    if not isinstance(reads, frozenset) or not reads <= READS_ALL:
        raise ValueError(f"Policy.reads must be a frozenset of {', '.join(FEATURES)}; got {reads!r}.")


def reads_novice(policy: Policy) -> bool:
    return bool(policy.reads & {"novice_hidden", "novice_logits"})


def reads_expert(policy: Policy) -> bool:
    return bool(policy.reads & {"expert_hidden", "expert_logits"})


def stateless_reset(state: PyTree, done: jnp.ndarray) -> PyTree:
    del done
    return state


def stack_params(candidates: list[PyTree]) -> PyTree:
    """[params, ...] -> one pytree with a leading candidate axis."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *candidates)


def to_python(params: PyTree, max_size: int = 16) -> PyTree:
    """Params as JSON-friendly Python values, for results files; arrays larger than `max_size`
    (network weights) are described by their shape instead."""

    def leaf(x):
        x = np.asarray(x)
        return x.tolist() if x.size <= max_size else f"array{list(x.shape)}"

    return jax.tree_util.tree_map(leaf, params)
