"""Cost and switch accounting, and the jitted coordination step."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import EXPERT_ACTION, NOVICE_ACTION, OBS_SHAPE, const_agent

import duo_jax
from duo_jax import EXPERT, NOVICE, Costs, Policy, make_coord_step, stack_params
from duo_jax.core.coordination import step_cost
from duo_jax.core.policy import stateless_reset

E, N = EXPERT, NOVICE
COSTS = Costs(alpha=0.5, beta=0.25, bp=2.0)   # expert step costs 1.0, a switch 0.5


def costs_of(actions, firsts, costs=COSTS, prev=None):
    """Run step_cost along a [T, B] sequence, carrying prev_action as the coordination step does."""
    actions, firsts = np.asarray(actions), np.asarray(firsts, bool)
    prev = np.zeros(actions.shape[1], np.int32) if prev is None else prev
    out = []
    for a, f in zip(actions, firsts):
        out.append(np.asarray(step_cost(jnp.asarray(a), jnp.asarray(prev), jnp.asarray(f), costs)))
        prev = a
    return np.stack(out)


def test_expert_step_costs_alpha_bp():
    got = costs_of([[E, N]], [[True, True]], Costs(0.4, 0.0, 0.1))
    np.testing.assert_allclose(got, [[0.04, 0.0]], rtol=1e-6)


def test_hand_computed_single_env_sequence():
    actions = [[E], [E], [N], [N], [E], [N]]
    firsts = [[True], [False], [False], [True], [False], [False]]
    # t0 expert at first step (no switch); t1 expert; t2 switch; t3 new episode; t4 expert+switch; t5 switch
    np.testing.assert_allclose(costs_of(actions, firsts)[:, 0], [1.0, 1.0, 0.5, 0.0, 1.5, 0.5], rtol=1e-6)


def test_no_switch_cost_at_episode_first_step():
    # env 0 switches N->E exactly at a new episode's first step: only the expert step is charged.
    got = costs_of([[N, N], [E, E]], [[True, True], [True, False]])
    np.testing.assert_allclose(got[1], [1.0, 1.5], rtol=1e-6)


def test_single_env_switch_is_charged():
    # The reference charged switches only when more than one env switched: a lone switch must count.
    got = costs_of([[N, N, N], [E, N, N]], [[True] * 3, [False] * 3])
    np.testing.assert_allclose(got[1], [1.5, 0.0, 0.0], rtol=1e-6)


def test_zero_beta_never_charges_switches():
    got = costs_of([[E, N], [N, E], [E, N]], [[True, True], [False, False], [False, False]], Costs(0.5, 0.0, 2.0))
    np.testing.assert_allclose(got, [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], rtol=1e-6)


# -- make_coord_step end to end with constant agents --------------------------------------------

NOVICE_AGENT = const_agent(NOVICE_ACTION)
EXPERT_AGENT = const_agent(EXPERT_ACTION)


def obs_batch(b):
    return jnp.zeros((b, *OBS_SHAPE), jnp.uint8)


def test_env_action_is_expert_action_where_expert_picked():
    policy = duo_jax.make_policy("random")
    init, step = make_coord_step(policy, NOVICE_AGENT, EXPERT_AGENT, num_candidates=1)
    b = 64
    state = init(b)
    first = np.ones(b, bool)
    seen = set()
    for t in range(3):
        env_action, action, cost, state = step(
            stack_params([{"prob": 0.5}]), state, obs_batch(b), first, COSTS, jax.random.PRNGKey(t)
        )
        env_action, action = np.asarray(env_action), np.asarray(action)
        np.testing.assert_array_equal(env_action, np.where(action == EXPERT, EXPERT_ACTION, NOVICE_ACTION))
        seen.update(action.tolist())
        first = np.zeros(b, bool)
    assert seen == {EXPERT, NOVICE}


def test_candidate_major_slots_and_costs():
    policy = duo_jax.make_policy("ask_every_k")
    C, n = 2, 3
    params = stack_params([{"k": 1}, {"k": 2}])
    init, step = make_coord_step(policy, NOVICE_AGENT, EXPERT_AGENT, num_candidates=C)
    state = init(C * n)
    first = np.ones(C * n, bool)
    prev = np.zeros(C * n, np.int32)
    for t in range(4):
        env_action, action, cost, state = step(params, state, obs_batch(C * n), first, COSTS, jax.random.PRNGKey(t))
        action = np.asarray(action)
        expected = np.array([E] * n + [E if t % 2 == 0 else N] * n)   # slots c*n + i run candidate c
        np.testing.assert_array_equal(action, expected)
        np.testing.assert_array_equal(np.asarray(env_action), np.where(expected == E, EXPERT_ACTION, NOVICE_ACTION))
        want = np.asarray(step_cost(jnp.asarray(expected), jnp.asarray(prev), jnp.asarray(first), COSTS))
        np.testing.assert_allclose(np.asarray(cost), want, rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(state.prev_action), expected)
        prev, first = expected, np.zeros(C * n, bool)
    # k=2 candidate switches every step after the first: expert steps cost 1.0 + 0.5, novice steps 0.5
    np.testing.assert_allclose(np.asarray(cost)[n:], 0.5)


def test_first_flag_resets_policy_counter():
    policy = duo_jax.make_policy("ask_every_k")
    init, step = make_coord_step(policy, NOVICE_AGENT, EXPERT_AGENT, num_candidates=1)
    params = stack_params([{"k": 3}])
    state = init(2)
    firsts = [[True, True], [False, False], [False, True], [False, False]]
    got = []
    for t, f in enumerate(firsts):
        _, action, _, state = step(params, state, obs_batch(2), np.array(f), COSTS, jax.random.PRNGKey(t))
        got.append(np.asarray(action))
    np.testing.assert_array_equal(np.stack(got), [[E, E], [N, N], [N, E], [E, N]])


@pytest.mark.parametrize("open_expert", [False, True])
def test_coordinator_obs_keys(open_expert):
    seen = {}

    def act(params, state, obs, key):
        seen["keys"] = set(obs)
        seen["shapes"] = {k: v.shape for k, v in obs.items()}
        return jnp.zeros(obs["base_obs"].shape[0], jnp.int32), state

    policy = Policy(lambda n: jnp.zeros((n,), jnp.int32), stateless_reset, act)
    init, step = make_coord_step(policy, NOVICE_AGENT, EXPERT_AGENT, num_candidates=2, open_expert=open_expert)
    step(stack_params([{"x": 0}, {"x": 1}]), init(4), obs_batch(4), np.ones(4, bool), COSTS, jax.random.PRNGKey(0))
    base = {"base_obs", "novice_hidden", "novice_logits"}
    assert seen["keys"] == (base | {"expert_hidden", "expert_logits"} if open_expert else base)
    # act runs on each slot as a batch of one (vmapped), so its draws come from that slot's key alone
    assert seen["shapes"]["base_obs"] == (1, *OBS_SHAPE)
    assert seen["shapes"]["novice_logits"] == (1, 5)


def test_num_envs_must_be_multiple_of_candidates():
    init, _ = make_coord_step(duo_jax.make_policy("always"), NOVICE_AGENT, EXPERT_AGENT, num_candidates=3)
    with pytest.raises(ValueError, match=r"num_envs \(4\) must be a multiple of the number of candidates \(3\)"):
        init(4)


def obs_agent(num_actions: int = 5) -> duo_jax.Agent:
    """An agent whose logits depend on each env's own frame, so a mixed-up gather would show."""

    def apply(params, obs):
        x = obs.astype(jnp.float32).reshape(obs.shape[0], -1)[:, :num_actions] * params["s"]
        return x, jnp.zeros(obs.shape[0]), x

    return duo_jax.Agent(apply, {"s": jnp.float32(0.05)}, {"model": "obs", "num_actions": num_actions})


