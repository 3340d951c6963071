"""The entry point on Procgen coinrun with tiny agents: results.json, checkpoints, eval mode, determinism."""
import json
import os

import jax
import numpy as np
import pytest
from helpers import run_main

import duo_jax
from duo_jax.envs.procgen import SPLITS, make_eval_env, split_levels
from duo_jax.experiment import setup
from duo_jax.main import run

SPLIT_KEYS = {"best_params", "reward_mean", "reward_ci95", "base_reward_mean", "episode_length_mean",
              "expert_fraction", "episodes"}


@pytest.fixture(scope="module")
def trained(agent_paths, tmp_path_factory):
    """One `python -m duo_jax.main` train run: (experiments dir, results, stdout+stderr)."""
    root = tmp_path_factory.mktemp("e2e")
    args = [
        f"--config.agents.train_novice={agent_paths['novice']}", f"--config.agents.test_novice={agent_paths['novice']}",
        f"--config.agents.train_expert={agent_paths['expert']}", f"--config.agents.test_expert={agent_paths['expert']}",
        f"--config.experiments_dir={root}", "--config.evaluation.progress=False",
    ]
    train_args = [
        "--config", "configs/ask_every_k.py", *args, "--config.name=e2e", "--config.algorithm.candidates=(1,4)",
        "--config.evaluation.num_episodes=4", "--config.evaluation.num_envs=2", "--config.evaluation.max_num_steps=16",
    ]
    proc = run_main(*train_args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(root, "e2e", "results.json")) as f:
        results = json.load(f)
    return root, results, args


def test_results_json_layout(trained):
    root, results, _ = trained
    assert results["alpha"] == pytest.approx(0.4) and results["beta"] == 0.0
    assert results["bp"] == pytest.approx(0.1)          # 8.0 reward / 80.0 steps in the agents' stats
    assert results["mode"] == "train" and results["algorithm"] == "ask_every_k" and results["env"] == "procgen/coinrun"
    assert set(results["splits"]) == {"val_sim", "val_true", "test@val_sim", "test@val_true"}
    for name, entry in results["splits"].items():
        assert SPLIT_KEYS <= set(entry), name
        assert entry["episodes"] == 4
        assert entry["best_params"]["k"] in (1, 4)
        assert 1 <= entry["episode_length_mean"] <= 16
        assert 0.0 <= entry["expert_fraction"] <= 1.0
    for split in ("val_sim", "val_true"):
        rows = results["candidates"][split]
        assert [row["params"] for row in rows] == [{"k": 1}, {"k": 4}]
        best = max(rows, key=lambda row: row["reward_mean"])
        assert results["splits"][split]["best_params"] == best["params"]
        assert results["splits"][split]["reward_mean"] == best["reward_mean"]
        assert results["splits"][f"test@{split}"]["best_params"] == best["params"]
        k1 = rows[0]
        assert k1["expert_fraction"] == 1.0
        # every step is an expert step: reward = base - alpha * bp * length
        assert k1["reward_mean"] == pytest.approx(k1["base_reward_mean"] - 0.04 * k1["episode_length_mean"], abs=1e-5)
    exp = os.path.join(root, "e2e")
    assert {"results.json", "config.json", "log.txt", "checkpoints"} <= set(os.listdir(exp))
    assert not [d for d in os.listdir(root) if d.startswith(".")]     # no partial dir left behind
    with open(os.path.join(exp, "config.json")) as f:
        assert json.load(f)["algorithm"]["candidates"] == [1, 4]


def test_best_checkpoints_restore(trained):
    root, results, _ = trained
    for split in ("val_sim", "val_true"):
        policy, params, config = duo_jax.load_policy(os.path.join(root, "e2e", "checkpoints", f"best_{split}"))
        assert int(np.asarray(params["k"])) == results["splits"][split]["best_params"]["k"]
        assert config["policy"] == "ask_every_k" and config["selected_on"] == split
        assert config["algorithm"] == "ask_every_k"
        state = policy.init(2)
        action, state = policy.act(params, state, {}, jax.random.PRNGKey(0))
        assert np.asarray(action).tolist() == [duo_jax.EXPERT] * 2


