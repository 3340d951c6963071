"""Evaluation on a JAX-native environment: the whole rollout is one jitted `lax.scan`.

Reset, step, both agents, the coordinator and the episode counts all run on the device; the host only
receives the per-episode counts at the end. Same interface and same results layout as `Evaluator`
(candidate-major slots, each slot's first episode, costs applied afterwards), so every algorithm, the
cost sweep and `duo_jax.main` use it unchanged.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from duo_jax.core.coordination import coord_step_fn, episode_keys, init_coord_state
from duo_jax.core.distributed import replicate, shard_batch, to_host
from duo_jax.core.evaluator import EPISODE_FIELDS, NO_COSTS, Evaluator, count_step, stream_key
from duo_jax.core.policy import Policy
from duo_jax.core.progress import progress_bar


class JaxSplit(NamedTuple):
    """A split of a JAX-native env family: the env (`reset(key, params)`, `step(key, state, action, params)`,
    optionally `step_env(key, state, action, params)` without auto-reset), its params, and
    `level_keys(num_episodes, seed) -> [num_episodes] reset keys` (its fixed levels)."""

    env: Any
    env_params: Any
    level_keys: Any


# The progress bar of the rollout in flight, advanced from inside the scan by a host callback.
_BAR: list = [None]
PROGRESS_EVERY = 8  # steps between callbacks: each is a device-to-host sync
ENV_STREAM = 2      # the env's share of an episode's step key (the policy and the base action use the others)


def _tick(t, active):
    bar = _BAR[0]
    if bar is not None:  # absolute, so repeated calls (one per device) are harmless
        bar.n = min(bar.total, int(np.asarray(t).ravel()[0]) + PROGRESS_EVERY)
        bar.set_postfix(running=int(np.asarray(active).sum()), refresh=False)
        bar.refresh()


@functools.lru_cache(maxsize=32)
def _compiled_rollout(env, policy: Policy, novice_apply, expert_apply, C: int, N: int, T: int, open_expert: bool,
                      temperature: float, progress: bool):
    step_fn = coord_step_fn(policy, novice_apply, expert_apply, C, open_expert, temperature, bucket_expert=True)
    reset = jax.vmap(env.reset, in_axes=(0, None))
    if hasattr(env, "step_env"):
        # Only first episodes count, so ended episodes need no reset: step without the auto-reset's work.
        env_step = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))
    else:
        env_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    @jax.jit
    def rollout(params, novice_params, expert_params, env_params, level_keys, episodes, key):
        obs, state = reset(level_keys, env_params)
        tile = lambda x: jnp.broadcast_to(x[None], (C, *x.shape)).reshape(C * N, *x.shape[1:])  # noqa: E731
        obs, state = jax.tree_util.tree_map(tile, (obs, state))
        B = C * N
        counts = {name: jnp.zeros(B, jnp.float32 if name == "base_reward" else jnp.int32) for name in EPISODE_FIELDS}
        episodes = jnp.tile(episodes, C)
        carry = (obs, state, init_coord_state(policy, C, B), jnp.ones(B, bool), jnp.ones(B, bool), counts)

        def body(carry):
            t, (obs, state, cstate, first, active, counts) = carry
            if progress:
                jax.lax.cond(t % PROGRESS_EVERY == 0, lambda: jax.debug.callback(_tick, t, active), lambda: None)
            keys = episode_keys(key, episodes, jnp.full(B, t))  # each episode's own stream, as on the host
            env_action, action, _, new_cstate = step_fn(
                params, novice_params, expert_params, cstate, obs, first, NO_COSTS, keys
            )
            env_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, ENV_STREAM)
            obs, state, reward, terminated, truncated = env_step(env_keys, state, env_action, env_params)[:5]
            done = terminated | truncated
            counts = count_step(counts, action, cstate.prev_action, first, active, reward)
            return t + 1, (obs, state, new_cstate, done, active & ~done, counts)

        # Until every slot's first episode has ended (or T steps): later steps would change no count.
        _, carry = jax.lax.while_loop(lambda c: (c[0] < T) & c[1][4].any(), body, (jnp.int32(0), carry))
        return carry[5], carry[4]

    return rollout


@dataclass
class JaxEvaluator(Evaluator):
    """An `Evaluator` whose split is a `JaxSplit` (its `make_env` is unused)."""

    jax_split: JaxSplit | None = None

    def rollout(self, policy: Policy, params: Any, key: jax.Array | None = None) -> dict:
        key = stream_key(self.seed, self.split) if key is None else key
        C = jax.tree_util.tree_leaves(params)[0].shape[0]
        N = self.num_envs
        run = _compiled_rollout(
            self.jax_split.env, policy, self.novice.apply, self.expert.apply, C, N, self.max_num_steps,
            bool(self.open_expert), float(self.temperature), bool(self.progress),
        )
        keys = self.jax_split.level_keys(self.num_episodes, self.seed)
        parts, capped = [], 0
        for r in range(self.num_episodes // N):
            _BAR[0] = progress_bar(
                total=self.max_num_steps, desc=f"{self.split} x{C}", disable=not self.progress, leave=False
            )
            try:
                episodes = jnp.arange(r * N, (r + 1) * N)
                # Several processes: the episodes are spread over all their devices, the rest replicated.
                counts, active = run(
                    *replicate((params, self.novice.params, self.expert.params, self.jax_split.env_params)),
                    shard_batch(keys[episodes]),
                    shard_batch(episodes),
                    replicate(key),
                )
                counts, active = to_host((counts, active))
            finally:
                _BAR[0].close()
                _BAR[0] = None
            capped += int(active.sum())
            parts.append({name: np.asarray(v).reshape(C, N) for name, v in counts.items()})
        logging.info(
            "%s: %d of %d episodes hit the %d-step cap", self.split, capped, C * self.num_episodes, self.max_num_steps
        )
        return {name: np.concatenate([p[name] for p in parts], axis=1) for name in EPISODE_FIELDS}
