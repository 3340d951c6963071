"""A base agent (novice or expert) as the coordination engine sees it: a network's apply, its params, its
config; and how it samples an action. Loading, building and training agents live in `duo_jax.agents`."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Agent(NamedTuple):
    """`apply(params, obs) -> (logits, value, hidden)`; `stats` holds its measured test reward and length."""

    apply: Any
    params: Any
    config: dict

    @property
    def stats(self) -> dict:
        return self.config.get("stats", {})


def sample_action(logits: jnp.ndarray, key: jax.Array, temperature: float = 1.0) -> jnp.ndarray:
    return jax.random.categorical(key, logits / temperature, axis=-1)
