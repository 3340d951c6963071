"""Plugins written against every documented form of the public API still run, loaded as a user loads them
(`--config.plugins`): an old form gives the current form's results with a DeprecationWarning that says what to
write instead (CHANGELOG.md, Breaking); the current form runs without one.

tests/plugins/ holds the plugins of the earlier tutorials (docs/add_a_new_algorithm.md), verbatim but for the
names they register.
"""
import contextlib
import io
import os
import re
import warnings

import pytest
from helpers import REPO, load_config, run_main

from duo_jax.main import run

PLUGINS = os.path.join(REPO, "tests", "plugins")
CURRENT_PLUGIN = os.path.join(REPO, "examples", "ask_first_k.py")
GRID_SEARCH_KEY = (
    r"grid_search\(key, policy, validators, candidates\) is deprecated .* "
    r"call grid_search\(policy, validators, candidates\)\."
)
ENVS_TRAIN = r'write task\.env instead of envs\["train"\]\.'


@pytest.fixture(scope="module")
def run_method(agent_paths, tmp_path_factory):
    """`run_method(plugin, policy, algorithm)`: results.json of a tiny `main` run (k in 1, 4), each run once."""
    root = tmp_path_factory.mktemp("plugin_api")
    done = {}

    def run_once(plugin: str, policy: str, algorithm: str) -> dict:
        if (policy, algorithm) not in done:
            c = load_config("ask_every_k")
            c.name = f"{policy}.{algorithm}"
            c.plugins = (plugin,) if plugin else ()
            c.policy.name, c.algorithm.name = policy, algorithm
            c.algorithm.candidates = (1, 4)
            c.agents.train_novice = c.agents.test_novice = agent_paths["novice"]
            c.agents.train_expert = c.agents.test_expert = agent_paths["expert"]
            c.experiments_dir = str(root)
            c.evaluation.num_episodes = c.evaluation.num_envs = 2
            c.evaluation.max_num_steps = 16
            c.evaluation.progress = False
            done[policy, algorithm] = run(c)
        return done[policy, algorithm]

    return run_once


def _values(results: dict) -> dict:
    """What a run chose and measured (not its names or its time)."""
    return {"candidates": results["candidates"], "splits": results["splits"]}


def test_current_tutorial_plugin_runs_without_warnings(run_method):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run_method(CURRENT_PLUGIN, "ask_first_k", "ask_first_k")
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert [row["params"] for row in results["candidates"]["val_sim"]] == [{"k": 1}, {"k": 4}]


def test_tutorial_examples_print_what_the_tutorial_shows(monkeypatch):
    """Every python block of the tutorial followed by a text block prints that text, without warnings."""
    with open(os.path.join(REPO, "docs", "add_a_new_algorithm.md")) as f:
        doc = f.read()
    blocks = re.findall(r"```python\n((?:(?!```).)*)```\n\n```text\n((?:(?!```).)*)```", doc, re.S)
    assert len(blocks) >= 2   # the policy by hand, the plugin's policy by hand
    monkeypatch.chdir(REPO)   # the tutorial runs from the repository root
    for code, text in blocks:
        out = io.StringIO()
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
            warnings.simplefilter("always")
            exec(compile(code, "docs/add_a_new_algorithm.md", "exec"), {})
        assert out.getvalue() == text
        assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]


# (plugin in tests/plugins, its policy and algorithm, the built-in or current plugin they must equal)
OLD_FORMS = {
    "first tutorial's algorithm: grid_search(key, ...)": (
        "tutorial_v1_ask_every_k.py", "ask_every_k", "ask_every_k_tutorial_v1", ("", "ask_every_k", "ask_every_k"),
    ),
    "first tutorial's plugin: (key, policy, envs, ...), grid_search(key, ...)": (
        "tutorial_v1_ask_first_k.py", "ask_first_k_tutorial_v1", "ask_first_k_tutorial_v1",
        (CURRENT_PLUGIN, "ask_first_k", "ask_first_k"),
    ),
    "second tutorial's plugin: (key, policy, task, ...), grid_search(key, ...)": (
        "tutorial_v2_ask_first_k.py", "ask_first_k_tutorial_v2", "ask_first_k_tutorial_v2",
        (CURRENT_PLUGIN, "ask_first_k", "ask_first_k"),
    ),
}


@pytest.mark.parametrize("form", OLD_FORMS)
def test_grid_search_with_a_key_warns_and_gives_the_current_results(run_method, form):
    plugin, policy, algorithm, current = OLD_FORMS[form]
    with pytest.warns(DeprecationWarning, match=GRID_SEARCH_KEY):
        results = run_method(os.path.join(PLUGINS, plugin), policy, algorithm)
    assert _values(results) == _values(run_method(*current))


def test_envs_train_warns_and_gives_the_env_family(run_method):
    with pytest.warns(DeprecationWarning, match=ENVS_TRAIN):
        results = run_method(os.path.join(PLUGINS, "tutorial_v1_prose.py"), "ask_every_k",
                             "every_k_up_to_num_actions_tutorial_v1")
    # envs["train"] is the env family: Procgen's 15 actions
    assert [row["params"] for row in results["candidates"]["val_sim"]] == [{"k": 1}, {"k": 15}]


def test_evaluate_with_a_key_still_runs_without_warnings(run_method):
    """`validators[split].evaluate(policy, stacked_params, key)` is still current: the key picks the stream."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run_method(os.path.join(PLUGINS, "tutorial_v1_prose.py"), "ask_every_k",
                             "ask_every_k_by_hand_tutorial_v1")
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)]
    for split, rows in results["candidates"].items():
        assert [row["params"] for row in rows] == [{"k": 1}, {"k": 4}]
        assert [row["expert_fraction"] for row in rows] == [1.0, 0.25]   # 16-step episodes: every step, every 4th
        assert results["splits"][split]["best_params"] == max(rows, key=lambda r: r["reward_mean"])["params"]


def test_main_command_runs_the_first_tutorials_plugin_and_shows_the_warning(cli_args):
    """The issue's case, as a user runs it: the command succeeds and says what to write instead."""
    proc = run_main(
        "--config", "configs/ask_every_k.py", *cli_args, "--config.name=tutorial_v1",
        f"--config.plugins=('{os.path.join(PLUGINS, 'tutorial_v1_ask_first_k.py')}',)",
        "--config.policy.name=ask_first_k_tutorial_v1", "--config.algorithm.name=ask_first_k_tutorial_v1",
        "--config.algorithm.candidates=(1,4)", "--config.evaluation.num_episodes=2",
        "--config.evaluation.num_envs=2", "--config.evaluation.max_num_steps=16",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Python's warning line: the plugin's file and line, then the message
    assert re.search(r"tutorial_v1_ask_first_k\.py:41: DeprecationWarning: " + GRID_SEARCH_KEY, proc.stderr)
