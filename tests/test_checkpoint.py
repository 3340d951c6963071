"""Orbax checkpoints: policy and agent round trips, missing and corrupt checkpoints."""
import glob
import os
import re
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import REPO

import duo_jax
from duo_jax.core.checkpoint import latest_step, load_checkpoint, save_checkpoint

KEY = jax.random.PRNGKey(0)


def actions_of(policy, params, steps=6, n=16):
    state = policy.init(n)
    obs = {"base_obs": jnp.zeros((n, 4, 4, 3), jnp.uint8)}
    out = []
    for t in range(steps):
        a, state = policy.act(params, state, obs, jax.random.fold_in(KEY, t))
        out.append(np.asarray(a))
    return np.stack(out)


@pytest.mark.parametrize(
    "name, params", [("ask_every_k", {"k": 3}), ("random", {"prob": 0.3}), ("always", {"expert": 1})]
)
def test_policy_round_trip(tmp_path, name, params):
    path = str(tmp_path / "best")
    duo_jax.save_policy(
        path, name, params, {"name": name}, algorithm=name, selected_on="val_sim", summary={"reward_mean": 1.5}
    )
    policy, loaded, config = duo_jax.load_policy(path)
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(params)
    for key, value in params.items():
        np.testing.assert_allclose(np.asarray(loaded[key]), value, rtol=1e-6)
    assert config["policy"] == name
    assert config["policy_config"] == {"name": name}
    assert config["selected_on"] == "val_sim" and config["summary"] == {"reward_mean": 1.5}
    assert config["params_json"] == params
    original = duo_jax.make_policy(name)
    np.testing.assert_array_equal(actions_of(policy, loaded), actions_of(original, params))


def test_checkpoint_round_trip_nested_tree(tmp_path):
    tree = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": {"c": np.asarray(4, np.int32), "d": jnp.ones(3, jnp.bfloat16)},
    }
    config = {"model": "x", "list": [1, 2], "nested": {"s": "t"}}
    save_checkpoint(str(tmp_path / "ck"), tree, config)
    restored, cfg = load_checkpoint(str(tmp_path / "ck"))
    assert cfg == config
    np.testing.assert_array_equal(restored["a"], tree["a"])
    assert int(restored["b"]["c"]) == 4
    assert np.asarray(restored["b"]["d"]).dtype == jnp.bfloat16
    # restoring into a target keeps its structure
    restored, _ = load_checkpoint(str(tmp_path / "ck"), target=tree)
    assert jax.tree_util.tree_structure(restored) == jax.tree_util.tree_structure(tree)


def test_steps_latest_and_explicit(tmp_path):
    path = str(tmp_path / "ck")
    assert latest_step(path) is None
    save_checkpoint(path, {"w": np.zeros(2)}, {"v": 1}, step=1)
    save_checkpoint(path, {"w": np.ones(2)}, {"v": 2}, step=5)
    assert latest_step(path) == 5
    tree, cfg = load_checkpoint(path)
    assert cfg == {"v": 2} and np.asarray(tree["w"]).tolist() == [1.0, 1.0]
    tree, cfg = load_checkpoint(path, step=1)
    assert cfg == {"v": 1} and np.asarray(tree["w"]).tolist() == [0.0, 0.0]
    save_checkpoint(path, {"w": np.full(2, 2.0)}, {"v": 3}, step=6, max_to_keep=1)
    assert latest_step(path) == 6 and sorted(os.listdir(path)) == ["6"]


def test_agent_round_trip(agent_paths):
    agent = duo_jax.load_agent(agent_paths["expert"])
    assert agent.config["model"] == "small_cnn" and agent.config["num_actions"] == 15
    assert agent.stats == {"reward_mean": 8.0, "episode_length_mean": 80.0}
    original = duo_jax.agents.agent.init_agent(jax.random.PRNGKey(1), "small_cnn", 15, (64, 64, 3))
    jax.tree_util.tree_map(np.testing.assert_array_equal, agent.params, original.params)
    obs = jnp.asarray(np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)), jnp.uint8)
    logits, value, hidden = agent.apply(agent.params, obs)
    want = original.apply(original.params, obs)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(want[0]), rtol=1e-5, atol=1e-6)
    assert logits.shape == (2, 15) and value.shape == (2,) and hidden.shape == (2, 256)


