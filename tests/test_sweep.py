"""The cost sweep: re-scoring one rollout at every alpha, sweep.json, per-alpha runs, and the report on it."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from helpers import EXPERT_ACTION, NOVICE_ACTION, REPO, FakeEnvFactory, const_agent

import duo_jax
from duo_jax import Costs, report, stack_params
from duo_jax.core.evaluator import Evaluator, summaries
from duo_jax.sweep import check_alphas, run

ALPHAS = (0.0, 0.5, 1.0)


def test_rescored_rollout_equals_evaluation_at_each_cost():
    lengths = [5, 7, 4, 9]
    ev = Evaluator("val_sim", FakeEnvFactory(lengths), const_agent(NOVICE_ACTION), const_agent(EXPERT_ACTION),
                   Costs(0.0, 0.0, 0.2), num_episodes=4, num_envs=4, max_num_steps=32, progress=False)
    policy, params = duo_jax.make_policy("ask_every_k"), stack_params([{"k": 1}, {"k": 2}, {"k": 3}])
    key = jax.random.PRNGKey(0)
    episodes = ev.rollout(policy, params, key)
    for alpha in ALPHAS:
        for beta in (0.0, 0.3):
            costs = Costs(alpha, beta, 0.2)
            assert summaries(episodes, costs) == ev.evaluate(policy, params, key, costs=costs)


@pytest.mark.parametrize("alphas", [(0.5,), (0.5, 0.2), (0.0, 0.0, 1.0), (-0.2, 1.0), ("a", 1.0)])
def test_bad_alphas(alphas):
    with pytest.raises(ValueError, match=r"^sweep.alphas must be at least two distinct increasing numbers >= 0"):
        check_alphas(alphas)


def test_cli_bad_alphas_one_sentence(cli_args):
    proc = subprocess.run(
        [sys.executable, "-m", "duo_jax.sweep", "--config", "configs/ask_every_k.py", *cli_args,
         "--config.sweep.alphas=(1.0,0.5)"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: sweep.alphas must be at least two distinct increasing numbers >= 0; got (1.0, 0.5)."
    )


@pytest.fixture(scope="module")
def grid_sweep(agent_paths, tmp_path_factory):
    from helpers import load_config

    c = load_config("ask_every_k")
    c.agents.train_novice = c.agents.test_novice = agent_paths["novice"]
    c.agents.train_expert = c.agents.test_expert = agent_paths["expert"]
    c.experiments_dir = str(tmp_path_factory.mktemp("sweeps"))
    c.evaluation.num_episodes = c.evaluation.num_envs = 4
    c.evaluation.max_num_steps, c.evaluation.progress = 16, False
    c.algorithm.candidates, c.sweep.alphas = (1, 4), ALPHAS
    return c, run(c)


def test_grid_sweep_json(grid_sweep):
    config, result = grid_sweep
    path = os.path.join(config.experiments_dir, "ask_every_k_sweep", "sweep.json")
    with open(path) as f:
        assert json.load(f) == json.loads(json.dumps(result))
    assert result["rollouts_reused"] and result["alphas"] == list(ALPHAS) and result["method"] == "ask_every_k"
    assert set(result["selections"]) == {"val_sim", "val_true"}
    for rows in result["selections"].values():
        assert [r["alpha"] for r in rows] == list(ALPHAS)
        for r in rows:
            test = r["test"]
            assert r["params"]["k"] in (1, 4)
            assert np.mean(r["episode_rewards"]) == pytest.approx(test["reward_mean"])
            # reward = base - alpha * BP * expert steps (beta = 0), per episode and so on average
            expert_steps = test["expert_fraction"] * test["episode_length_mean"]
            assert test["reward_mean"] == pytest.approx(test["base_reward_mean"] - r["alpha"] * 0.1 * expert_steps)
            assert r["val"]["reward_mean"] >= -100


def test_sweep_rounds_the_price_to_cents(grid_sweep):
    """costs.round_to_cents: an expert step costs round(alpha * BP, 2) (BP = 0.1 here), so alpha = 0.04 is free."""
    import copy

    config, _ = grid_sweep
    c = copy.deepcopy(config)
    c.name, c.costs.round_to_cents, c.sweep.alphas = "ask_every_k_cents", True, (0.04, 0.26)
    result = run(c)
    assert result["round_to_cents"]
    for rows in result["selections"].values():
        for r, price in zip(rows, (0.0, 0.03)):
            test = r["test"]
            expert_steps = test["expert_fraction"] * test["episode_length_mean"]
            assert test["reward_mean"] == pytest.approx(test["base_reward_mean"] - price * expert_steps)


def test_grid_sweep_same_choice_same_test_episodes(grid_sweep):
    _, result = grid_sweep
    rows = result["selections"]["val_true"]
    by_k = {}
    for r in rows:   # one test rollout: a candidate's base rewards do not change with alpha
        by_k.setdefault(r["params"]["k"], set()).add(round(r["test"]["base_reward_mean"], 9))
    assert all(len(v) == 1 for v in by_k.values())


def test_report_reads_real_sweep(grid_sweep, tmp_path):
    config, _ = grid_sweep
    rows = report.build_table(report.load_sweeps([os.path.join(config.experiments_dir, "ask_every_k_sweep")]), 200)
    assert [r["selection"] for r in rows] == ["eval_sim", "eval_true"]
    for r in rows:
        assert r["auc"] == pytest.approx(report.auc(list(ALPHAS), r["reward_mean"]))
    paths = report.write_report(rows, str(tmp_path / "report"))
    assert os.path.getsize(paths["png"]) > 0


def test_ppo_sweep_runs_one_experiment_per_alpha(make_config):
    c = make_config("ppo")
    c.algorithm.total_steps, c.algorithm.num_envs, c.algorithm.num_steps = 32, 2, 16
    c.algorithm.num_minibatches, c.algorithm.eval_every, c.policy.hidden_dim = 2, 1, 8
    c.sweep.alphas = (0.0, 1.0)
    result = run(c)
    assert not result["rollouts_reused"]
    runs = os.path.join(c.experiments_dir, "ppo_sweep", "runs")
    assert sorted(os.listdir(runs)) == ["alpha_0", "alpha_1"]
    for split, rows in result["selections"].items():
        assert [r["alpha"] for r in rows] == [0.0, 1.0]
        with open(os.path.join(runs, "alpha_1", "results.json")) as f:
            results = json.load(f)
        assert rows[1]["episode_rewards"] == results["splits"][f"test@{split}"]["episode_rewards"]
        assert results["alpha"] == 1.0


def test_main_and_sweep_give_a_candidate_the_same_streams(grid_sweep):
    """Same choice, same test episodes: `main` at one alpha reproduces the sweep's row for that alpha."""
    import copy

    from duo_jax.main import run as run_main

    config, result = grid_sweep
    c = copy.deepcopy(config)
    c.name, c.costs.alpha = "ask_every_k_at_half", 0.5
    results = run_main(c)
    for split in ("val_sim", "val_true"):
        [row] = [r for r in result["selections"][split] if r["alpha"] == 0.5]
        entry = results["splits"][f"test@{split}"]
        assert entry["best_params"] == row["params"]
        assert entry["episode_rewards"] == row["episode_rewards"]
    assert result["seed"] == c.seed and result["eval_seed"] == c.evaluation.seed
