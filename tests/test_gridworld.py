"""JAX MiniGrid tasks against Farama MiniGrid: layouts, step-by-step dynamics and observations; auto-reset,
vmap/jit, the registry. Comparisons skip cleanly without `minigrid`."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from duo_jax.envs.gridworld import EnvState, make, names, state_from_minigrid, tasks
from duo_jax.envs.gridworld.constants import (
    CLOSED,
    DIR_TO_VEC,
    DOOR,
    DROP,
    FORWARD,
    GOAL,
    KEY,
    LAVA,
    LEFT,
    LOCKED,
    OPEN,
    PICKUP,
    TOGGLE,
)

NAMES = ["DistShift1", "DistShift2", "LavaGapS5", "LavaGapS6", "LavaGapS7", "DoorKey-5x5", "DoorKey-6x6",
         "DoorKey-8x8"]
RANDOM = [n for n in NAMES if not n.startswith("DistShift")]
ACTION_PROBS = np.array([0.12, 0.12, 0.36, 0.12, 0.08, 0.15, 0.05])  # left right forward pickup drop toggle done


@pytest.fixture(scope="module")
def farama():
    """`farama(env, **kwargs)`: the unwrapped Farama env registered under env.farama_id."""
    pytest.importorskip("minigrid")
    import gymnasium as gym

    return lambda env, **kwargs: gym.make(env.farama_id, **kwargs).unwrapped


@functools.cache
def jitted(name: str, method: str):
    """One compiled function per env and method, shared by the tests (eager calls would recompile scans)."""
    env = make(name)
    if method == "batched_reset":
        return jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    if method == "build":
        builder = tasks.lavagap_layout if name.startswith("LavaGap") else tasks.doorkey_layout
        return jax.jit(functools.partial(builder, env.width))
    return jax.jit(getattr(env, method))


def resets(name: str, num: int, seed: int = 0) -> list[EnvState]:
    env = make(name)
    _, states = jitted(name, "batched_reset")(jax.random.split(jax.random.PRNGKey(seed), num), env.default_params())
    states = jax.tree.map(np.asarray, states)
    return [jax.tree.map(lambda x, i=i: x[i], states) for i in range(num)]


def cells(state: EnvState, obj: int) -> list[tuple[int, int]]:
    ys, xs = np.nonzero(np.asarray(state.grid)[..., 0] == obj)
    return [(int(x), int(y)) for x, y in zip(xs, ys)]


def choices(name: str, state: EnvState) -> list[int]:
    """The values Farama's `_gen_grid` draws with `_rand_int`, in its order, read off a layout."""
    if name.startswith("LavaGap"):
        lava = cells(state, LAVA)
        gap_x = lava[0][0]
        gap_y = next(y for y in range(1, state.grid.shape[0] - 1) if (gap_x, y) not in lava)
        return [gap_x, gap_y]
    (door_x, door_y), = cells(state, DOOR)
    (key_x, key_y), = cells(state, KEY)
    agent_x, agent_y = (int(v) for v in state.agent_pos)
    return [door_x, agent_x, agent_y, int(state.agent_dir), door_y, key_x, key_y]


def build(name: str, values: list[int]) -> jnp.ndarray:
    """Our layout builder applied to a Farama layout's random choices."""
    if name.startswith("LavaGap"):
        return jitted(name, "build")(np.array(values))
    split, _, _, _, door_row, key_x, key_y = values
    return jitted(name, "build")(split, door_row, np.array([key_x, key_y]))


def assert_same_state(state: EnvState, fenv, where: str = "") -> None:
    ref = state_from_minigrid(fenv)
    for field in EnvState._fields:
        np.testing.assert_array_equal(getattr(state, field), getattr(ref, field), err_msg=f"{field} {where}")


def layout_key(state: EnvState) -> tuple:
    return np.asarray(state.grid).tobytes(), tuple(np.asarray(state.agent_pos)), int(state.agent_dir)


# --- registry ---------------------------------------------------------------------------------------------

def test_names_and_unknown_name():
    assert sorted(NAMES) == names()
    with pytest.raises(ValueError) as error:
        make("DoorKey-7x7")
    assert all(name in str(error.value) for name in NAMES)
    env = make("DoorKey-8x8")
    assert env.num_actions == 7 and env.obs_shape == (7, 7, 3)


