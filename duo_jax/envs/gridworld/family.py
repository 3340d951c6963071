"""The "gridworld" environment family: the YRC-Bench MiniGrid tasks with a train task and a shifted test task.

    --config.env.name=gridworld --config.env.game=doorkey [--config.env.action_noise=0.1]

Splits as for Procgen: `train` and `val_sim` play the train task, `val_true` and `test` the test task.
A level is a reset key: each split draws its fixed levels from its own key stream, so the splits never
share levels. Evaluation runs fully in JAX (`jax_split`); the host-env adapter `JaxVecEnv` serves the
algorithms that step envs from the host (novice rollouts, the PPO coordinator). Every split applies the
paper's random-action noise, `env.action_noise` (default 0.1).
"""
from __future__ import annotations

import copy
import functools

import jax
import jax.numpy as jnp
import numpy as np

from duo_jax.core.environment import EnvFamily
from duo_jax.core.jax_evaluator import JaxSplit
from duo_jax.core.registry import register_environment
from duo_jax.envs.gridworld.constants import NUM_ACTIONS, VIEW_SIZE
from duo_jax.envs.gridworld.env import make

# game -> (train task, test task), the paper's distribution shifts.
GAMES = {
    "distshift": ("DistShift1", "DistShift2"),
    "lavagap": ("LavaGapS5", "LavaGapS7"),
    "doorkey": ("DoorKey-5x5", "DoorKey-8x8"),
}
SPLITS = {"train": 0, "val_sim": 1, "val_true": 2, "test": 3}
ACTION_NOISE = 0.1  # YRC-Bench's MiniGrid setting: the env takes a random action with this probability
TEST_SPLITS = ("val_true", "test")


def check_game(game: str) -> None:
    if game not in GAMES:
        raise ValueError(f"env.game must be one of {', '.join(GAMES)} for the gridworld family; got {game!r}.")


def check_action_noise(noise, field: str = "env.action_noise") -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0.0 <= noise <= 1.0:
        raise ValueError(f"{field} must be a probability between 0 and 1; got {noise!r}.")
    return float(noise)


def task_of(game: str, split: str) -> str:
    return GAMES[game][1 if split in TEST_SPLITS else 0]


def level_keys(split: str, num_episodes: int, seed: int) -> jax.Array:
    """The split's fixed levels: `num_episodes` reset keys from the split's own stream."""
    base = jax.random.fold_in(jax.random.PRNGKey(seed), SPLITS[split])
    return jax.random.split(base, num_episodes)


@functools.lru_cache(maxsize=32)
def _vec_fns(env):
    """The batch's jitted reset, step, and load: reset the slots where `mask` from their `keys`, keep the
    others (every slot is passed, so the shapes, and the compiled function, never change)."""
    reset = jax.vmap(env.reset, in_axes=(0, None))

    def load(obs, state, keys, mask, params):
        new_obs, new_state = reset(keys, params)

        def pick(new, old):
            return jnp.where(mask.reshape(-1, *[1] * (old.ndim - 1)), new, old)

        return pick(new_obs, obs), jax.tree_util.tree_map(pick, new_state, state)

    return jax.jit(reset), jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None))), jax.jit(load)


class JaxVecEnv:
    """A JAX env batch behind the host-env interface (`reset() -> obs`, `step(a) -> (obs, reward, done)`)."""

    def __init__(self, env, keys: jax.Array, seed: int = 0, params=None):
        self.num_envs = int(keys.shape[0])
        self._reset, self._step, self._load = _vec_fns(env)
        self._params = env.default_params() if params is None else params
        self._obs, self._state = self._reset(keys, self._params)
        self._key = jax.random.PRNGKey(seed + 7919)

    def observe(self) -> np.ndarray:
        return np.asarray(self._obs)

    reset = observe  # the batch was reset when it was built

    def step(self, action) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._key, k = jax.random.split(self._key)
        keys = jax.random.split(k, self.num_envs)
        obs, self._state, reward, terminated, truncated, _ = self._step(
            keys, self._state, jnp.asarray(action), self._params
        )
        self._obs = obs
        return np.asarray(obs), np.asarray(reward), np.asarray(terminated | truncated)


class JaxLevelEnv(JaxVecEnv):
    """Slots that play chosen fixed levels (a `LevelEnv`): loading episode e resets its slot with the
    split's level key e."""

    def __init__(self, env, level_keys: jax.Array, num_envs: int, seed: int = 0, params=None):
        self.level_keys = level_keys
        super().__init__(env, level_keys[jnp.arange(num_envs) % level_keys.shape[0]], seed, params)

    def load(self, slots, episodes) -> None:
        episode, mask = np.zeros(self.num_envs, np.int64), np.zeros(self.num_envs, bool)
        episode[slots], mask[slots] = episodes, True
        self._obs, self._state = self._load(self._obs, self._state, self.level_keys[episode], mask, self._params)

    def compact(self, slots) -> JaxLevelEnv:
        new = copy.copy(self)
        slots = jnp.asarray(slots)
        new.num_envs = int(slots.shape[0])
        new._obs, new._state = self._obs[slots], jax.tree_util.tree_map(lambda x: x[slots], self._state)
        return new


def gridworld_family(env_config) -> EnvFamily:
    """`env_config.game`: distshift, lavagap or doorkey; `env_config.action_noise` (default 0.1).

    The host envs draw their noise from their own stream, so on a noisy split the host evaluator's episodes
    differ from the jitted one's (the same without noise); experiments always evaluate with the jitted one.
    """
    game = env_config.game
    check_game(game)
    noise = check_action_noise(env_config.get("action_noise", ACTION_NOISE))

    def make_train_env(split, num_envs, seed=0):
        env = make(task_of(game, split))
        keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 100 + SPLITS[split]), num_envs)
        return JaxVecEnv(env, keys, seed, env.default_params(noise))

    def make_eval_env(split, num_episodes, num_envs, seed=0):
        env = make(task_of(game, split))
        return JaxLevelEnv(env, level_keys(split, num_episodes, seed), num_envs, seed, env.default_params(noise))

    def jax_split(split):
        env = make(task_of(game, split))
        return JaxSplit(env, env.default_params(noise), functools.partial(level_keys, split))

    return EnvFamily(
        name=f"gridworld/{game}",
        splits=tuple(SPLITS),
        num_actions=NUM_ACTIONS,
        obs_shape=(VIEW_SIZE, VIEW_SIZE, 3),
        make_train_env=make_train_env,
        make_eval_env=make_eval_env,
        jax_split=jax_split,
    )


register_environment("gridworld", gridworld_family)
