"""duo_jax.launch: independent runs as submitit jobs (here with its local executor), written into one
experiment tree, requeued and resumed after a preemption, and its command line."""
import json
import os
import shlex
import subprocess
import sys

import pytest
import submitit
from helpers import REPO

from duo_jax import launch

TINY = ["--config.evaluation.num_episodes=8", "--config.evaluation.num_envs=8", "--config.evaluation.progress=False",
        "--config.evaluation.validation_splits=('val_true',)", "--config.sweep.alphas=(0.0,0.5)"]


def test_two_sweeps_as_local_jobs(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)   # jobs run where submit is called: relative config paths work
    experiments = tmp_path / "experiments"
    jobs = [("duo_jax.sweep", [f"--config=configs/gridworld.py:distshift,{method}", *TINY,
                               f"--config.experiments_dir={experiments}", f"--config.seed={seed}"])
            for method, seed in (("always", 0), ("ask_every_k", 1))]
    handles = launch.submit(jobs, executor="local", folder=str(tmp_path / "jobs"), timeout_min=10)
    assert launch.wait(handles) == []
    for method, seed in (("always_expert", 0), ("ask_every_k", 1)):
        with open(experiments / f"distshift_{method}_sweep" / "sweep.json") as f:
            result = json.load(f)
        assert (result["method"], result["seed"], result["alphas"]) == (f"distshift_{method}", seed, [0.0, 0.5])
        assert [row["test"]["episodes"] for row in result["selections"]["val_true"]] == [8, 8]
    assert sorted(os.listdir(experiments)) == ["distshift_always_expert_sweep", "distshift_ask_every_k_sweep"]


RESUMABLE = """
import os, sys, time
if os.path.exists("started"):
    open("done", "w").write("resumed")
    sys.exit(0)
open("started", "w").close()
try:
    time.sleep(120)
except KeyboardInterrupt:
    open("interrupted", "w").close()
    raise
sys.exit(5)
"""


def test_preempted_job_is_stopped_requeued_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A 40 s time limit whose warning signal (Slurm's USR2, here from submitit's local controller) comes after
    # 20 s: time for the job to start and write "started" even on a loaded machine.
    executor = submitit.LocalExecutor(str(tmp_path / "jobs"))
    executor.update_parameters(timeout_min=40 / 60, signal_delay_s=20)
    [job] = launch.submit([[sys.executable, "-c", RESUMABLE]], executor=executor)
    assert launch.wait([job]) == []
    assert (tmp_path / "interrupted").exists()            # the first run was stopped with SIGINT
    assert (tmp_path / "done").read_text() == "resumed"   # and the same command ran again


@pytest.mark.parametrize(
    "job, argv",
    [
        (
            "python -m duo_jax.sweep --config=configs/logit.py  # a comment",
            ["python", "-m", "duo_jax.sweep", "--config=configs/logit.py"],
        ),
        (["echo", "a b"], ["echo", "a b"]),
        (
            ("duo_jax.agents.train", ["--config=configs/train_grid_agent.py"]),
            [sys.executable, "-m", "duo_jax.agents.train", "--config=configs/train_grid_agent.py"],
        ),
    ],
)
def test_command_forms(job, argv):
    assert launch.command(job) == argv


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: launch.submit(["echo"], executor="pbs"), "executor must be one of slurm, local; got 'pbs'."),
        (
            lambda: launch.submit(["echo"], executor="local", foo=1),
            "submitit parameters: Parameter 'foo' need to be prefixed by an executor name.",
        ),
        (lambda: launch.submit([], executor="local"), "no jobs to submit: give at least one command."),
        (
            lambda: launch.command(("duo_jax.sweep", 3)),
            "a job must be a command line, an argv list or a (module, arguments) pair",
        ),
        (lambda: launch.command(""), "a job must name a command; got ''."),
    ],
)
def test_bad_jobs(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(message)


def test_cli_runs_a_commands_file_and_reports_the_failed_job(tmp_path):
    (tmp_path / "jobs.txt").write_text(
        "# one job a line\npython -c \"open('a.txt', 'w').write('A')\"\n\npython -c 'import sys; sys.exit(3)'\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "duo_jax.launch",
            "--executor=local",
            f"--folder={tmp_path / 'jobs'}",
            "--commands=jobs.txt",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert proc.returncode == 1
    assert (tmp_path / "a.txt").read_text() == "A"
    lines = proc.stdout.strip().splitlines()
    assert [shlex.split(line.split("\t")[1]) for line in lines] == [
        ["python", "-c", "open('a.txt', 'w').write('A')"],
        ["python", "-c", "import sys; sys.exit(3)"],
    ]
    failed = lines[1].split("\t")[0]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: job {failed} failed: python -c 'import sys; sys.exit(3)' exited with code 3. "
        f"(log: {tmp_path / 'jobs'}/{failed}_0_log.err)"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "error: no jobs: give --commands FILE (one command a line) or one command after --."),
        (["--commands=missing.txt"], "error: --commands: cannot read 'missing.txt': No such file or directory."),
        (
            ["--commands=missing.txt", "--", "echo"],
            "error: give either --commands FILE or one command after --, not both.",
        ),
        (["--timeout_min=0", "--", "echo"], "error: --timeout_min must be a positive integer; got 0."),
        (
            ["--executor=pbs"],
            "error: argument --executor: invalid choice: 'pbs' (choose from 'slurm', 'local') (see --help).",
        ),
    ],
)
def test_cli_bad_input_is_one_sentence(args, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "duo_jax.launch", "--executor=local", f"--folder={tmp_path}", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == message
