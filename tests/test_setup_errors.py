"""Start-up checks: every bad config is one ValueError sentence naming the field, before any work."""
import os
import shutil

import pytest
from helpers import run_main

from duo_jax.core.registry import ALGORITHMS, POLICIES
from duo_jax.experiment import setup


def setup_error(config) -> str:
    with pytest.raises(ValueError) as err:
        setup(config)
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


def test_valid_config_sets_up(make_config):
    s = setup(make_config())
    assert s.env.name == "procgen/coinrun"
    assert s.costs["train"].bp == pytest.approx(0.1) and s.costs["test"].bp == pytest.approx(0.1)
    assert s.costs["test"].alpha == pytest.approx(0.4)
    assert not os.path.exists(s.experiment.final)       # nothing written at start-up


def test_explicit_bp_wins_over_stats(make_config):
    c = make_config()
    c.costs.bp = 0.5
    assert setup(c).costs["train"].bp == 0.5


def test_unknown_algorithm(make_config):
    c = make_config()
    c.algorithm.name = "nope"
    msg = setup_error(c)
    names = ALGORITHMS.names()  # the built-ins, and whatever plugins earlier tests registered
    listed = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    assert msg == (f"algorithm.name: Unknown algorithm 'nope'; registered algorithms are: {listed} "
                   "(register your own in a file listed in --config.plugins).")
    assert {"always", "ask_every_k", "random"} <= set(names)


def test_unknown_policy(make_config):
    c = make_config()
    c.policy.name = "nope"
    msg = setup_error(c)
    assert msg.startswith("policy.name: Unknown policy 'nope'; registered policies are: ")
    for name in POLICIES.names():
        assert name in msg


def test_unknown_environment(make_config):
    c = make_config()
    c.env.name = "nope"
    msg = setup_error(c)
    assert msg.startswith("env.name: Unknown environment 'nope'") and "procgen" in msg


def test_game_not_procgen(make_config):
    c = make_config()
    c.env.game = "pong"
    msg = setup_error(c)
    assert msg.startswith("env.game must be one of ") and msg.endswith("got 'pong'.")
    assert "coinrun" in msg and "starpilot" in msg


@pytest.mark.parametrize("field, value", [
    ("validation_splits", ("val_sim", "val_nope")), ("test_split", "val_nope"),
])
def test_split_does_not_exist(make_config, field, value):
    c = make_config()
    c.evaluation[field] = value
    msg = setup_error(c)
    assert msg == (
        f"evaluation.{field}: split 'val_nope' does not exist; "
        "the splits of procgen/coinrun are train, val_sim, val_true, test."
    )


def test_eval_split_does_not_exist(make_config):
    c = make_config()
    c.eval.splits = ("tset",)
    assert setup_error(c).startswith("eval.splits: split 'tset' does not exist")


def test_test_split_not_a_validation_split(make_config):
    c = make_config()
    c.evaluation.validation_splits = ("val_sim", "test")
    assert "validation_splits must not include the test split" in setup_error(c)


@pytest.mark.parametrize("candidates", [(0, 5), (-3,), (), (2.5,)])
def test_bad_k(make_config, candidates):
    c = make_config()
    c.algorithm.candidates = candidates
    msg = setup_error(c)
    assert msg == f"algorithm.candidates must be a non-empty list of integers k >= 1; got {candidates!r}."


def test_num_episodes_not_divisible(make_config):
    c = make_config()
    c.evaluation.num_episodes = 10
    c.evaluation.num_envs = 4
    assert setup_error(c) == "evaluation.num_episodes (10) must be divisible by evaluation.num_envs (4)."


@pytest.mark.parametrize("field", ["num_episodes", "num_envs", "max_num_steps"])
def test_non_positive_evaluation_sizes(make_config, field):
    c = make_config()
    c.evaluation[field] = 0
    assert setup_error(c) == f"evaluation.{field} must be a positive integer; got 0."


def test_negative_cost(make_config):
    c = make_config()
    c.costs.alpha = -0.1
    assert setup_error(c) == "costs.alpha must be a number >= 0; got -0.1."


