"""Ctrl-C and SIGTERM (Slurm's notice before preemption): one line saying how to resume, exit code 130 or 143, no
traceback, the partial directory kept and its lock released; the same command run again ends with the results of
an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import REPO

from duo_jax import cli, curves, launch, report

NAME = "distshift_ask_every_k"
# 64 episodes in rounds of 8: long enough after the run's directory opens that the signal lands inside it, even
# on a loaded machine (with 8 the run could finish before the test process sent it).
TINY = ["--config=configs/gridworld.py:distshift,ask_every_k", "--config.evaluation.num_episodes=64",
        "--config.evaluation.num_envs=8", "--config.evaluation.progress=False"]


@pytest.fixture(scope="module")
def jax_cache(tmp_path_factory):
    """A persistent compilation cache the runs share: those after the first skip XLA's compiles."""
    return str(tmp_path_factory.mktemp("jax_cache"))


def start(jax_cache, root):
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=jax_cache,
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    # SIGINT as a terminal delivers it, even when the tests run in the background (`nohup ... &` starts them with
    # SIGINT ignored, which children inherit, and Python then never raises KeyboardInterrupt).
    return subprocess.Popen([sys.executable, "-m", "duo_jax.main", *TINY, f"--config.experiments_dir={root}"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.fixture
def sigint_raises():
    """Ctrl-C raises KeyboardInterrupt in this process for the test, as in a terminal (see `start`)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def results(root) -> dict:
    with open(os.path.join(root, NAME, "results.json")) as f:
        out = json.load(f)
    out.pop("wall_time_s")
    return out


@pytest.fixture(scope="module")
def uninterrupted(jax_cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    proc = start(jax_cache, root)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return results(root)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_says_how_to_resume_and_resumes_to_the_same_results(jax_cache, uninterrupted, tmp_path, sig):
    partial = tmp_path / f".{NAME}.partial"
    proc = start(jax_cache, tmp_path)
    while not (partial / "log.txt").exists():  # the run is under way: its directory is open, its rollouts to come
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + sig, err[-3000:]
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if not line[:5].lstrip("IWE").isdigit()] == [
        f"interrupted: run the same command again to resume from {partial}."]
    assert sorted(os.listdir(tmp_path)) == [partial.name]  # the partial directory stays; the lock is released

    rerun = start(jax_cache, tmp_path)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-3000:]
    assert f"Resuming the interrupted run in {partial}" in err
    assert results(tmp_path) == uninterrupted


def test_interruptible_exits_with_one_line_and_the_signal_code(capsys, sigint_raises):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as ended, cli.interruptible("resume it"):
        raise KeyboardInterrupt
    assert ended.value.code == 130 and capsys.readouterr().err == "interrupted: resume it.\n"
    with pytest.raises(SystemExit) as ended, cli.interruptible(lambda: cli.resume_hint("/nowhere")):
        os.kill(os.getpid(), signal.SIGTERM)  # raised as cli.Terminated in this (the main) thread
        time.sleep(10)
    assert ended.value.code == 143
    assert capsys.readouterr().err == "interrupted: run the same command again to start over.\n"
    assert signal.getsignal(signal.SIGTERM) is before


class Finalizer:
    def __del__(self):
        raise KeyboardInterrupt  # as if Ctrl-C came while a finalizer (or jax's gc callback) ran


def test_an_interrupt_swallowed_by_a_finalizer_is_delivered_again(capsys, sigint_raises):
    with pytest.raises(SystemExit) as ended, cli.interruptible("resume it"):
        Finalizer()  # collected at once: Python reports its KeyboardInterrupt as unraisable instead of raising it
        time.sleep(10)
    assert ended.value.code == 130 and capsys.readouterr().err == "interrupted: resume it.\n"


def test_resume_hint_names_the_directory_only_once_it_exists(tmp_path):
    start_over = "run the same command again to start over"
    assert cli.resume_hint(None) == cli.resume_hint(str(tmp_path / "gone")) == start_over
    assert cli.resume_hint(str(tmp_path)) == f"run the same command again to resume from {tmp_path}"


@pytest.mark.parametrize("module, argv, work, hint", [
    (report, ["some_sweep", "--out=nowhere"], "load_sweeps", "run the same command again to start over"),
    (launch, ["--executor=local", "--", "true"], "submit", "the jobs already submitted go on (squeue lists Slurm's); "
                                                           "a stopped one resumes when its command runs again"),
    (curves, ["some_run"], "plot_curves", "run the same command again to start over"),
], ids=["report", "launch", "curves"])
def test_entry_points_outside_cli_run_end_the_same_way(monkeypatch, capsys, module, argv, work, hint):
    """suite, agents.suite, report, launch and curves use `cli.interruptible` as a decorator on their `main`."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, work, interrupted)
    with pytest.raises(SystemExit) as ended:
        module.main(argv)
    assert ended.value.code == 130
    assert capsys.readouterr().err == f"interrupted: {hint}.\n"