@pytest.mark.parametrize("prob", [0.0, 0.05, 0.2, 0.4, 1.0])
def test_expert_bucket_gives_the_actions_of_the_full_expert_pass(prob):
    """The expert run only on the envs that asked (every bucket size, by prob) samples the same actions."""
    b = 64
    obs = jnp.asarray(np.random.default_rng(0).integers(0, 255, (b, *OBS_SHAPE)), jnp.uint8)
    keys = jax.random.split(jax.random.PRNGKey(1), b)
    params = stack_params([{"prob": prob}])
    got = []
    for bucket in (False, True):
        init, step = make_coord_step(duo_jax.make_policy("random"), obs_agent(), obs_agent(), 1, bucket_expert=bucket)
        env_action, action, _, _ = step(params, init(b), obs, np.ones(b, bool), COSTS, keys)
        got.append((np.asarray(env_action), np.asarray(action)))
    np.testing.assert_array_equal(got[0][1], got[1][1])
    np.testing.assert_array_equal(got[0][0], got[1][0])
    assert got[0][1].mean() == pytest.approx(prob, abs=0.1)
    assert len(set(got[0][0].tolist())) > 1


def test_expert_bucket_sizes():
    from duo_jax.core.coordination import buckets

    assert buckets(64) == (0, 8, 16, 32, 64)
    assert buckets(2) == (0, 1, 2)


@pytest.mark.parametrize(
    "costs, alpha_price, beta_price",
    [
        (Costs(0.4, 0.1, 0.0457), 0.02, 0.0),    # 0.01828 -> 0.02; 0.00457 -> 0 (below half a cent)
        (Costs(0.2, 1.0, 0.9), 0.18, 0.9),
        (Costs(0.04, 0.0, 0.1), 0.0, 0.0),       # 0.004: free
    ],
)
def test_round_to_cents_charges_the_references_prices(costs, alpha_price, beta_price):
    from duo_jax.core.coordination import cost_of, round_to_cents

    rounded = round_to_cents(costs)
    assert rounded.bp == costs.bp
    assert cost_of(1, 0, rounded) == pytest.approx(alpha_price, abs=1e-12)
    assert cost_of(0, 1, rounded) == pytest.approx(beta_price, abs=1e-12)
    assert round_to_cents(Costs(0.4, 0.1, -1.0)) == Costs(0.4, 0.1, -1.0)   # no cost unit: unchanged
