"""The Evaluator on a scripted host env: first episodes, the step cap, costs and summary fields."""
import jax
import numpy as np
import pytest
from helpers import (
    EXPERT_ACTION,
    NOVICE_ACTION,
    FakeEnv,
    FakeEnvFactory,
    const_agent,
    expected_episode,
    expected_summary,
    uniform_agent,
)

import duo_jax
from duo_jax import Costs, Evaluator, stack_params
from duo_jax.core.evaluator import format_summary, summarize

COSTS = Costs(alpha=0.5, beta=0.25, bp=0.2)
KEY = jax.random.PRNGKey(0)
SUMMARY_FIELDS = {
    "reward_mean", "reward_std", "reward_ci95", "base_reward_mean", "episode_length_mean",
    "episode_length_min", "episode_length_max", "expert_fraction", "episodes",
}


def make_evaluator(lengths, num_envs=None, max_num_steps=32, costs=COSTS, novice=None, expert=None):
    factory = FakeEnvFactory(lengths)
    ev = Evaluator(
        "val_sim", factory, novice or const_agent(NOVICE_ACTION), expert or const_agent(EXPERT_ACTION), costs,
        num_episodes=len(lengths), num_envs=num_envs or len(lengths), max_num_steps=max_num_steps, progress=False,
    )
    return ev, factory


def assert_summary(got: dict, want: dict):
    assert set(got) == SUMMARY_FIELDS
    for name, value in want.items():
        if isinstance(value, int):
            assert got[name] == value, name
        else:
            assert got[name] == pytest.approx(value, rel=1e-5, abs=1e-5), name


def every_k(k):
    return lambda t: t % k == 0


@pytest.mark.parametrize("k", [1, 2, 3])
def test_ask_every_k_matches_hand_computed(k):
    lengths = [5, 7, 4]
    ev, _ = make_evaluator(lengths)
    [got] = ev.evaluate(duo_jax.make_policy("ask_every_k"), stack_params([{"k": k}]), KEY)
    want = expected_summary([expected_episode(every_k(k), L, 32, *COSTS) for L in lengths])
    assert_summary(got, want)


def test_first_episode_only():
    # Slot 0 ends after 2 steps and then plays LATER_REWARD episodes while slot 1 runs 9 steps.
    ev, factory = make_evaluator([2, 9])
    [got] = ev.evaluate(duo_jax.make_policy("always"), stack_params([{"expert": 0}]), KEY)
    assert got["base_reward_mean"] == pytest.approx(FakeEnv.END_REWARD)   # no LATER_REWARD counted
    assert got["episode_length_min"] == 2 and got["episode_length_max"] == 9
    assert len(factory.envs[0].actions) == 9   # the rollout stops once every slot finished its first episode


def test_max_num_steps_cap():
    ev, factory = make_evaluator([3, 50], max_num_steps=10)
    [got] = ev.evaluate(duo_jax.make_policy("always"), stack_params([{"expert": 1}]), KEY)
    want = expected_summary([expected_episode(lambda t: True, L, 10, *COSTS) for L in (3, 50)])
    assert_summary(got, want)
    assert got["episode_length_max"] == 10
    assert len(factory.envs[0].actions) == 10


def test_reward_is_base_reward_minus_costs():
    lengths = [6, 6]
    costs = Costs(alpha=1.0, beta=0.5, bp=0.1)
    ev, _ = make_evaluator(lengths, costs=costs)
    [got] = ev.evaluate(duo_jax.make_policy("ask_every_k"), stack_params([{"k": 2}]), KEY)
    # 6 steps, expert at 0, 2, 4: base 3 + 10; costs 3 * 1.0 * 0.1 + 5 switches * 0.5 * 0.1
    assert got["base_reward_mean"] == pytest.approx(13.0)
    assert got["reward_mean"] == pytest.approx(13.0 - 0.3 - 0.25, rel=1e-5)
    assert got["expert_fraction"] == pytest.approx(0.5)


def test_costs_argument_overrides_evaluator_costs():
    ev, _ = make_evaluator([4])
    [got] = ev.evaluate(duo_jax.make_policy("always"), stack_params([{"expert": 1}]), KEY, costs=Costs(0.0, 0.0, 1.0))
    assert got["reward_mean"] == pytest.approx(got["base_reward_mean"])


