"""grid_search and the grid-search algorithms: argmax per validation split, on a fake Evaluator."""
import jax
import ml_collections
import numpy as np
import pytest

import duo_jax
from duo_jax import AlgorithmResult, grid_search

KEY = jax.random.PRNGKey(0)


class FakeValidator:
    """Evaluator-like: returns one chosen summary per candidate, keyed by the candidate's params."""

    def __init__(self, rewards: dict):
        self.rewards = rewards          # param value -> reward_mean
        self.calls = []

    def evaluate(self, policy, params, key=None):
        leaves = jax.tree_util.tree_leaves(params)
        self.calls.append((params, key))
        values = np.asarray(leaves[0]).tolist()
        return [self.summary(v) for v in values]

    def summary(self, value):
        r = self.rewards[round(value, 6)]   # float params arrive as float32
        return {"reward_mean": r, "reward_std": 0.2, "reward_ci95": 0.1, "base_reward_mean": r + 1,
                "episode_length_mean": 10.0, "episode_length_min": 8, "episode_length_max": 12,
                "expert_fraction": 0.5, "episodes": 4}


def test_argmax_per_split():
    validators = {
        "val_sim": FakeValidator({5: 1.0, 10: 3.0, 15: 2.0}),
        "val_true": FakeValidator({5: 4.0, 10: -1.0, 15: 0.0}),
    }
    candidates = [{"k": 5}, {"k": 10}, {"k": 15}]
    result = grid_search(duo_jax.make_policy("ask_every_k"), validators, candidates)
    assert isinstance(result, AlgorithmResult)
    assert result.best_params == {"val_sim": {"k": 10}, "val_true": {"k": 5}}
    assert result.best_summary["val_sim"]["reward_mean"] == 3.0
    assert result.best_summary["val_true"]["reward_mean"] == 4.0
    assert [row["params"] for row in result.candidates["val_sim"]] == [{"k": 5}, {"k": 10}, {"k": 15}]
    assert [row["reward_mean"] for row in result.candidates["val_true"]] == [4.0, -1.0, 0.0]
    assert result.candidates["val_sim"][0]["base_reward_mean"] == 2.0


def test_all_candidates_in_one_batched_call_per_split():
    validators = {"a": FakeValidator({1: 0.0, 2: 1.0}), "b": FakeValidator({1: 0.0, 2: 1.0})}
    grid_search(duo_jax.make_policy("ask_every_k"), validators, [{"k": 1}, {"k": 2}])
    for v in validators.values():
        assert len(v.calls) == 1
        params, _ = v.calls[0]
        np.testing.assert_array_equal(np.asarray(params["k"]), [1, 2])   # leading candidate axis
    # no key from the algorithm: each split evaluates on its own stream (evaluation.seed, split)
    assert all(v.calls[0][1] is None for v in validators.values())


def test_ties_pick_first_candidate():
    validators = {"val_sim": FakeValidator({1: 2.0, 2: 2.0, 3: 1.0})}
    result = grid_search(duo_jax.make_policy("ask_every_k"), validators, [{"k": 1}, {"k": 2}, {"k": 3}])
    assert result.best_params["val_sim"] == {"k": 1}


def test_ask_every_k_algorithm_grid_is_candidates():
    config = ml_collections.ConfigDict({"algorithm": {"name": "ask_every_k", "candidates": (5, 10, 20)}})
    validators = {"val_sim": FakeValidator({5: 0.0, 10: 0.5, 20: 0.25})}
    spec = duo_jax.make_algorithm("ask_every_k")
    spec.check(config)
    result = spec.run(KEY, duo_jax.make_policy("ask_every_k"), {}, validators, config)
    assert result.best_params == {"val_sim": {"k": 10}}
    assert [row["params"]["k"] for row in result.candidates["val_sim"]] == [5, 10, 20]


def test_random_and_always_algorithm_grids():
    config = ml_collections.ConfigDict({"algorithm": {"probabilities": (0.1, 0.5), "agent": "novice"}})
    v = FakeValidator({0.1: 1.0, 0.5: 2.0})
    result = duo_jax.make_algorithm("random").run(KEY, duo_jax.make_policy("random"), {}, {"s": v}, config)
    assert result.best_params["s"]["prob"] == pytest.approx(0.5)
    v = FakeValidator({0: 1.0, 1: 2.0})
    result = duo_jax.make_algorithm("always").run(KEY, duo_jax.make_policy("always"), {}, {"s": v}, config)
    assert result.best_params == {"s": {"expert": 0}}