@pytest.mark.parametrize("field", ["train_novice", "train_expert", "test_novice", "test_expert"])
def test_missing_agent_checkpoint(make_config, tmp_path, field):
    c = make_config()
    missing = str(tmp_path / "no_agent")
    c.agents[field] = missing
    assert setup_error(c) == f"agents.{field}: Checkpoint path {missing!r} does not exist."


def test_corrupt_agent_checkpoint(make_config, agent_paths, tmp_path):
    bad = str(tmp_path / "bad_agent")
    shutil.copytree(agent_paths["expert"], bad)
    for root, _, files in os.walk(bad):
        for f in files:
            with open(os.path.join(root, f), "wb") as fh:
                fh.write(b"garbage")
    c = make_config()
    c.agents.test_expert = bad
    msg = setup_error(c)
    assert msg.startswith(f"agents.test_expert: Checkpoint at {bad!r} is corrupt or unreadable")


def test_agent_without_stats_needs_bp(make_config, agent_paths):
    c = make_config()
    # the simulated expert's stats are not needed: BP is the test expert's
    c.agents.train_expert = agent_paths["nostats"]
    setup(c)
    c.agents.test_expert = agent_paths["nostats"]
    msg = setup_error(c)
    assert msg.startswith("agents.test_expert has no measured test stats to derive BP from")
    c.costs.bp = 0.1
    setup(c)


def test_existing_experiment_dir_untouched(make_config):
    c = make_config()
    c.name = "taken"
    existing = os.path.join(c.experiments_dir, "taken")
    os.makedirs(os.path.join(existing, "checkpoints"))
    with open(os.path.join(existing, "results.json"), "w") as f:
        f.write('{"keep": 1}')
    before = sorted(os.walk(existing))
    msg = setup_error(c)
    assert msg.startswith(f"Experiment directory {os.path.abspath(existing)} already exists")
    assert "--config.overwrite=True" in msg
    assert sorted(os.walk(existing)) == before
    assert open(os.path.join(existing, "results.json")).read() == '{"keep": 1}'
    assert sorted(os.listdir(c.experiments_dir)) == ["taken"]  # no partial dir left either


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_bad_experiment_name(make_config, name):
    c = make_config()
    c.name = name
    assert setup_error(c).startswith("name must be a non-empty directory name")


def test_bad_mode(make_config):
    c = make_config()
    c.mode = "test"
    assert setup_error(c) == "mode must be one of train, eval; got 'test'."


def test_eval_mode_needs_checkpoint(make_config, tmp_path):
    c = make_config()
    c.mode = "eval"
    assert setup_error(c).startswith("eval.checkpoint must name a policy checkpoint")
    c.eval.checkpoint = str(tmp_path / "none")
    assert setup_error(c) == f"eval.checkpoint: Checkpoint path {str(tmp_path / 'none')!r} does not exist."


def test_eval_checkpoint_must_be_a_policy(make_config, agent_paths):
    c = make_config()
    c.mode = "eval"
    c.eval.checkpoint = agent_paths["novice"]
    assert "is not a policy checkpoint" in setup_error(c)


def test_always_and_random_checks(make_config):
    c = make_config("always")
    c.algorithm.agent = "both"
    assert setup_error(c) == "algorithm.agent must be 'novice' or 'expert'; got 'both'."
    c = make_config("random")
    c.algorithm.probabilities = (0.5, 1.5)
    assert setup_error(c) == "algorithm.probabilities must be a non-empty list of numbers in [0, 1]; got (0.5, 1.5)."


def test_missing_plugin(make_config, tmp_path):
    c = make_config()
    c.plugins = (str(tmp_path / "my_alg.py"),)
    assert setup_error(c) == f"plugins: file {str(tmp_path / 'my_alg.py')!r} does not exist."


def test_plugin_registers_algorithm(make_config, tmp_path):
    plugin = tmp_path / "my_plugin_alg.py"
    plugin.write_text(
        "import duo_jax\n"
        "@duo_jax.register_algorithm('my_plugin_alg')\n"
        "def run(key, policy, task, validators, config):\n"
        "    raise NotImplementedError\n"
    )
    c = make_config()
    c.plugins = (str(plugin),)
    c.algorithm.name = "my_plugin_alg"
    assert setup(c).algorithm.run.__name__ == "run"


# -- the command line: bad input exits non-zero with the sentence and no traceback -------------------


