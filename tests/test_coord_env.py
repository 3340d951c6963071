"""The coordination env (`duo_jax.core.coord_env`): who acts, what it costs, what the coordinator sees, and a
cost sweep as a vmap over its params."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from duo_jax.core.agent import Agent
from duo_jax.core.coord_env import CoordEnv, CoordParams
from duo_jax.core.coordination import Costs
from duo_jax.core.policy import EXPERT, NOVICE
from duo_jax.envs.gridworld import make
from duo_jax.envs.gridworld.constants import FORWARD, LEFT

B, T = 6, 40


def scripted(action: int, hidden: float) -> Agent:
    """An agent that always picks `action` (logits 0 there, -1e9 elsewhere) and shows `hidden` as its hidden layer."""

    def apply(params, obs):
        n = obs.shape[0]
        logits = jnp.full((n, 7), -1e9).at[:, action].set(0.0)
        return logits, jnp.zeros(n), jnp.full((n, 4), hidden)

    return Agent(apply, {}, {})


NOVICE_AGENT, EXPERT_AGENT = scripted(LEFT, 1.0), scripted(FORWARD, 2.0)


def rollout(env: CoordEnv, params: CoordParams, actions):
    """Every env of the batch steps through `actions` [T, B]; returns the per-step outputs stacked on [T, B]."""
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(0), B), params)

    def body(carry, xs):
        state, _ = carry
        key, action = xs
        obs, new, reward, terminated, truncated, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(key, B), state, action, params
        )
        return (new, obs), (state, obs, reward, terminated | truncated, info)

    keys = jax.random.split(jax.random.PRNGKey(1), T)
    _, out = jax.lax.scan(body, (state, obs), (keys, actions))
    return out


@pytest.fixture(scope="module")
def distshift():
    base = make("DistShift1")
    return base, base.default_params()._replace(max_steps=7)  # episodes of at most 7 steps: several per env


def test_the_chosen_agent_acts(distshift):
    base, base_params = distshift
    env = CoordEnv(base, NOVICE_AGENT, EXPERT_AGENT)
    actions = jnp.asarray(np.random.default_rng(0).integers(0, 2, (T, B)), jnp.int32)
    before, _, _, done, _ = rollout(env, CoordParams(base_params, Costs(0.0, 0.0, 1.0)), actions)
    # The novice turns left (the direction goes down by one), the expert walks forward (the direction stays).
    before_dir = np.asarray(before.base.agent_dir)
    after_dir = np.roll(before_dir, -1, axis=0)[:-1]  # the direction the step reached, where no reset followed
    keep = ~np.asarray(done)[:-1]
    a = np.asarray(actions)[:-1]
    turned = after_dir == (before_dir[:-1] - 1) % 4
    assert turned[keep & (a == NOVICE)].all() and (after_dir == before_dir[:-1])[keep & (a == EXPERT)].all()
    assert (keep & (a == NOVICE)).sum() > 20 and (keep & (a == EXPERT)).sum() > 20


def test_reward_is_net_of_asking_and_switching(distshift):
    base, base_params = distshift
    env = CoordEnv(base, NOVICE_AGENT, EXPERT_AGENT)
    alpha, beta, bp = 0.3, 0.2, 0.5
    actions = np.random.default_rng(1).integers(0, 2, (T, B))
    _, _, reward, done, info = rollout(env, CoordParams(base_params, Costs(alpha, beta, bp)), jnp.asarray(actions))
    done = np.asarray(done)
    first = np.vstack([np.ones((1, B), bool), done[:-1]])  # the step starts an episode
    prev = np.vstack([np.zeros((1, B), int), actions[:-1]])
    switch = (actions != prev) & ~first
    want_cost = (alpha * (actions == EXPERT) + beta * switch) * bp
    np.testing.assert_allclose(info["cost"], want_cost, rtol=1e-6)
    np.testing.assert_allclose(reward, np.asarray(info["base_reward"]) - want_cost, rtol=1e-6)
    np.testing.assert_array_equal(info["expert"], actions == EXPERT)
    # An episode's return is the sum of its net rewards; the next one starts from 0.
    returns = np.zeros(B)
    for t in range(T):
        returns += np.asarray(reward[t])
        np.testing.assert_allclose(info["episode_return"][t][done[t]], returns[done[t]], rtol=1e-5)
        returns[done[t]] = 0.0
    assert done.sum() >= B * 4


def test_the_observation_holds_what_the_coordinator_reads(distshift):
    base, base_params = distshift
    params = CoordParams(base_params, Costs(0.0, 0.0, 1.0))
    obs, _ = CoordEnv(base, NOVICE_AGENT, EXPERT_AGENT).reset(jax.random.PRNGKey(0), params)
    assert set(obs) == {"base_obs", "novice_hidden", "novice_logits"}  # the expert is closed by default
    assert obs["base_obs"].dtype == jnp.uint8 and obs["base_obs"].shape == (7, 7, 3)
    np.testing.assert_array_equal(obs["novice_hidden"], [1.0] * 4)
    open_env = CoordEnv(base, NOVICE_AGENT, EXPERT_AGENT, open_expert=True, reads={"expert_hidden"})
    obs, _ = open_env.reset(jax.random.PRNGKey(0), params)
    assert set(obs) == {"expert_hidden"}
    np.testing.assert_array_equal(obs["expert_hidden"], [2.0] * 4)
    with pytest.raises(ValueError) as err:
        CoordEnv(base, NOVICE_AGENT, EXPERT_AGENT, reads={"expert_logits"})
    assert str(err.value) == (
        "reads ['expert_logits'] are not shown to the coordinator; it sees ['base_obs', 'novice_hidden', "
        "'novice_logits'] (open_expert=False)."
    )


def test_a_cost_sweep_is_a_vmap_over_params(distshift):
    base, base_params = distshift
    env = CoordEnv(base, NOVICE_AGENT, EXPERT_AGENT)
    alphas = jnp.array([0.0, 0.1, 0.7])
    params = CoordParams(base_params, Costs(alphas, 0.05, 0.5))
    in_axes = CoordParams(None, Costs(0, None, None))
    key = jax.random.PRNGKey(3)
    _, state = env.reset(key, params._replace(costs=Costs(0.0, 0.05, 0.5)))
    step = jax.vmap(env.step, in_axes=(None, None, None, in_axes))
    _, _, reward, _, _, info = step(key, state, jnp.int32(EXPERT), params)
    for i, alpha in enumerate(alphas):
        one = env.step(key, state, jnp.int32(EXPERT), CoordParams(base_params, Costs(alpha, 0.05, 0.5)))
        np.testing.assert_allclose(reward[i], one[2], rtol=1e-6)
    np.testing.assert_allclose(info["cost"], alphas * 0.5, rtol=1e-6)  # the first step: no switch cost


def test_deferred_final_observations_train_the_same(distshift):
    """`defer_final` moves the final frames' observation after the rollout; the iteration is the same."""
    import ml_collections

    from duo_jax.coordinators.ppo_network import CoordinatorNet
    from duo_jax.rl import jax_actor
    from duo_jax.rl.ppo import optimizer

    base, base_params = distshift
    cfg = ml_collections.ConfigDict(dict(
        num_envs=4, num_steps=16, gamma=0.9, gae_lambda=0.9, clip_eps=0.2, vf_coef=0.5, ent_coef=0.01,
        num_epochs=1, num_minibatches=2, learning_rate=1e-3, max_grad_norm=0.5,
    ))
    net = CoordinatorNet(8)

    def apply(params, cobs):
        return net.apply(params, {"vec": cobs["novice_hidden"] + cobs["base_obs"].reshape(-1, 147)[:, :4]})

    def init_params(key, cobs):
        return net.init(key, {"vec": jnp.zeros((1, 4))})

    params = CoordParams(base_params, Costs(0.1, 0.0, 1.0))
    out = []
    for defer in (False, True):
        env = CoordEnv(base, NOVICE_AGENT, EXPERT_AGENT, reads={"base_obs", "novice_hidden"}, defer_final=defer)
        init, iteration = jax_actor.make_iteration(cfg, env, apply, init_params, optimizer(cfg, 1))
        runner, metrics = jax.jit(iteration)(init(jax.random.PRNGKey(0), params), params)
        out.append((runner.params, metrics))
    assert out[0][1]["episodes"] > 0  # episodes of at most 7 steps: truncations to bootstrap from
    for a, b in zip(jax.tree.leaves(out[0]), jax.tree.leaves(out[1])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