def test_expert_fraction_and_novice_only():
    ev, _ = make_evaluator([4, 8])
    novice, expert = ev.evaluate(duo_jax.make_policy("always"), stack_params([{"expert": 0}, {"expert": 1}]), KEY)
    assert novice["expert_fraction"] == 0.0 and expert["expert_fraction"] == 1.0
    assert novice["reward_mean"] == pytest.approx(novice["base_reward_mean"]) == pytest.approx(FakeEnv.END_REWARD)
    # expert: one STEP_REWARD per step, alpha * bp per step
    assert expert["base_reward_mean"] == pytest.approx(10 + 6)
    assert expert["reward_mean"] == pytest.approx(16 - 6 * 0.5 * 0.2, rel=1e-5)


def test_summary_statistics():
    lengths = [2, 5, 9, 3]
    ev, _ = make_evaluator(lengths)
    [got] = ev.evaluate(duo_jax.make_policy("ask_every_k"), stack_params([{"k": 2}]), KEY)
    rewards = np.array([expected_episode(every_k(2), L, 32, *COSTS)["reward"] for L in lengths])
    assert got["reward_std"] == pytest.approx(rewards.std(), rel=1e-5)
    assert got["reward_ci95"] == pytest.approx(1.96 * got["reward_std"] / np.sqrt(4), rel=1e-9)
    assert got["episodes"] == 4
    assert isinstance(got["episodes"], int)
    assert isinstance(got["episode_length_min"], int) and isinstance(got["episode_length_max"], int)
    assert got["episode_length_mean"] == pytest.approx(np.mean(lengths))


def test_candidates_share_levels_in_one_rollout():
    lengths = [5, 7, 4]
    ev, factory = make_evaluator(lengths)
    ks = (1, 2, 5)
    got = ev.evaluate(duo_jax.make_policy("ask_every_k"), stack_params([{"k": k} for k in ks]), KEY)
    assert factory.calls == [9]                               # one env: num_envs slots x 3 candidates
    slots, episodes = factory.envs[0].log["loads"][0]
    np.testing.assert_array_equal(slots, range(9))
    np.testing.assert_array_equal(episodes, [0, 1, 2] * 3)    # candidate-major, same levels
    for summary, k in zip(got, ks):
        assert_summary(summary, expected_summary([expected_episode(every_k(k), L, 32, *COSTS) for L in lengths]))
    first_actions = factory.envs[0].actions[1]   # step 1: k=1 asks the expert, k=2 and k=5 do not
    np.testing.assert_array_equal(first_actions, [EXPERT_ACTION] * 3 + [NOVICE_ACTION] * 6)


