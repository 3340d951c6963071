"""Training curves: TensorBoard events and the CSV hold the same scalars, a resumed writer never repeats a
step, a tiny Deep SVDD run on a gridworld leaves its curves in the experiment, and they plot."""
import importlib.util
import os

import numpy as np
import pytest
from helpers import REPO, load_config

import duo_jax.config
from duo_jax.core.curves import CSV_NAME, CurveWriter, check_logging, open_curves, read_csv, read_events
from duo_jax.curves import main


def _assert_same(got, want):
    assert sorted(got) == sorted(want)
    for tag in want:
        np.testing.assert_array_equal(got[tag][0], want[tag][0], err_msg=tag)
        np.testing.assert_allclose(got[tag][1], want[tag][1], rtol=1e-6, err_msg=tag)


def test_events_and_csv_hold_what_was_written(tmp_path):
    logdir = str(tmp_path / "curves")
    with CurveWriter(logdir) as curves:
        for step in (0, 10, 20):
            curves.write(step, {"loss/policy": 1.0 / (step + 1), "return/mean": np.float32(step * 0.5)})
        curves.write(20, {"val/reward": 3.25})             # another tag at a step already logged
    want = {"loss/policy": ([0, 10, 20], [1.0, 1 / 11, 1 / 21]), "return/mean": ([0, 10, 20], [0.0, 5.0, 10.0]),
            "val/reward": ([20], [3.25])}
    _assert_same(read_csv(logdir), want)
    _assert_same(read_events(logdir), want)


def test_resumed_writer_drops_relogged_steps(tmp_path):
    logdir = str(tmp_path / "curves")
    with CurveWriter(logdir) as curves:
        for step in range(5):
            curves.write(step, {"x": float(step), "y": -float(step)})
    with open(os.path.join(logdir, CSV_NAME), "a") as f:
        f.write("5,x,")                                    # a line cut off by a killed run
    with CurveWriter(logdir) as curves:                    # resumed from a checkpoint at step 3
        for step in range(3, 7):
            curves.write(step, {"x": 10.0 * step})
    want = {"x": ([0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 30, 40, 50, 60]), "y": ([0, 1, 2], [0, -1, -2])}
    _assert_same(read_csv(logdir), want)
    _assert_same(read_events(logdir), want)               # TensorBoard's purge hides the old steps >= 3
    assert len([f for f in os.listdir(logdir) if f.startswith("events.out.tfevents.")]) == 2


KILLED = """
import os, signal, sys
from duo_jax.core.curves import CurveWriter
curves = CurveWriter(sys.argv[1])
for step in range(int(sys.argv[2]), 5):
    curves.write(step, {"x": float(step) + 0.5 * (sys.argv[2] != "0")})
os.kill(os.getpid(), signal.SIGKILL)                        # no close(), no flush()
"""