def test_settings_match_farama(farama):
    for name in NAMES:
        env, fenv = make(name), farama(make(name))
        assert (env.width, env.height) == (fenv.width, fenv.height), name
        assert env.default_params().max_steps == fenv.max_steps, name
        assert env.see_through_walls == fenv.see_through_walls, name


# --- layouts ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["DistShift1", "DistShift2"])
def test_distshift_reset_equals_farama(farama, name):
    env = make(name)
    fenv = farama(env)
    fobs, _ = fenv.reset(seed=0)
    obs, state = jitted(name, "reset")(jax.random.PRNGKey(0), env.default_params())
    assert_same_state(state, fenv)
    np.testing.assert_array_equal(obs, fobs["image"])


@pytest.mark.parametrize("name", RANDOM)
def test_farama_layouts_rebuilt_from_their_choices(farama, name):
    """Every Farama layout is the one our builder makes from the same random choices."""
    env = make(name)
    fenv = farama(env)
    for seed in range(20):
        fobs, _ = fenv.reset(seed=seed)
        ref = state_from_minigrid(fenv)
        np.testing.assert_array_equal(build(name, choices(name, ref)), ref.grid, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(jitted(name, "observe")(ref), fobs["image"])


@pytest.mark.parametrize("name", RANDOM)
def test_our_layouts_are_farama_layouts(farama, name):
    """Each of our resets, its choices fed to Farama's `_gen_grid` as the values of `_rand_int`, is exactly the
    layout Farama makes: every choice lies in Farama's range and none is rejected (no redraw)."""
    env = make(name)
    fenv = farama(env)
    for state in resets(name, 64):
        script = iter(choices(name, state))

        def rand_int(low, high, script=script):
            value = next(script, None)
            assert value is not None, "Farama rejected a choice and drew again"
            assert low <= value < high
            return value

        fenv._rand_int = rand_int
        fenv.reset()
        assert next(script, None) is None
        assert_same_state(state, fenv)


@pytest.mark.parametrize("name", ["LavaGapS5", "LavaGapS6", "LavaGapS7", "DoorKey-5x5"])
def test_same_layout_support_as_farama(farama, name):
    """Where the layouts are few (3 to 48), ours and Farama's seeds produce the same set."""
    fenv = farama(make(name))
    theirs = set()
    for seed in range(1000):
        fenv.reset(seed=seed)
        theirs.add(layout_key(state_from_minigrid(fenv)))
    ours = {layout_key(state) for state in resets(name, 1024)}
    assert ours == theirs


@pytest.mark.parametrize("name", ["DoorKey-6x6", "DoorKey-8x8"])
def test_doorkey_choices_cover_farama_ranges(name):
    size = make(name).width
    drawn = np.array([choices(name, state) for state in resets(name, 1024)])
    split, agent, agent_dir, door = drawn[:, 0], drawn[:, 1:3], drawn[:, 3], drawn[:, 4]
    assert set(split) == set(range(2, size - 2))
    assert set(agent_dir) == set(range(4)) and set(door) == set(range(1, size - 2))
    for s in range(2, size - 2):  # the agent and the key range over the whole left room
        room = {(x, y) for x in range(1, s) for y in range(1, size - 1)}
        assert {tuple(a) for a in agent[split == s]} == room
        assert {tuple(k) for k in drawn[split == s, 5:7]} == room


# --- dynamics ---------------------------------------------------------------------------------------------

def scramble(fenv, rng) -> None:
    """Farama side: put the agent on a random empty cell, often facing a door, goal, key or lava; maybe hand
    it the key and unlock (and open) the door, so short random walks reach all the interesting transitions."""
    from minigrid.core.world_object import Key

    grid = fenv.grid
    free = {(x, y) for x in range(grid.width) for y in range(grid.height) if grid.get(x, y) is None}
    facing = {}  # object type -> [(cell next to one, direction facing it)]
    for x in range(grid.width):
        for y in range(grid.height):
            cell = grid.get(x, y)
            if cell is not None and cell.type in ("door", "goal", "key", "lava"):
                spots = [((x - dx, y - dy), d) for d, (dx, dy) in enumerate(DIR_TO_VEC) if (x - dx, y - dy) in free]
                facing.setdefault(cell.type, []).extend(spots)
    if facing and rng.random() < 0.8:
        spots = list(facing.values())[rng.integers(len(facing))]
        fenv.agent_pos, fenv.agent_dir = spots[rng.integers(len(spots))]
    else:
        fenv.agent_pos, fenv.agent_dir = sorted(free)[rng.integers(len(free))], int(rng.integers(4))
    for x in range(grid.width):
        for y in range(grid.height):
            cell = grid.get(x, y)
            if isinstance(cell, Key) and rng.random() < 0.5 and (x, y) != tuple(fenv.front_pos):
                grid.set(x, y, None)
                fenv.carrying = cell
            elif cell is not None and cell.type == "door" and rng.random() < 0.5:
                cell.is_locked, cell.is_open = False, bool(rng.random() < 0.5)


def random_action(fenv, rng) -> int:
    """Random, but keen on the cell ahead: toggles doors and picks up keys half the time it faces them."""
    ahead = fenv.grid.get(*fenv.front_pos)
    if ahead is not None and ahead.type in ("door", "key") and rng.random() < 0.5:
        return TOGGLE if ahead.type == "door" else PICKUP
    return int(rng.choice(len(ACTION_PROBS), p=ACTION_PROBS))


@pytest.mark.parametrize("name", NAMES)
def test_dynamics_match_farama(farama, name):
    """Same start states (Farama resets, two in three scrambled), same random actions: obs, reward,
    terminated, truncated and the whole state agree at every step."""
    env = make(name)
    max_steps = 20
    fenv = farama(env, max_steps=max_steps)
    params = env.default_params()._replace(max_steps=max_steps)
    step, observe = jitted(name, "transition"), jitted(name, "observe")
    rng = np.random.default_rng(NAMES.index(name))
    seen = dict.fromkeys(["truncated", "goal", "lava", "pickup", "drop", "unlock", "swing"], 0)
    episode = 0

    def start():
        fobs, _ = fenv.reset(seed=100 * NAMES.index(name) + episode)
        if episode % 3:
            scramble(fenv, rng)
            fobs = fenv.gen_obs()
        state = state_from_minigrid(fenv)
        np.testing.assert_array_equal(observe(state), fobs["image"])
        return state

    state = start()
    for t in range(500):
        action = random_action(fenv, rng)
        before = state
        fobs, freward, fterminated, ftruncated, _ = fenv.step(action)
        obs, state, reward, terminated, truncated = step(state, action, params)
        where = f"at step {t} (episode {episode}, action {action})"
        np.testing.assert_array_equal(obs, fobs["image"], err_msg=where)
        assert np.isclose(reward, freward, atol=1e-6), where
        assert (bool(terminated), bool(truncated)) == (fterminated, ftruncated), where
        assert_same_state(state, fenv, where)

        doors = [tuple(np.asarray(s.grid)[y, x]) for s in (before, state) for x, y in cells(s, DOOR)]
        seen["truncated"] += ftruncated
        seen["goal"] += freward > 0
        seen["lava"] += fterminated and freward == 0
        seen["pickup"] += action == PICKUP and int(before.carrying[0]) != int(state.carrying[0])
        seen["drop"] += action == DROP and int(before.carrying[0]) != int(state.carrying[0])
        seen["unlock"] += bool(doors) and doors[0][2] == LOCKED and doors[1][2] == OPEN
        seen["swing"] += action == TOGGLE and bool(doors) and {doors[0][2], doors[1][2]} == {OPEN, CLOSED}
        if fterminated or ftruncated:
            episode += 1
            state = start()

    needed = ["truncated", "goal"] + (["pickup", "drop", "unlock", "swing"] if "DoorKey" in name else ["lava"])
    assert all(seen[k] for k in needed), str(seen)


# --- auto-reset, jit, vmap --------------------------------------------------------------------------------

def test_step_auto_resets_after_lava_and_truncation():
    env = make("DistShift1")
    params = env.default_params()
    step = jitted("DistShift1", "step")
    key = jax.random.PRNGKey(0)
    obs0, state0 = jitted("DistShift1", "reset")(key, params)

    _, state, _, terminated, _, _ = step(key, state0, FORWARD, params)       # to (2, 1)
    assert not terminated
    obs, state, reward, terminated, truncated, info = step(key, state, FORWARD, params)  # into lava at (3, 1)
    assert bool(terminated) and not bool(truncated) and float(reward) == 0.0
    assert int(info["episode_length"]) == 2 and not np.array_equal(info["final_obs"], obs0)
    np.testing.assert_array_equal(obs, obs0)
    jax.tree.map(np.testing.assert_array_equal, state, state0)

    short = params._replace(max_steps=3)
    state = state0
    for t in range(3):
        obs, state, reward, terminated, truncated, info = step(key, state, LEFT, short)
        assert bool(truncated) == (t == 2) and not bool(terminated)
    jax.tree.map(np.testing.assert_array_equal, state, state0)


def test_goal_reward_and_fresh_random_episode():
    env = make("DoorKey-5x5")
    params = env.default_params()
    key, reset_key = jax.random.split(jax.random.PRNGKey(1))
    reset, step = jitted("DoorKey-5x5", "reset"), jitted("DoorKey-5x5", "step")
    _, state = reset(key, params)
    # The right room is column 3; facing down from (3, 2), the goal (3, 3) is ahead.
    state = state._replace(agent_pos=jnp.array([3, 2], jnp.int32), agent_dir=jnp.int32(1), step_count=jnp.int32(9))
    obs, state, reward, terminated, truncated, info = step(reset_key, state, FORWARD, params)
    assert bool(terminated) and not bool(truncated)
    assert np.isclose(reward, 1 - 0.9 * 10 / 250) and np.isclose(info["episode_return"], reward)
    fresh_obs, fresh = reset(jax.random.split(reset_key)[1], params)   # step's reset key
    jax.tree.map(np.testing.assert_array_equal, state, fresh)
    np.testing.assert_array_equal(obs, fresh_obs)
    assert cells(fresh, GOAL) == [(3, 3)]


@pytest.mark.parametrize("name", ["LavaGapS5", "DoorKey-5x5"])
def test_vmapped_scan_rollout(name):
    env = make(name)
    params = env.default_params()._replace(max_steps=8)
    num_envs, num_steps = 8, 20
    observe = jax.vmap(env.observe)

    def body(carry, key):
        k_act, k_step = jax.random.split(key)
        actions = jax.random.randint(k_act, (num_envs,), 0, env.num_actions)
        obs, states, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k_step, num_envs), carry, actions, params)
        return states, (obs, states, observe(states), terminated | truncated)

    @jax.jit
    def rollout(key):
        k_reset, k_steps = jax.random.split(key)
        _, states = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(k_reset, num_envs), params)
        return jax.lax.scan(body, states, jax.random.split(k_steps, num_steps))[1]

    obs, states, again, done = rollout(jax.random.PRNGKey(0))
    assert obs.shape == (num_steps, num_envs, 7, 7, 3) and obs.dtype == jnp.uint8
    assert bool(done[:8].any(axis=0).all())  # every first episode ends by step 8 (truncation)
    count = np.asarray(states.step_count)
    np.testing.assert_array_equal(count[done], 0)
    np.testing.assert_array_equal(count[1:][~done[1:]], count[:-1][~done[1:]] + 1)
    np.testing.assert_array_equal(obs, again)


@pytest.mark.parametrize("noise", [0.0, 0.1, 1.0])
def test_action_noise_replaces_the_action_by_a_uniform_one(noise):
    """DistShift1's agent starts facing right: LEFT turns it up (dir 3), RIGHT down (1), the other five
    actions leave its direction. With noise p, LEFT is taken with probability 1 - p + p/7."""
    env = make("DistShift1")
    params = env.default_params(action_noise=noise)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    keys = jax.random.split(jax.random.PRNGKey(1), 20000)
    _, after, *_ = jax.jit(jax.vmap(env.step_env, in_axes=(0, None, None, None)))(keys, state, LEFT, params)
    dirs = np.asarray(after.agent_dir)
    assert int(state.agent_dir) == 0
    np.testing.assert_allclose((dirs == 3).mean(), 1 - noise + noise / 7, atol=0.01)
    np.testing.assert_allclose((dirs == 1).mean(), noise / 7, atol=0.01)
    if noise == 0.0:   # no noise: exactly the deterministic transition
        jax.tree.map(np.testing.assert_array_equal, env.transition(state, LEFT, params)[1],
                     jax.tree.map(lambda x: x[0], after))
