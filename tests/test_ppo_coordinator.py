"""The PPO coordinator (algorithm "ppo"): GAE with truncations, learning on a probe task whose right
decision is known, every feature type, resume after a crash, and config checks."""
from __future__ import annotations

import copy
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import load_config

import duo_jax
from duo_jax.agents.agent import Agent
from duo_jax.agents.ppo import Diverged, gae
from duo_jax.coordinators.features import FEATURE_TYPES
from duo_jax.coordinators.ppo import _check_ppo
from duo_jax.coordinators.ppo_network import coordinator_apply
from duo_jax.core.checkpoint import load_checkpoint
from duo_jax.core.coordination import Costs, coordinator_obs
from duo_jax.core.curves import read_csv, read_events
from duo_jax.core.environment import EnvFamily
from duo_jax.core.evaluator import Evaluator, summarize
from duo_jax.core.policy import EXPERT, NOVICE
from duo_jax.core.task import TrainTask

# ---------------------------------------------------------------------------------------------------------
# GAE


def gae_loop(reward, value, done, last_value, gamma, lam, truncated=None, truncation_value=None):
    """Plain GAE; a truncated step bootstraps from truncation_value[t] and cuts the trace like any done."""
    T, B = reward.shape
    if truncated is None:
        truncated, truncation_value = np.zeros((T, B)), np.zeros((T, B))
    adv = np.zeros((T, B))
    for b in range(B):
        next_adv, next_value = 0.0, float(last_value[b])
        for t in reversed(range(T)):
            if truncated[t, b]:
                bootstrap = truncation_value[t, b]
            elif done[t, b]:
                bootstrap = 0.0
            else:
                bootstrap = next_value
            delta = reward[t, b] + gamma * bootstrap - value[t, b]
            next_adv = delta + (0.0 if done[t, b] else gamma * lam * next_adv)
            adv[t, b] = next_adv
            next_value = value[t, b]
    return adv, adv + value


def _random_rollout(seed, T=11, B=5):
    rng = np.random.default_rng(seed)
    reward = rng.normal(size=(T, B)).astype(np.float32)
    value = rng.normal(size=(T, B)).astype(np.float32)
    done = rng.random((T, B)) < 0.25
    last_value = rng.normal(size=B).astype(np.float32)
    return rng, reward, value, done, last_value


@pytest.mark.parametrize("gamma, lam", [(0.99, 0.95), (0.9, 1.0), (0.5, 0.0)])
def test_gae_with_dones_matches_loop(gamma, lam):
    _, reward, value, done, last_value = _random_rollout(0)
    assert done.any() and not done.all()
    adv, ret = gae(jnp.asarray(reward), jnp.asarray(value), jnp.asarray(done, jnp.float32), jnp.asarray(last_value),
                   gamma, lam)
    want_adv, want_ret = gae_loop(reward, value, done, last_value, gamma, lam)
    np.testing.assert_allclose(np.asarray(adv), want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), want_ret, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), np.asarray(adv) + value, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("gamma, lam", [(0.99, 0.95), (0.9, 1.0)])
def test_gae_with_truncations_matches_loop(gamma, lam):
    rng, reward, value, done, last_value = _random_rollout(1)
    truncated = done & (rng.random(done.shape) < 0.5)        # a truncation is an episode end too
    truncation_value = np.where(truncated, rng.normal(size=done.shape) * 3, 0.0).astype(np.float32)
    assert truncated.any() and (done & ~truncated).any()
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    adv, ret = gae(f32(reward), f32(value), f32(done), f32(last_value), gamma, lam, f32(truncated),
                   f32(truncation_value))
    want_adv, want_ret = gae_loop(reward, value, done, last_value, gamma, lam, truncated, truncation_value)
    np.testing.assert_allclose(np.asarray(adv), want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), want_ret, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), np.asarray(adv) + value, rtol=1e-6, atol=1e-6)
    # Truncation matters: treating those steps as terminal gives other advantages.
    plain, _ = gae(f32(reward), f32(value), f32(done), f32(last_value), gamma, lam)
    assert not np.allclose(np.asarray(plain), np.asarray(adv))


