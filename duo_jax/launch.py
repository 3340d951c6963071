"""Independent runs as cluster jobs through submitit: one job per command, as one Slurm job array.

    python -m duo_jax.launch --executor=slurm --folder=experiments/jobs --commands=jobs.txt \\
        --partition=gpu --gpus_per_node=1 --timeout_min=240
    python -m duo_jax.launch --executor=local --folder=experiments/jobs -- \\
        python -m duo_jax.sweep --config=configs/gridworld.py:distshift,logit

`jobs.txt` holds one command per line (blank lines and `#` comments skipped), e.g. one sweep per (method,
seed) or one agent per (game, role). From Python, `submit` also takes (module, arguments) pairs:

    submit([("duo_jax.sweep", ["--config=configs/logit.py", f"--config.seed={s}"]) for s in range(3)],
           executor="slurm", folder="experiments/jobs", slurm_partition="gpu", timeout_min=240)

Every job runs its command in the directory `submit` was called from, so all jobs write into the same
experiment tree. A job that Slurm preempts or times out is requeued (submitit's `Checkpointable`): the
command is stopped with SIGINT and started again, and resumes from its experiment directory (sweeps and
runs keep their partial directory; PPO continues from `train_state/last`). Submitit's logs and pickles
of each job go to `folder`. `executor="local"` runs the same jobs as processes on this machine.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence

import submitit
from submitit.helpers import Checkpointable, DelayedSubmission

from duo_jax import cli

EXECUTORS = ("slurm", "local")
Job = str | Sequence[str] | tuple[str, Sequence[str]]


class Command(Checkpointable):
    """One job: run `argv` in `cwd` and fail when it fails. On preemption or time-out the command is
    interrupted and the same command is requeued; it resumes from what it wrote."""

    def __init__(self, argv: Sequence[str], cwd: str):
        self.argv, self.cwd = list(argv), cwd
        self._proc = None

    def __call__(self) -> int:
        # The command ignores submitit's preemption signal (Slurm may send it to every process of the job):
        # this job stops it with SIGINT in `checkpoint`, after submitit has decided to requeue.
        preempt = submitit.JobEnvironment._usr_sig()

        def child_signals():
            signal.signal(preempt, signal.SIG_IGN)
            # A job started from a background shell (nohup, &) inherits SIGINT ignored, and Python then never
            # raises KeyboardInterrupt: the command must take the SIGINT that `checkpoint` sends.
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        self._proc = subprocess.Popen(self.argv, cwd=self.cwd, preexec_fn=child_signals)
        # Poll rather than block in wait(): `checkpoint` runs in a signal handler and waits for the command itself.
        while (code := self._proc.poll()) is None:
            time.sleep(1.0)
        if code:
            raise RuntimeError(f"{shlex.join(self.argv)} exited with code {code}.")
        return code

    def checkpoint(self) -> DelayedSubmission:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)   # KeyboardInterrupt: the run closes its log; its partial dir stays
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return DelayedSubmission(Command(self.argv, self.cwd))

    def __getstate__(self) -> dict:
        return {"argv": self.argv, "cwd": self.cwd, "_proc": None}


def command(job: Job) -> list[str]:
    """The argv of a job: a shell-quoted line, an argv list, or a (module, arguments) pair run as
    `python -m module arguments` with this interpreter."""
    if isinstance(job, str):
        argv = shlex.split(job, comments=True)
    elif isinstance(job, tuple) and len(job) == 2 and isinstance(job[0], str) and isinstance(job[1], (list, tuple)):
        argv = [sys.executable, "-m", job[0], *map(str, job[1])]
    elif isinstance(job, (list, tuple)) and all(isinstance(a, str) for a in job):
        argv = list(job)
    else:
        raise ValueError(f"a job must be a command line, an argv list or a (module, arguments) pair; got {job!r}.")
    if not argv:
        raise ValueError(f"a job must name a command; got {job!r}.")
    return argv


def read_commands(path: str) -> list[str]:
    """The commands of a file, one a line; blank lines and `#` comments are skipped."""
    try:
        with open(path) as f:
            lines = [line.strip() for line in f]
    except OSError as err:
        raise ValueError(f"--commands: cannot read {path!r}: {err.strerror}.") from None
    return [line for line in lines if line and not line.startswith("#")]


def submit(jobs: Iterable[Job], executor: str | submitit.Executor = "slurm", folder: str = "experiments/jobs",
           **parameters) -> list[submitit.Job]:
    """Submit every job (one Slurm job array; local processes with `executor="local"`) and return submitit's
    job handles (`job.result()` waits for one). `parameters` go to `submitit.AutoExecutor.update_parameters`:
    timeout_min, nodes, tasks_per_node, gpus_per_node, cpus_per_task, mem_gb, name, slurm_partition,
    slurm_array_parallelism, slurm_additional_parameters, ... (a job sees only the GPUs it asks for, locally too;
    local jobs run at most a day unless timeout_min says otherwise). `executor` may also be a submitit executor
    set up by the caller (then `folder` and `parameters` are not used)."""
    commands = [Command(command(job), os.getcwd()) for job in jobs]
    if not commands:
        raise ValueError("no jobs to submit: give at least one command.")
    ex = executor if isinstance(executor, submitit.Executor) else make_executor(executor, folder, **parameters)
    with ex.batch():
        handles = [ex.submit(c) for c in commands]
    return handles


def make_executor(executor: str, folder: str, **parameters) -> submitit.AutoExecutor:
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}.")
    try:
        ex = submitit.AutoExecutor(folder=folder, cluster=executor)
    except RuntimeError as err:  # no sbatch on this machine
        raise ValueError(f"executor {executor!r} is not available here ({err}); the local executor runs the jobs "
                         "on this machine.") from None
    if executor == "local":
        parameters.setdefault("timeout_min", 24 * 60)   # submitit's local default is 2 minutes
    try:
        ex.update_parameters(**parameters)
    except (ValueError, NameError) as err:
        raise ValueError(f"submitit parameters: {' '.join(str(err).split())}") from None
    return ex


def wait(handles: Sequence[submitit.Job]) -> list[str]:
    """Wait for every job; returns one sentence per failed job (empty when all succeeded)."""
    failed = []
    for job in handles:
        try:
            job.result()
        except Exception as err:  # noqa: BLE001 - submitit re-raises the job's error with its traceback
            parts = str(err).split("-" * 22)  # FailedJobError: header, the job's traceback, where the logs are
            lines = [line.strip() for line in (parts[1] if len(parts) > 2 else str(err)).splitlines() if line.strip()]
            last = lines[-1].removeprefix("RuntimeError: ") if lines else type(err).__name__
            failed.append(f"job {job.job_id} failed: {last} (log: {job.paths.stderr})")
    return failed


@cli.interruptible("the jobs already submitted go on (squeue lists Slurm's); a stopped one resumes when its command "
                   "runs again")
def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, rest = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    p = cli.ArgumentParser(prog="python -m duo_jax.launch", description=__doc__.split("\n\n`jobs.txt`")[0])
    p.add_argument("--executor", choices=EXECUTORS, default="slurm", help="Slurm jobs, or local processes")
    p.add_argument("--folder", default="experiments/jobs", help="submitit's logs and job pickles")
    p.add_argument("--commands", help="a file with one command per line (or give one command after --)")
    p.add_argument("--wait", action="store_true", help="wait for the jobs (always with --executor=local)")
    p.add_argument("--timeout_min", type=int, default=60 * 24, help="time limit of each job, in minutes")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--nodes", type=int, default=1, help="nodes per job (several: add --config.distributed.auto=True)")
    p.add_argument("--tasks_per_node", type=int, default=1, help="processes per node")
    p.add_argument("--gpus_per_node", type=int, default=0, help="GPUs per node")
    p.add_argument("--cpus_per_task", type=int, default=2, help="CPU cores per process")
    p.add_argument("--mem_gb", type=float, default=16, help="memory per node, in GB")
    p.add_argument("--array_parallelism", type=int, default=256, help="Slurm jobs of the array running at once")
    p.add_argument("--name", default="duo_jax", help="the jobs' name")
    args = p.parse_args(own)
    try:
        if args.commands and rest:
            raise ValueError("give either --commands FILE or one command after --, not both.")
        jobs = read_commands(args.commands) if args.commands else ([rest] if rest else [])
        for field in ("timeout_min", "nodes", "tasks_per_node", "cpus_per_task", "array_parallelism"):
            if getattr(args, field) < 1:
                raise ValueError(f"--{field} must be a positive integer; got {getattr(args, field)}.")
        if args.gpus_per_node < 0 or args.mem_gb <= 0:
            raise ValueError(
                f"--gpus_per_node must be >= 0 and --mem_gb > 0; got {args.gpus_per_node} and {args.mem_gb}."
            )
        if not jobs:
            raise ValueError("no jobs: give --commands FILE (one command a line) or one command after --.")
        parameters = dict(
            timeout_min=args.timeout_min,
            nodes=args.nodes,
            tasks_per_node=args.tasks_per_node,
            gpus_per_node=args.gpus_per_node,
            cpus_per_task=args.cpus_per_task,
            mem_gb=args.mem_gb,
            name=args.name,
            slurm_array_parallelism=args.array_parallelism,
        )
        if args.partition:
            parameters["slurm_partition"] = args.partition
        handles = submit(jobs, args.executor, args.folder, **parameters)
    except ValueError as err:
        cli.fail(err)
    for job, argv_ in zip(handles, (command(j) for j in jobs)):
        print(f"{job.job_id}\t{shlex.join(argv_)}")
    if args.executor == "local" or args.wait:
        failed = wait(handles)
        if failed:
            cli.fail(" ".join(failed))


if __name__ == "__main__":
    main()