def test_slots_play_the_next_pending_episode():
    lengths = [2, 3, 4, 5, 6, 30]
    ev, factory = make_evaluator(lengths, num_envs=2, max_num_steps=20)
    candidates = [{"k": 1}, {"k": 3}]
    got = ev.evaluate(duo_jax.make_policy("ask_every_k"), stack_params(candidates), KEY)
    assert factory.calls == [4]
    loads = factory.envs[0].log["loads"]
    np.testing.assert_array_equal(loads[0][1], [0, 1, 0, 1])
    # every episode is loaded exactly once per candidate, into a slot of that candidate
    for c in range(2):
        started = np.concatenate([e[s // 2 == c] for s, e in loads])
        assert sorted(started.tolist()) == list(range(6))
    for summary, k in zip(got, (1, 3)):
        want = expected_summary([expected_episode(every_k(k), L, 20, *COSTS) for L in lengths])
        assert_summary(summary, want)
        assert summary["episodes"] == 6
        assert summary["episode_length_min"] == 2 and summary["episode_length_max"] == 20
    # two slots per candidate play 2+4+6 and 3+5+20 steps (the 30-step level capped at 20): 28 steps, no slot idle
    # until the last episodes run out
    assert ev.last_stats["counted_steps"] == 2 * (2 + 3 + 4 + 5 + 6 + 20)
    assert ev.last_stats["executed_slot_steps"] == 4 * len(factory.envs[0].actions)


def _episodes(num_envs, lengths, policy="random", params=({"prob": 0.3}, {"prob": 0.7}), max_num_steps=24):
    ev, factory = make_evaluator(lengths, num_envs=num_envs, max_num_steps=max_num_steps, novice=uniform_agent(),
                                 expert=uniform_agent())
    return ev.rollout(duo_jax.make_policy(policy), stack_params(list(params)), jax.random.PRNGKey(3)), ev, factory


def test_schedule_does_not_change_any_episode():
    """Episodes draw from their own index's stream: one episode per slot, a few slots with many episodes each,
    and a batch compacted as episodes run out all give the same per-episode counts."""
    lengths = np.random.default_rng(0).integers(1, 30, size=48).tolist()
    want, _, _ = _episodes(48, lengths)
    for num_envs in (16, 5):
        got, ev, factory = _episodes(num_envs, lengths)
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"{name}, num_envs={num_envs}")
    assert len(factory.envs[0].log["actions"][-1]) < 2 * 16     # the 16-slot run was compacted
    assert want["expert_steps"].sum() > 0 and (want["expert_steps"] < want["length"]).any()   # really random


def test_compaction_keeps_most_slot_steps_useful():
    lengths = np.random.default_rng(1).integers(1, 60, size=256).tolist()
    _, ev, _ = _episodes(32, lengths, policy="always", params=({"expert": 0},), max_num_steps=64)
    assert ev.last_stats["counted_steps"] == sum(min(L, 64) for L in lengths)
    assert ev.last_stats["useful_step_fraction"] > 0.9


def test_k1_equals_always_expert_with_stochastic_agents():
    """Same levels and key: k=1 and always-expert must take the same actions, so give the same summary."""
    lengths = [5, 9, 12, 7]

    def run(policy_name, params):
        ev, factory = make_evaluator(lengths, num_envs=2, novice=uniform_agent(), expert=uniform_agent())
        summary = ev.evaluate(duo_jax.make_policy(policy_name), stack_params([params]), jax.random.PRNGKey(7))[0]
        return summary, np.concatenate([np.stack(e.actions).ravel() for e in factory.envs])

    k1, k1_actions = run("ask_every_k", {"k": 1})
    always, always_actions = run("always", {"expert": 1})
    assert k1 == always
    np.testing.assert_array_equal(k1_actions, always_actions)
    assert len(set(k1_actions.tolist())) > 1        # the agents really are stochastic
    novice, _ = run("always", {"expert": 0})
    assert novice["expert_fraction"] == 0.0 and k1["expert_fraction"] == 1.0


def test_evaluate_is_deterministic_given_key():
    lengths = [5, 9, 12, 7]
    a = make_evaluator(lengths, novice=uniform_agent(), expert=uniform_agent())[0]
    b = make_evaluator(lengths, novice=uniform_agent(), expert=uniform_agent())[0]
    params = stack_params([{"prob": 0.5}, {"prob": 0.2}])
    policy = duo_jax.make_policy("random")
    assert a.evaluate(policy, params, KEY) == b.evaluate(policy, params, KEY)


def test_summarize_and_format():
    s = summarize(np.array([1.0, 3.0]), np.array([2.0, 4.0]), np.array([10, 20]), np.array([5, 5]))
    assert s == pytest.approx({
        "reward_mean": 2.0, "reward_std": 1.0, "reward_ci95": 1.96 / np.sqrt(2), "base_reward_mean": 3.0,
        "episode_length_mean": 15.0, "episode_length_min": 10, "episode_length_max": 20,
        "expert_fraction": 10 / 30, "episodes": 2,
    })
    text = format_summary(s)
    assert "2.000" in text and "2 episodes" in text and "[10, 20]" in text


def test_split_stream_depends_on_seed_and_split_only():
    from duo_jax.core.evaluator import stream_key

    same = stream_key(3, "test"), stream_key(3, "test")
    assert np.array_equal(*map(jax.random.key_data, same))
    for other in (stream_key(4, "test"), stream_key(3, "val_true")):
        assert not np.array_equal(jax.random.key_data(same[0]), jax.random.key_data(other))