def test_eval_mode_on_checkpoint(trained):
    root, results, args = trained
    ckpt = os.path.join(root, "e2e", "checkpoints", "best_val_sim")
    proc = run_main(
        "--config", "configs/ask_every_k.py", *args, "--config.name=evalrun", "--config.mode=eval",
        f"--config.eval.checkpoint={ckpt}", "--config.eval.splits=('test','val_true')",
        "--config.evaluation.num_episodes=2", "--config.evaluation.num_envs=2", "--config.evaluation.max_num_steps=16",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the eval experiment is written under its own name (or `<name>_eval`), never over the train one
    [eval_dir] = [d for d in os.listdir(root) if d in ("evalrun", "evalrun_eval")]
    with open(os.path.join(root, eval_dir, "results.json")) as f:
        ev = json.load(f)
    assert ev["mode"] == "eval" and ev["checkpoint"] == ckpt
    assert set(ev["splits"]) == {"test", "val_true"}
    for entry in ev["splits"].values():
        assert SPLIT_KEYS <= set(entry)
        assert entry["best_params"] == results["splits"]["val_sim"]["best_params"]
        assert entry["episodes"] == 2
    with open(os.path.join(root, "e2e", "results.json")) as f:
        assert json.load(f) == results                    # the train experiment is untouched


def test_run_is_deterministic_and_overwrite_replaces(make_config):
    c = make_config()
    c.name = "det"
    first = run(c)
    path = os.path.join(c.experiments_dir, "det")
    with open(os.path.join(path, "results.json")) as f:
        on_disk = json.load(f)
    assert on_disk["splits"] == json.loads(json.dumps(first["splits"]))
    c.overwrite = True
    second = run(c)
    assert second["splits"] == first["splits"]
    assert second["candidates"] == first["candidates"]
    assert sorted(os.listdir(c.experiments_dir)) == ["det"]     # replaced in place, no .old / .partial


def test_k1_equals_always_expert_on_procgen(make_config):
    s = setup(make_config())
    ev = s.evaluator("val_sim")
    key = jax.random.PRNGKey(3)
    [k1] = ev.evaluate(duo_jax.make_policy("ask_every_k"), duo_jax.stack_params([{"k": 1}]), key)
    [always] = ev.evaluate(duo_jax.make_policy("always"), duo_jax.stack_params([{"expert": 1}]), key)
    assert k1 == always
    assert k1["expert_fraction"] == 1.0


def test_split_levels_are_fixed_and_in_range():
    for split in ("val_sim", "val_true", "test"):
        a = split_levels(split, 16, seed=0)
        np.testing.assert_array_equal(a, split_levels(split, 16, seed=0))
        s = SPLITS[split]
        assert ((a >= s.start_level) & (a < s.start_level + s.num_levels)).all()
        assert len(set(a.tolist())) == 16
    assert not np.array_equal(split_levels("test", 16, seed=0), split_levels("test", 16, seed=1))
    assert SPLITS["val_sim"].distribution_mode == "easy" and SPLITS["val_true"].distribution_mode == "hard"


def test_eval_env_slots_load_fixed_levels():
    env = make_eval_env("coinrun", "val_sim", num_episodes=4, num_envs=4, seed=0)
    np.testing.assert_array_equal(env.levels, split_levels("val_sim", 4, seed=0))
    env.load(np.arange(4), np.array([2, 3, 2, 3]))            # two candidates on the same two levels
    obs = env.observe()
    assert obs.shape == (4, 64, 64, 3) and obs.dtype == np.uint8
    np.testing.assert_array_equal(obs[:2], obs[2:])
    obs, reward, done = env.step(np.zeros(4, np.int32))
    assert reward.dtype == np.float32 and done.dtype == bool and reward.shape == (4,)
    np.testing.assert_array_equal(obs[:2], obs[2:])
    compact = env.compact(np.array([3, 0]))                   # the slots' states move, mid-episode
    np.testing.assert_array_equal(compact.observe(), obs[[3, 0]])
    for a in range(3):
        np.testing.assert_array_equal(
            compact.step(np.full(2, a, np.int32))[0], env.step(np.full(4, a, np.int32))[0][[3, 0]]
        )