def test_gae_truncated_step_bootstraps_from_truncation_value():
    # T=2, one env: step 0 is truncated (bootstrap 5, not V(s_1)=3), step 1 bootstraps from last_value=7.
    f = lambda *x: jnp.asarray(x, jnp.float32)[:, None]  # noqa: E731
    adv, ret = gae(f(1.0, 2.0), f(0.5, 3.0), f(1.0, 0.0), jnp.array([7.0]), 0.9, 0.8, f(1.0, 0.0), f(5.0, 0.0))
    assert float(adv[1, 0]) == pytest.approx(2.0 + 0.9 * 7.0 - 3.0)
    assert float(adv[0, 0]) == pytest.approx(1.0 + 0.9 * 5.0 - 0.5)       # trace cut: no lam * adv[1]
    assert float(ret[0, 0]) == pytest.approx(1.0 + 0.9 * 5.0)


# ---------------------------------------------------------------------------------------------------------
# A probe task: asking the expert pays only in marked states.

NUM_ACTIONS = 4
GOOD_ACTION = 1                # earns MARK_REWARD in a marked state; nothing else earns anything
MARK_REWARD = 1.0
MARK_PROB = 0.3
PROBE_OBS = (20, 20, 3)        # the smallest frame the feature CNN (8x8/4 then 4x4/2, VALID) accepts
EPISODE_LEN = 8
BRIGHT, DARK = 200, 40         # frame brightness of marked / unmarked states
COSTS = Costs(alpha=1.0, beta=0.0, bp=0.3)  # an expert step costs 0.3 < 1 - 1/NUM_ACTIONS, the gain in a marked state


class EnvCrash(RuntimeError):
    pass


class ProbeEnv:
    """Host vector env. Slot i replays the same episode of EPISODE_LEN steps: step t is marked (a bright
    frame) where `marks[i, t]`. The env state is only the step counter (saved and restored with
    `get_state`/`set_state`, as Procgen's). `crash_after`: raise EnvCrash on that many-th call of step();
    `nan_after`: from that many-th call on, rewards are NaN."""

    def __init__(self, num_envs: int, seed: int = 0, episode_len: int = EPISODE_LEN, crash_after: int | None = None,
                 mark_prob: float = MARK_PROB, nan_after: int | None = None):
        self.num_envs, self.episode_len = num_envs, episode_len
        self.crash_after, self.nan_after = crash_after, nan_after
        self.marks = np.random.default_rng(seed).random((num_envs, episode_len)) < mark_prob
        self.t = np.zeros(num_envs, np.int64)
        self.calls = 0

    def get_state(self) -> list[bytes]:
        return [int(t).to_bytes(8, "little") for t in self.t]

    def set_state(self, states) -> np.ndarray:
        self.t = np.array([int.from_bytes(s, "little") for s in states], np.int64)
        return self._obs()

    def marked(self) -> np.ndarray:
        return self.marks[np.arange(self.num_envs), self.t]

    def _obs(self) -> np.ndarray:
        obs = np.full((self.num_envs, *PROBE_OBS), DARK, np.uint8)
        obs[self.marked()] = BRIGHT
        return obs

    def reset(self) -> np.ndarray:
        self.t[:] = 0
        return self._obs()

    def step(self, action):
        self.calls += 1
        if self.crash_after is not None and self.calls >= self.crash_after:
            raise EnvCrash(f"env crashed at step call {self.calls}")
        action = np.asarray(action)
        assert action.shape == (self.num_envs,)
        reward = np.where(self.marked() & (action == GOOD_ACTION), MARK_REWARD, 0.0).astype(np.float32)
        if self.nan_after is not None and self.calls >= self.nan_after:
            reward[:] = np.nan
        self.t += 1
        done = self.t >= self.episode_len
        self.t[done] = 0
        return self._obs(), reward, done


