"""The all-JAX PPO coordinator: one jitted call trains a coordinator per alpha (vmapped), and learns
the right extremes on DistShift2, where the novice always walks into lava and the expert reaches the goal."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from helpers import REPO

import duo_jax
from duo_jax.agents.agent import load_agent
from duo_jax.config import load_config
from duo_jax.coordinators.ppo_jax import make_coord_train
from duo_jax.core.coordination import Costs
from duo_jax.envs.gridworld import make


@pytest.fixture(scope="module")
def trained():
    c = load_config(f"{REPO}/configs/ppo.py")
    c.policy.feature_type, c.policy.hidden_dim = "dist", 32
    c.algorithm.update(num_envs=32, num_steps=32, total_steps=32 * 32 * 25, num_minibatches=4, num_epochs=4,
                       learning_rate=2.5e-3, gamma=0.99)
    env = make("DistShift2")
    novice, expert = (load_agent(f"{REPO}/agents/distshift/{r}/agent") for r in ("novice", "expert"))
    costs = Costs(0.0, 0.0, expert.stats["reward_mean"] / expert.stats["episode_length_mean"])
    train = make_coord_train(c, env, env.default_params(), novice, expert, costs)
    alphas = jnp.array([0.0, 5.0])    # free expert; an expert that costs ~5x its reward
    params, metrics = jax.jit(jax.vmap(train))(jax.random.split(jax.random.PRNGKey(0), 2), alphas)
    return c, params, metrics


def test_learns_to_ask_when_free_and_never_when_costly(trained):
    _, _, metrics = trained
    assert metrics["expert_fraction"].shape == (2, 25)
    # From 0.5 (the initial policy) to most steps: 0.80-0.98 over seeds 0-2 (25 iterations are few for more).
    assert float(metrics["expert_fraction"][0, 0]) < 0.6 and float(metrics["expert_fraction"][0, -1]) > 0.75
    assert float(metrics["expert_fraction"][1, -1]) < 0.1
    assert float(metrics["net_reward_per_step"][0, -1]) > float(metrics["net_reward_per_step"][0, 0])


def test_trained_params_run_as_the_ppo_policy(trained):
    config, params, _ = trained
    policy = duo_jax.make_policy("ppo", ml_collections.ConfigDict(dict(config.policy, greedy=True)))
    free = jax.tree.map(lambda x: x[0], params)
    logits = jnp.array([[10.0, 0, 0, 0, 0, 0, 0]] * 3)          # a confident novice
    obs = {"base_obs": jnp.zeros((3, 7, 7, 3), jnp.uint8), "novice_logits": logits, "novice_hidden": jnp.zeros((3, 64))}
    action, _ = policy.act(free, policy.init(3), obs, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(action, [1, 1, 1])            # alpha = 0: always the expert
