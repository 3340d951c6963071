"""States visited by the novice acting alone on the training split: the data logit thresholds and
OOD detectors are fitted on (the reference's `_generate_scores` / `_generate_data`).

Each of `num_episodes` fixed levels of the split contributes its first episode; every step of it is
recorded, or a random `keep_prob` fraction of them (the reference's `accept_rate`). The env steps on the
host; the novice's forward pass is one jit call per step over all envs.
"""
from __future__ import annotations

import functools

import jax
import numpy as np

from duo_jax.agents.agent import sample_action
from duo_jax.core.progress import progress_bar
from duo_jax.core.task import TrainTask


@functools.lru_cache(maxsize=8)
def _novice_step(apply):
    @jax.jit
    def step(params, obs, key, temperature):
        logits, _, hidden = apply(params, obs)
        return sample_action(logits, key, temperature), logits, hidden

    return step


def novice_rollouts(key: jax.Array, task: TrainTask, num_episodes: int, num_envs: int, max_num_steps: int = 256,
                    temperature: float = 1.0, keep_prob: float = 1.0, with_obs: bool = False, seed: int = 0,
                    progress: bool = True) -> dict[str, np.ndarray]:
    """{"novice_logits": [M, A], "novice_hidden": [M, H], and "base_obs": [M, ...] if `with_obs`}: one row per
    kept step."""
    step = _novice_step(task.novice.apply)
    rng = np.random.default_rng(np.asarray(key))
    rows = {"novice_logits": [], "novice_hidden": [], **({"base_obs": []} if with_obs else {})}
    rounds = num_episodes // num_envs
    bar = progress_bar(total=rounds * max_num_steps, desc=f"novice on {task.split}", disable=not progress, leave=False)
    env = task.make_fixed_env(num_episodes, num_envs, seed)
    for r in range(rounds):
        env.load(np.arange(num_envs), r * num_envs + np.arange(num_envs))
        obs, active = env.observe(), np.ones(env.num_envs, bool)
        for _ in range(max_num_steps):
            key, k = jax.random.split(key)
            action, logits, hidden = jax.device_get(step(task.novice.params, obs, k, temperature))
            keep = active & (rng.random(env.num_envs) < keep_prob)
            rows["novice_logits"].append(logits[keep])
            rows["novice_hidden"].append(hidden[keep])
            if with_obs:
                rows["base_obs"].append(obs[keep])
            obs, _, done = env.step(action)
            active &= ~done
            bar.update()
            if not active.any():
                break
    bar.close()
    return {name: np.concatenate(parts) for name, parts in rows.items()}