class ProbeLevelEnv(ProbeEnv):
    """ProbeEnv slots that play fixed episodes (a `LevelEnv`): episode e carries the marks of row e."""

    def __init__(self, num_episodes: int, num_envs: int, seed: int, mark_prob: float = MARK_PROB):
        super().__init__(num_envs, seed, mark_prob=mark_prob)
        self.levels = np.random.default_rng(seed).random((num_episodes, self.episode_len)) < mark_prob
        self.load(np.arange(num_envs), np.arange(num_envs) % num_episodes)

    def load(self, slots, episodes):
        self.marks[slots], self.t[slots] = self.levels[episodes], 0

    def observe(self) -> np.ndarray:
        return self._obs()

    def compact(self, slots):
        new = copy.copy(self)
        new.num_envs, new.marks, new.t = len(slots), self.marks[slots].copy(), self.t[slots].copy()
        return new


def _mark(obs):
    return (obs[:, 0, 0, 0] > (BRIGHT + DARK) // 2).astype(jnp.float32)


def novice_apply(params, obs):
    """Confident in unmarked states (a useless action), uniform in marked ones; its hidden shows the mark."""
    m = _mark(obs)
    confident = jax.nn.one_hot(0, NUM_ACTIONS) * params["scale"]
    logits = (1.0 - m)[:, None] * confident[None, :]
    hidden = jnp.stack([m, 1.0 - m, jnp.zeros_like(m), jnp.ones_like(m)], axis=-1)
    return logits, jnp.zeros_like(m), hidden


def expert_apply(params, obs):
    """Always the good action."""
    b = obs.shape[0]
    logits = jnp.broadcast_to(jax.nn.one_hot(GOOD_ACTION, NUM_ACTIONS) * params["scale"], (b, NUM_ACTIONS))
    return logits, jnp.zeros((b,)), jnp.zeros((b, 4))


NOVICE_AGENT = Agent(novice_apply, {"scale": jnp.float32(10.0)}, {"model": "probe_novice", "num_actions": NUM_ACTIONS})
EXPERT_AGENT = Agent(expert_apply, {"scale": jnp.float32(1e4)}, {"model": "probe_expert", "num_actions": NUM_ACTIONS})


def probe_family(
    crash_after: int | None = None, created: list | None = None, nan_after: int | None = None
) -> EnvFamily:
    def make_train_env(split, num_envs, seed):
        env = ProbeEnv(num_envs, seed=seed, crash_after=crash_after, nan_after=nan_after)
        if created is not None:
            created.append(env)
        return env

    def make_eval_env(split, num_episodes, num_envs, seed):
        return ProbeLevelEnv(num_episodes, num_envs, seed=1000)

    return EnvFamily("probe", ("train", "val_sim", "val_true"), NUM_ACTIONS, PROBE_OBS, make_train_env, make_eval_env)


def probe_task(workdir, crash_after=None, created=None, nan_after=None) -> TrainTask:
    family = probe_family(crash_after, created, nan_after)
    return TrainTask(
        "train",
        family,
        NOVICE_AGENT,
        EXPERT_AGENT,
        COSTS,
        workdir=str(workdir),
        logdir=os.path.join(str(workdir), "curves"),
    )


def probe_validators(splits=("val_sim",), num_episodes=8, flat=False) -> dict[str, Evaluator]:
    """Evaluators on fixed probe levels. `flat`: no marks and no costs, so every policy scores 0 and only the
    first evaluation is ever the best (the others still differ in expert_fraction)."""

    def make_env(num_slots):
        return ProbeLevelEnv(num_episodes, num_slots, seed=1000, mark_prob=0.0 if flat else MARK_PROB)

    costs = Costs(0.0, 0.0, COSTS.bp) if flat else COSTS
    return {
        s: Evaluator(
            s,
            make_env,
            NOVICE_AGENT,
            EXPERT_AGENT,
            costs,
            num_episodes=num_episodes,
            num_envs=num_episodes,
            max_num_steps=EPISODE_LEN,
            progress=False,
        )
        for s in splits
    }


def ppo_config(
    feature_type="dist", *, num_envs=16, num_steps=EPISODE_LEN, iterations=2, eval_every=1, seed=0, **algorithm
):
    c = load_config("ppo")
    c.seed = seed
    c.policy.feature_type = feature_type
    c.policy.hidden_dim = 16
    a = c.algorithm
    a.num_envs, a.num_steps = num_envs, num_steps
    a.total_steps = iterations * num_envs * num_steps
    a.num_epochs, a.num_minibatches = 2, 2
    a.eval_every = eval_every
    a.gamma = 0.9
    for k, v in algorithm.items():
        a[k] = v
    return c


_POLICIES: dict = {}


def ppo_policy(config):
    """One policy object per (feature_type, hidden_dim, greedy), so the evaluator's jitted step is reused
    (the tests also share num_envs=16 and 8 evaluation episodes, so the jitted steps compile once)."""
    p = config.policy
    key = (p.feature_type, p.hidden_dim, p.greedy)
    if key not in _POLICIES:
        _POLICIES[key] = duo_jax.make_policy("ppo", p)
    return _POLICIES[key]


def run_ppo(config, task, validators, key=0):
    spec = duo_jax.make_algorithm("ppo")
    spec.check(config)
    return spec.run(jax.random.PRNGKey(key), ppo_policy(config), task, validators, config)


def probe_cobs():
    """Coordinator observations of one marked and one unmarked state."""
    obs = np.full((2, *PROBE_OBS), DARK, np.uint8)
    obs[0] = BRIGHT
    obs = jnp.asarray(obs)
    return coordinator_obs(obs, novice_apply(NOVICE_AGENT.params, obs), expert_apply(EXPERT_AGENT.params, obs), False)


def expert_probability(params, config) -> np.ndarray:
    """P(EXPERT) of the learned network on [marked, unmarked]."""
    logits, _, _ = coordinator_apply(config.policy.feature_type, config.policy.hidden_dim)(params, probe_cobs())
    return np.asarray(jax.nn.softmax(logits, -1)[:, EXPERT])


def assert_trees_close(a, b, rtol=1e-6, atol=1e-7):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_probe_env_and_agents():
    """The probe is what the tests below assume: the expert earns 1 in a marked state, the novice 1/4, else 0."""
    env = ProbeEnv(4, seed=3)
    obs = env.reset()
    marked = env.marked()
    np.testing.assert_array_equal(np.asarray(_mark(jnp.asarray(obs))), marked)
    probs = np.asarray(jax.nn.softmax(novice_apply(NOVICE_AGENT.params, jnp.asarray(obs))[0], -1))
    np.testing.assert_allclose(probs[marked], 1.0 / NUM_ACTIONS, rtol=1e-6)
    assert (probs[~marked, 0] > 0.99).all()
    _, reward, done = env.step(np.full(4, GOOD_ACTION))
    np.testing.assert_array_equal(reward, marked.astype(np.float32))
    assert not done.any()
    for _ in range(EPISODE_LEN - 1):
        _, _, done = env.step(np.zeros(4, int))
    assert done.all() and (env.t == 0).all()


# ---------------------------------------------------------------------------------------------------------
# PPO on the probe task


def test_ppo_learns_to_ask_only_in_marked_states(tmp_path):
    c = ppo_config("dist", iterations=15, eval_every=15, learning_rate=0.01, num_epochs=4, num_minibatches=4)
    run_ppo(c, probe_task(tmp_path), probe_validators())
    policy, params, meta = duo_jax.load_policy(str(tmp_path / "final"))
    assert meta["policy"] == "ppo" and meta["iteration"] == 15
    p_marked, p_unmarked = expert_probability(params, c)
    assert p_marked > 0.8, (p_marked, p_unmarked)
    assert p_unmarked < 0.2, (p_marked, p_unmarked)

    # Acting greedily, the loaded policy is the optimal coordinator: the expert exactly in marked states.
    c.policy.greedy = True
    greedy = duo_jax.make_policy("ppo", c.policy)
    action, _ = greedy.act(params, greedy.init(2), probe_cobs(), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(action), [EXPERT, NOVICE])


class FixedValidator:
    """Scores any params with the same episodes, without a rollout (so nothing to compile: the real Evaluator
    runs in the other PPO tests); records what it was asked to evaluate."""

    def __init__(self, reward: float):
        self.reward, self.seen = reward, []

    def evaluate(self, policy, params, key, costs=None):
        self.seen.append((policy, params))
        return [summarize(np.full(4, self.reward), np.full(4, self.reward), np.full(4, EPISODE_LEN), np.ones(4))]


@pytest.mark.parametrize("feature_type", FEATURE_TYPES)
def test_every_feature_type_trains_and_saves_best(tmp_path, feature_type):
    # One iteration, so two evaluations: the initial policy's and the trained one's.
    c = ppo_config(feature_type, iterations=1, num_epochs=1, num_minibatches=1)
    validators = {"val_sim": FixedValidator(1.0), "val_true": FixedValidator(2.0)}
    result = run_ppo(c, probe_task(tmp_path), validators)
    assert set(result.best_params) == set(result.best_summary) == {"val_sim", "val_true"}
    for split, params in result.best_params.items():
        leaves = jax.tree_util.tree_leaves(params)
        assert leaves and all(np.isfinite(np.asarray(x)).all() for x in leaves)
        assert result.best_summary[split]["reward_mean"] == validators[split].reward
        assert [row["iteration"] for row in result.candidates[split]] == [0, 1]
        # Equal rewards keep the earlier policy: the initial one is the best.
        (policy, stacked), _ = validators[split].seen  # the ppo policy, params with a candidate axis
        assert policy is ppo_policy(c)
        assert_trees_close(stacked, jax.tree_util.tree_map(lambda x: x[None], params), rtol=0, atol=0)
        policy, loaded, meta = duo_jax.load_policy(str(tmp_path / f"best_{split}"))
        assert meta["policy"] == "ppo" and meta["selected_on"] == split and meta["iteration"] == 0
        assert meta["policy_config"]["feature_type"] == feature_type
        assert meta["summary"] == pytest.approx(result.best_summary[split])
        assert_trees_close(loaded, params, rtol=0, atol=0)
        # The loaded policy acts on a coordinator observation.
        action, _ = policy.act(loaded, policy.init(2), probe_cobs(), jax.random.PRNGKey(0))
        assert set(np.asarray(action).tolist()) <= {NOVICE, EXPERT}
    _, final, meta = duo_jax.load_policy(str(tmp_path / "final"))
    assert meta["iteration"] == 1
    with pytest.raises(AssertionError):  # one update changed the params
        assert_trees_close(final, result.best_params["val_sim"])


class RisingValidator:
    """A real evaluator whose reward_mean is raised by 1 more at each call: every evaluation is a new best."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator, self.calls = evaluator, 0

    def evaluate(self, policy, params, key, costs=None):
        self.calls += 1
        summaries = self.evaluator.evaluate(policy, params, key, costs)
        return [dict(s, reward_mean=s["reward_mean"] + self.calls) for s in summaries]


def test_later_better_evaluation_overwrites_best(tmp_path):
    c = ppo_config("dist", iterations=2, eval_every=1)
    validators = {s: RisingValidator(v) for s, v in probe_validators(("val_sim",)).items()}
    result = run_ppo(c, probe_task(tmp_path), validators)
    assert [row["iteration"] for row in result.candidates["val_sim"]] == [0, 1, 2]
    assert result.best_summary["val_sim"]["reward_mean"] == result.candidates["val_sim"][2]["reward_mean"]
    _, final, _ = duo_jax.load_policy(str(tmp_path / "final"))
    _, best, meta = duo_jax.load_policy(str(tmp_path / "best_val_sim"))
    assert meta["iteration"] == 2
    assert_trees_close(best, final, rtol=0, atol=0)
    assert_trees_close(result.best_params["val_sim"], final, rtol=0, atol=0)
    # Rerunning a finished run (e.g. the experiment died after PPO returned) gives back the same result;
    # it saves `final` again, the same save that crashes.
    validators = {s: RisingValidator(v) for s, v in probe_validators(("val_sim",)).items()}
    again = run_ppo(c, probe_task(tmp_path), validators)
    assert len(again.candidates["val_sim"]) == 3
    for row, want in zip(again.candidates["val_sim"], result.candidates["val_sim"]):
        assert row == pytest.approx(want)
    assert_trees_close(again.best_params["val_sim"], final, rtol=0, atol=0)


def test_resume_after_crash_equals_uninterrupted_run(tmp_path):
    """4 iterations of 5 steps (episodes of 8 cross the iterations' boundaries), checkpoints every 2. The env
    crashes 3 steps into iteration 4, after the checkpoint at 2 and iteration 3's curves; a rerun then finishes
    from that checkpoint (the envs' states, the return normaliser's, the episode statistics) bit for bit like a
    run that never crashed, and its curves hold each step once. The validators are flat (every policy scores 0)."""
    iterations, eval_every, T, crash_iteration = 4, 2, EPISODE_LEN - 3, 4
    splits = ("val_sim", "val_true")
    c = ppo_config("dist", iterations=iterations, eval_every=eval_every, num_steps=T, time_limit=6)
    want = run_ppo(c, probe_task(tmp_path / "straight"), probe_validators(splits, flat=True))
    want_final = duo_jax.load_policy(str(tmp_path / "straight" / "final"))[1]

    workdir, crashed = tmp_path / "crashed", []
    with pytest.raises(EnvCrash):
        run_ppo(
            c,
            probe_task(workdir, crash_after=(crash_iteration - 1) * T + 3, created=crashed),
            probe_validators(splits, flat=True),
        )
    assert crashed[0].calls == (crash_iteration - 1) * T + 3 and not (workdir / "final").exists()
    assert read_csv(str(workdir / "curves"))["loss/pg_loss"][0].tolist() == [80, 160, 240]  # iteration 3 logged
    resumed_envs = []
    got = run_ppo(c, probe_task(workdir, created=resumed_envs), probe_validators(splits, flat=True))
    assert resumed_envs[0].calls == (iterations - 2) * T  # it resumed from the checkpoint at 2, not restarted

    _, got_final, meta = duo_jax.load_policy(str(workdir / "final"))
    assert meta["iteration"] == iterations
    assert_trees_close(got_final, want_final, rtol=0, atol=0)
    with pytest.raises(AssertionError):  # iterations 3-4 changed the params: the comparison has teeth
        assert_trees_close(want.best_params["val_sim"], want_final)
    assert got.candidates.keys() == want.candidates.keys()
    for split in splits:
        assert [r["iteration"] for r in got.candidates[split]] == [0, 2, 4]
        assert got.best_summary[split]["reward_mean"] == 0.0
        assert got.candidates[split] == want.candidates[split]
        assert got.best_summary[split] == want.best_summary[split]
        assert_trees_close(got.best_params[split], want.best_params[split], rtol=0, atol=0)

    # The curves, at env steps (16 envs x 5 steps per iteration): losses every iteration, training episodes
    # where one ended (steps 8 and 16: iterations 2 and 4), validation at each evaluation (the first at step 0).
    want_curves = read_csv(str(tmp_path / "straight" / "curves"))
    losses = [f"loss/{k}" for k in ("approx_kl", "entropy", "pg_loss", "vf_loss")]
    train = ["train/episode_length", "train/expert_fraction", "train/return"]
    val = [f"val/{s}/{f}" for s in splits for f in ("episode_length_mean", "expert_fraction", "reward_mean")]
    assert sorted(want_curves) == losses + train + val
    for tag, (steps, _) in want_curves.items():
        want_steps = {"loss": [80, 160, 240, 320], "train": [160, 320], "val": [0, 160, 320]}[tag.split("/")[0]]
        assert steps.tolist() == want_steps, tag
    np.testing.assert_array_equal(want_curves["train/episode_length"][1], [EPISODE_LEN, EPISODE_LEN])
    np.testing.assert_array_equal(want_curves["val/val_sim/reward_mean"][1], [0.0, 0.0, 0.0])
    for split in splits:
        np.testing.assert_array_equal(
            want_curves[f"val/{split}/expert_fraction"][1], [r["expert_fraction"] for r in want.candidates[split]]
        )
    # The crashed run had logged iteration 3; its rerun logged it again in place of the old rows.
    for got_curves in (read_csv(str(workdir / "curves")), read_events(str(workdir / "curves"))):
        assert sorted(got_curves) == sorted(want_curves)
        for tag, (steps, values) in want_curves.items():
            np.testing.assert_array_equal(got_curves[tag][0], steps, err_msg=tag)
            np.testing.assert_allclose(got_curves[tag][1], values, rtol=1e-6, err_msg=tag)


def test_nan_reward_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    """NaN rewards from iteration 3 on: training stops there with one sentence, before anything is saved."""
    c = ppo_config("dist", iterations=4, eval_every=2)
    with pytest.raises(Diverged) as err:
        run_ppo(c, probe_task(tmp_path, nan_after=2 * EPISODE_LEN + 1), probe_validators(flat=True))
    last = str(tmp_path / "last")
    assert str(err.value) == f"training diverged at iteration 3: pg_loss is nan; the last good checkpoint is at {last}."
    params, meta = load_checkpoint(last)
    assert meta["iteration"] == 2 and not (tmp_path / "final").exists()
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(params))


# ---------------------------------------------------------------------------------------------------------
# Config checks


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda c: setattr(c.algorithm, "num_minibatches", 3), "algorithm.num_minibatches"),  # 8*8 % 3
        (lambda c: setattr(c.algorithm, "total_steps", 63), "algorithm.total_steps"),  # < 8*8
        (lambda c: setattr(c.policy, "feature_type", "pixels"), "policy.feature_type"),
        (lambda c: setattr(c.policy, "name", "always"), "policy.name"),
        (lambda c: setattr(c.algorithm, "num_envs", 0), "algorithm.num_envs"),
        (lambda c: setattr(c.algorithm, "num_steps", -8), "algorithm.num_steps"),
        (lambda c: setattr(c.algorithm, "eval_every", 0), "algorithm.eval_every"),
        (lambda c: setattr(c.algorithm, "time_limit", 0), "algorithm.time_limit"),
        (lambda c: setattr(c.algorithm, "num_epochs", True), "algorithm.num_epochs"),
        (lambda c: setattr(c.algorithm, "learning_rate", 0.0), "algorithm.learning_rate"),
        (lambda c: setattr(c.algorithm, "gamma", 1.5), "algorithm.gamma"),
        (lambda c: setattr(c.algorithm, "clip_eps", -0.1), "algorithm.clip_eps"),
    ],
)
def test_bad_config_raises_naming_the_field(edit, field):
    c = ppo_config("dist", num_envs=8, num_steps=8, iterations=2)
    _check_ppo(c)  # the unedited config is valid
    edit(c)
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        _check_ppo(c)


def test_shipped_ppo_config_is_valid():
    c = load_config("ppo")
    _check_ppo(c)
    duo_jax.make_algorithm("ppo").check(c)