def test_missing_path_raises_file_not_found(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        load_checkpoint(missing)
    with pytest.raises(FileNotFoundError):
        duo_jax.load_policy(missing)
    with pytest.raises(FileNotFoundError):
        duo_jax.load_agent(missing)


def test_empty_dir_raises_file_not_found(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no saved step"):
        load_checkpoint(str(tmp_path / "empty"))


def _garble_all(path):
    for f in glob.glob(os.path.join(path, "**"), recursive=True):
        if os.path.isfile(f):
            with open(f, "wb") as fh:
                fh.write(b"garbage")


def _truncate_all(path):
    for f in glob.glob(os.path.join(path, "**"), recursive=True):
        if os.path.isfile(f):
            open(f, "wb").close()


def _garble_config_json(path):
    for f in glob.glob(os.path.join(path, "*", "config", "*")):
        with open(f, "w") as fh:
            fh.write("{not json")


def _flip_param_bytes(path):
    files = glob.glob(os.path.join(path, "*", "state", "**", "d", "*"), recursive=True)
    biggest = max(files, key=os.path.getsize)
    data = bytearray(open(biggest, "rb").read())
    for i in range(0, len(data), 97):
        data[i] ^= 0xFF
    open(biggest, "wb").write(bytes(data))


def _remove_state(path):
    for d in glob.glob(os.path.join(path, "*", "state")):
        shutil.rmtree(d)


CORRUPTIONS = [_garble_all, _truncate_all, _garble_config_json, _flip_param_bytes, _remove_state]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # orbax's asyncio noise
@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_corrupt_checkpoint_raises_value_error_naming_path(agent_paths, tmp_path, corrupt):
    path = str(tmp_path / "agent")
    shutil.copytree(agent_paths["novice"], path)
    corrupt(path)
    with pytest.raises(ValueError) as err:
        duo_jax.load_agent(path)
    message = str(err.value)
    assert message.startswith(f"Checkpoint at {path!r} is corrupt or unreadable: ") and message.endswith(".")
    assert "\n" not in message and len(message) <= 300, message   # orbax's own messages run to 1,400 characters
    if corrupt is not _remove_state:   # the damaged file, relative to the checkpoint
        assert re.search(r": (the data in )?0/(state|config)\S* is truncated or damaged \(", message), message


def test_truncated_agent_checkpoint_names_the_file_and_prints_nothing_else(tmp_path):
    """A shipped agent with its params file cut short: one sentence, and nothing on stderr (orbax leaves reads in
    flight that end against its closed event loop, each with a traceback)."""
    path = tmp_path / "agent"
    shutil.copytree(os.path.join(REPO, "agents", "distshift", "novice", "agent"), path)
    [damaged] = glob.glob(str(path / "0" / "state" / "d" / "*"))
    size = os.path.getsize(damaged)
    os.truncate(damaged, 10)
    proc = subprocess.run(
        [sys.executable, "-c", f"import duo_jax, time\ntry:\n    duo_jax.load_agent({str(path)!r})\n"
                               "except ValueError as err:\n    print(err)\ntime.sleep(1)"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert proc.stderr == ""
    assert proc.stdout == (f"Checkpoint at {str(path)!r} is corrupt or unreadable: {os.path.relpath(damaged, path)} "
                           f"is truncated or damaged (Requested byte range [0, {size}) is not valid for value of size "
                           "10).\n")


@pytest.mark.parametrize("given, hint", [
    ("agents/distshift/novice", "; did you mean agents/distshift/novice/agent?"),
    ("agents/distshift", "."),
])
def test_a_directory_that_is_not_an_agent(given, hint, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(FileNotFoundError) as err:
        duo_jax.load_agent(given)
    assert str(err.value) == (f"Checkpoint path {given!r} holds no saved step; expected an agent checkpoint such as "
                              f"agents/coinrun/novice/agent{hint}")
    with pytest.raises(FileNotFoundError, match="is a file, not a directory; expected an agent checkpoint"):
        duo_jax.load_agent("configs/logit.py")


def test_corrupt_policy_checkpoint(tmp_path):
    path = str(tmp_path / "best")
    duo_jax.save_policy(path, "ask_every_k", {"k": 3})
    _garble_config_json(path)
    with pytest.raises(ValueError, match="corrupt or unreadable") as err:
        duo_jax.load_policy(path)
    assert repr(path) in str(err.value)


def test_wrong_kind_of_checkpoint(agent_paths, tmp_path):
    with pytest.raises(ValueError, match="is not a policy checkpoint"):
        duo_jax.load_policy(agent_paths["novice"])
    path = str(tmp_path / "best")
    duo_jax.save_policy(path, "ask_every_k", {"k": 3})
    with pytest.raises(ValueError, match="is not an agent checkpoint"):
        duo_jax.load_agent(path)