def test_a_killed_run_loses_nothing_it_logged(tmp_path):
    """Each write reaches both files before it returns: a run killed by SIGKILL (a preempted job) keeps every step,
    and the rerun from its checkpoint at step 2 replaces the later ones."""
    import signal
    import subprocess
    import sys

    logdir = str(tmp_path / "curves")
    for first in ("0", "2"):
        proc = subprocess.run([sys.executable, "-c", KILLED, logdir, first], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    want = {"x": ([0, 1, 2, 3, 4], [0.0, 1.0, 2.5, 3.5, 4.5])}
    _assert_same(read_csv(logdir), want)
    _assert_same(read_events(logdir), want)


def test_sinks_follow_config(tmp_path):
    config = load_config("ood")
    config.logging.tensorboard = False
    with open_curves(str(tmp_path / "a"), config) as curves:
        curves.write(1, {"x": 1.0})
    assert os.listdir(tmp_path / "a") == [CSV_NAME]
    with open_curves("", config) as curves:                # a task outside any experiment: nothing written
        assert not curves.enabled
        curves.write(1, {"x": 1.0})
    config.logging.csv = False
    with open_curves(str(tmp_path / "b"), config) as curves:
        curves.write(1, {"x": 1.0})
    assert not os.path.exists(tmp_path / "b")


@pytest.mark.parametrize("logging, message", [
    ({"csv": "yes"}, "logging.csv must be True or False; got 'yes'."),
    ({"tensorbord": True}, "logging.tensorbord is not a logging field"),
    ({"wandb_project": ""}, "logging.wandb_project must be a non-empty string"),
])
def test_bad_logging_config_is_one_sentence(logging, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        check_logging(logging)


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_wandb_without_the_package_is_one_sentence():
    with pytest.raises(
        ValueError, match=r"logging.wandb=True needs the wandb package; install it with pip install -e '\.\[wandb\]'\.$"
    ):
        check_logging({"wandb": True})


def test_bad_logging_stops_a_run_at_start_up(make_config):
    from duo_jax.experiment import setup

    c = make_config("ask_every_k")
    c.logging.tensorbord = True  # a typo: a plugin config may add any field
    with pytest.raises(ValueError, match="logging.tensorbord is not a logging field; the fields are tensorboard, "):
        setup(c)
    assert not os.path.exists(c.experiments_dir)


def test_bad_scalars_and_steps(tmp_path):
    with CurveWriter(str(tmp_path)) as curves:
        with pytest.raises(ValueError, match="step must be an integer >= 0; got -1."):
            curves.write(-1, {"x": 1.0})
        with pytest.raises(ValueError, match="scalars must map non-empty tags to numbers; got 'x'"):
            curves.write(0, {"x": np.zeros(3)})


@pytest.fixture(scope="module")
def svdd_run(tmp_path_factory):
    """A tiny Deep SVDD run on DistShift with the shipped gridworld agents, through `main.run`."""
    from duo_jax.main import run

    c = duo_jax.config.load_config(os.path.join(REPO, "configs", "gridworld.py:distshift,ood"))
    c.experiments_dir = str(tmp_path_factory.mktemp("experiments"))
    c.evaluation.update(num_episodes=8, num_envs=8, progress=False)
    c.algorithm.update(num_rollouts=8, percentiles=(50, 100), epochs=3, batch_size=32)
    c.policy.update(hidden_dim=8, rep_dim=4)
    run(c)
    return c, os.path.join(c.experiments_dir, c.name, "curves")


def test_deep_svdd_run_leaves_events_and_csv(svdd_run):
    config, logdir = svdd_run
    assert any(f.startswith("events.out.tfevents.") for f in os.listdir(logdir))
    csv, events = read_csv(logdir), read_events(logdir)
    _assert_same(events, csv)
    steps, losses = csv["deep_svdd/explore_temp_1/loss"]
    assert len(steps) == config.algorithm.epochs
    assert steps[0] > 0 and np.all(np.diff(steps) == steps[0])  # gradient steps per epoch, every epoch
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_plot_a_runs_curves(svdd_run, tmp_path, capsys):
    config, logdir = svdd_run
    out = str(tmp_path / "curves.png")
    main([os.path.dirname(logdir), "--out", out])
    assert capsys.readouterr().out.strip() == out
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    for args, message in (
        ([str(tmp_path), "--out", out], "holds no scalars.csv"),
        ([logdir, "--out", out, "--tags", "nope"], "--tags 'nope' is not in the run's curves"),
        ([], "the following arguments are required: run_dir (see --help)."),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(args)
        err = capsys.readouterr().err
        assert exit_.value.code == 1 and err.startswith("error: ") and message in err and err.count("\n") == 1


def test_wandb_offline(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = load_config("ood")
    config.logging.wandb = True
    with open_curves(str(tmp_path), config) as curves:
        curves.write(1, {"x": 1.0})
        curves.write(2, {"x": 2.0})
    runs = [d for d in os.listdir(tmp_path / "wandb") if d.startswith("offline-run-")]
    assert len(runs) == 1
    assert any(f.endswith(".wandb") for f in os.listdir(tmp_path / "wandb" / runs[0]))
    _assert_same(read_csv(str(tmp_path)), {"x": ([1, 2], [1.0, 2.0])})