@pytest.mark.parametrize(
    "override, sentence",
    [
        (
            "--config.algorithm.candidates=(0,5)",
            "algorithm.candidates must be a non-empty list of integers k >= 1; got (0, 5).",
        ),
        ("--config.env.game=pong", "env.game must be one of "),
        ("--config.mode=both", "mode must be one of train, eval; got 'both'."),
    ],
)
def test_cli_bad_input(cli_args, override, sentence):
    proc = run_main("--config", "configs/ask_every_k.py", *cli_args, override)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert sentence in out
    assert "Traceback" not in out


def test_cli_missing_agent(cli_args, tmp_path):
    missing = str(tmp_path / "gone")
    proc = run_main("--config", "configs/ask_every_k.py", *cli_args, f"--config.agents.test_expert={missing}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"agents.test_expert: Checkpoint path {missing!r} does not exist." in out
    assert "Traceback" not in out
    assert not os.path.exists(tmp_path / "experiments")


def test_pairs_of_splits(make_config, agent_paths, tmp_path):
    """YRC-0: train and val_sim use the train pair, val_true and test the test pair; BP is the test expert's on all."""
    from duo_jax.agents.agent import load_agent
    from duo_jax.core.checkpoint import save_checkpoint

    other = load_agent(agent_paths["nostats"])
    test_expert = str(tmp_path / "test_expert")
    save_checkpoint(
        test_expert, other.params, dict(other.config, stats={"reward_mean": 10.0, "episode_length_mean": 50.0})
    )
    c = make_config()
    c.agents.test_novice = agent_paths["expert"]
    c.agents.test_expert = test_expert
    s = setup(c)
    assert s.costs["train"].bp == pytest.approx(0.2) and s.costs["test"].bp == pytest.approx(0.2)

    def leaf(agent):
        return float(abs(agent.params["params"]["Dense_0"]["kernel"]).sum())

    names = {leaf(load_agent(agent_paths[n])): n for n in ("novice", "expert", "nostats")}
    for split, novice, expert, bp in [
        ("val_sim", "novice", "expert", 0.2),
        ("val_true", "expert", "nostats", 0.2),
        ("test", "expert", "nostats", 0.2),
    ]:
        ev = s.evaluator(split)
        assert (names[leaf(ev.novice)], names[leaf(ev.expert)]) == (novice, expert), split
        assert ev.costs.bp == pytest.approx(bp)
        assert (ev.num_episodes, ev.num_envs, ev.max_num_steps, ev.progress) == (2, 2, 16, False)


def test_empty_validation_splits_rejected_at_setup(make_config):
    c = make_config()
    c.evaluation.validation_splits = ()
    assert "validation_splits" in setup_error(c)


def test_agent_of_another_game_is_named(make_config):
    c = make_config()
    c.env.game = "bigfish"
    assert setup_error(c) == "agents.train_novice was trained on 'coinrun' but env.game is 'bigfish'."


def test_a_step_cap_below_the_experts_episodes_is_warned_about(make_config, caplog):
    c = make_config()
    length = setup(c).pairs["test"][1].stats["episode_length_mean"]
    c.evaluation.max_num_steps = int(length) + 1
    caplog.clear()
    with caplog.at_level("WARNING"):
        setup(c)
    assert "is below the test expert's mean episode length" not in caplog.text
    c.evaluation.max_num_steps = max(1, int(length) - 1)
    caplog.clear()
    with caplog.at_level("WARNING"):
        setup(c)
    assert (
        f"evaluation.max_num_steps ({c.evaluation.max_num_steps}) is below the test expert's mean episode length"
        in caplog.text
    )


def test_shipped_agents_are_found_from_any_working_directory(make_config, tmp_path, monkeypatch):
    c = make_config()
    for field in ("train_novice", "train_expert", "test_novice", "test_expert"):
        c.agents[field] = ""  # the shipped agents/coinrun set
    monkeypatch.chdir(tmp_path)
    s = setup(c)
    assert s.pairs["test"][1].stats["reward_mean"] > s.pairs["test"][0].stats["reward_mean"]
    assert s.pairs["train"][0].config["run_id"] == s.pairs["test"][0].config["run_id"]  # sim_novice, novice
