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


SHRINK, MIN_SLOTS = 8, 16  # a staged rollout's stages: each keeps an eighth of the slots, at least 16


def stage_sizes(B: int, staged: bool = True) -> tuple[int, ...]:
    """Slots (all candidates together) of each stage of a rollout of B slots."""
    sizes = [B]
    while staged and sizes[-1] % SHRINK == 0 and sizes[-1] // SHRINK >= MIN_SLOTS:
        sizes.append(sizes[-1] // SHRINK)
    return tuple(sizes)


@functools.lru_cache(maxsize=32)
def _compiled_rollout(env, policy: Policy, novice_apply, expert_apply, C: int, N: int, T: int, open_expert: bool,
                      temperature: float, progress: bool, staged: bool):
    """`staged`: the rollout runs in stages of fewer and fewer slots (`stage_sizes`): once at most an eighth
    of all slots are still in their first episode, whatever candidates they play, those are gathered into a
    smaller batch, so a few long episodes (an agent stuck until the step cap, a candidate that never asks) do
    not step the whole batch. Each episode keeps its own random stream and env state, so the counts are those
    of one full-size loop."""
    step_fn = coord_step_fn(policy, novice_apply, expert_apply, C, open_expert, temperature, bucket_expert=True)
    reset = jax.vmap(env.reset, in_axes=(0, None))
    if hasattr(env, "step_env"):
        # Only first episodes count, so ended episodes need no reset: step without the auto-reset's work.
        env_step = jax.vmap(env.step_env, in_axes=(0, 0, 0, None))
    else:
        env_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    B = C * N
    sizes = stage_sizes(B, staged)

    def stage(key, env_params, params, novice_params, expert_params, episodes, cand, next_size, t, carry):
        """Steps until every slot's first episode has ended, T steps, or at most `next_size` slots still run.
        `cand` None: the first stage's candidate-major slots; else the candidate of each slot."""

        def body(loop):
            t, (obs, state, cstate, first, active, counts) = loop
            if progress:
                jax.lax.cond(t % PROGRESS_EVERY == 0, lambda: jax.debug.callback(_tick, t, active), lambda: None)
            keys = episode_keys(key, episodes, jnp.full(episodes.shape, t))  # each episode's own stream
            env_action, action, _, new_cstate = step_fn(
                params, novice_params, expert_params, cstate, obs, first, NO_COSTS, keys, cand=cand
            )
            env_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, ENV_STREAM)
            obs, state, reward, terminated, truncated = env_step(env_keys, state, env_action, env_params)[:5]
            done = terminated | truncated
            counts = count_step(counts, action, cstate.prev_action, first, active, reward)
            return t + 1, (obs, state, new_cstate, done, active & ~done, counts)

        def running(loop):
            return (loop[0] < T) & (loop[1][4].sum() > next_size)

        return jax.lax.while_loop(running, body, (t, carry))

    def shrink(carry, episodes, slot, n: int, first_stage: bool):
        """The running slots (at most n) gathered into n rows; the rest are padding (slot B). The policy state
        goes from candidate-major [C, N] (the first stage) or per slot [C, m] to per slot [C, n]."""
        obs, state, cstate, first, active, counts = carry
        rows = jnp.nonzero(active, size=n, fill_value=0)[0]
        real = jnp.arange(n) < active.sum()
        take = lambda x: x[rows]  # noqa: E731
        if first_stage:
            own = lambda x: x[rows // N, rows % N]  # noqa: E731
            pstate = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(own(x)[None], (C, *own(x).shape)),
                                            cstate.policy_state)
        else:
            pstate = jax.tree_util.tree_map(lambda x: x[:, rows], cstate.policy_state)
        cstate = cstate._replace(policy_state=pstate, prev_action=take(cstate.prev_action))
        carry = (take(obs), jax.tree_util.tree_map(take, state), cstate, take(first), take(active) & real,
                 jax.tree_util.tree_map(take, counts))
        return carry, take(episodes), jnp.where(real, slot[rows], B)

    @jax.jit
    def rollout(params, novice_params, expert_params, env_params, level_keys, episodes, key):
        obs, state = reset(level_keys, env_params)
        tile = lambda x: jnp.broadcast_to(x[None], (C, *x.shape)).reshape(B, *x.shape[1:])  # noqa: E731
        obs, state = jax.tree_util.tree_map(tile, (obs, state))
        counts = {name: jnp.zeros(B, jnp.float32 if name == "base_reward" else jnp.int32) for name in EPISODE_FIELDS}
        episodes = jnp.tile(episodes, C)
        carry = (obs, state, init_coord_state(policy, C, B), jnp.ones(B, bool), jnp.ones(B, bool), counts)
        final, capped, slot, cand, t = counts, jnp.zeros(B, bool), jnp.arange(B), None, jnp.int32(0)
        for i, size in enumerate(sizes):
            if i:
                carry, episodes, slot = shrink(carry, episodes, slot, size, first_stage=i == 1)
                cand = jnp.minimum(slot // N, C - 1)  # slot c*N + n plays candidate c (padding: any)
            next_size = sizes[i + 1] if i + 1 < len(sizes) else 0
            t, carry = stage(key, env_params, params, novice_params, expert_params, episodes, cand, next_size, t,
                             carry)
            # The counts so far of this stage's slots (padding rows point past the end and are dropped).
            final = {k: final[k].at[slot].set(carry[5][k], mode="drop") for k in final}
            capped = capped.at[slot].set(carry[4], mode="drop")
        return final, capped

    return rollout


@dataclass
class JaxEvaluator(Evaluator):
    """An `Evaluator` whose split is a `JaxSplit` (its `make_env` is unused). `staged`: rollouts in stages of
    fewer slots (see `_compiled_rollout`), for a validator called many times (PPO's): each stage is stepped
    faster but adds to the program's compile time, which a rollout played once or twice does not win back
    (the counts are the same either way)."""

    jax_split: JaxSplit | None = None
    staged: bool = False

    def rollout(self, policy: Policy, params: Any, key: jax.Array | None = None) -> dict:
        key = stream_key(self.seed, self.split) if key is None else key
        C = jax.tree_util.tree_leaves(params)[0].shape[0]
        N = self.num_envs
        run = _compiled_rollout(
            self.jax_split.env, policy, self.novice.apply, self.expert.apply, C, N, self.max_num_steps,
            bool(self.open_expert), float(self.temperature), bool(self.progress), bool(self.staged),
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
