"""Several processes under `jax.distributed` (CPU devices, gloo collectives): the env batch spread over every
process's devices gives the numbers of one process, every process reads the gathered numbers, and only
process 0 writes."""
import json
import os
import socket
import subprocess
import sys

import jax
import ml_collections
import pytest
from helpers import REPO

from duo_jax.config import base_config
from duo_jax.core import distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


# jaxlib's gloo writes "[Gloo] Rank i is connected to n peer ranks..." from C++ straight to fd 1, in pieces that
# can land inside the process's own lines. So each process's Python-level stdout goes to a file of its own.
OWN_STDOUT = """
import runpy, sys
sys.stdout = open(sys.argv[1], "w", buffering=1)
kind, target, *rest = sys.argv[2:]
if kind == "-m":
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
"""


def launch(args_of, devices: int, out_dir, n: int = 2, timeout: int = 240) -> list[subprocess.CompletedProcess]:
    """Start `n` Python processes at once (`args_of(i)`: process i's arguments after the interpreter, starting with
    -m or -c) and wait for all of them; each result's stdout is what that process's Python printed."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    files = [os.path.join(out_dir, f"stdout_{i}") for i in range(n)]
    procs = [subprocess.Popen([sys.executable, "-c", OWN_STDOUT, files[i], *args_of(i)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(n)]
    out = []
    for p, file in zip(procs, files):
        _, stderr = p.communicate(timeout=timeout)
        with open(file) as f:
            out.append(subprocess.CompletedProcess(p.args, p.returncode, f.read(), stderr))
    return out


def config(**distributed_fields) -> ml_collections.ConfigDict:
    c = base_config()
    c.distributed.update(distributed_fields)
    return c


def test_one_process_initialises_nothing():
    assert distributed.initialize(config()) is False
    assert distributed.initialize(ml_collections.ConfigDict(dict(seed=0))) is False   # no section: alone
    assert jax.process_count() == 1 and distributed.is_main()
    assert distributed.to_host({"a": jax.numpy.arange(3)})["a"].tolist() == [0, 1, 2]
    tree = {"a": jax.numpy.ones(3)}
    assert distributed.replicate(tree) is tree and distributed.broadcast(7) == 7


@pytest.mark.parametrize("fields, message", [
    (dict(num_processes=2), "distributed.coordinator must be 'host:port' (process 0's address) when "
                            "distributed.num_processes > 1; got ''."),
    (dict(num_processes=2, coordinator="node1"), "distributed.coordinator must be 'host:port'"),
    (dict(num_processes=2, coordinator="node1:12345", process_id=2),
     "distributed.process_id must be in [0, 2) for distributed.num_processes=2; got 2."),
    (dict(num_processes=0), "distributed.num_processes must be a positive integer; got 0."),
    (dict(num_processes=2, coordinator="node1:port"), "distributed.coordinator must be 'host:port'"),
])
def test_bad_distributed_fields(fields, message):
    with pytest.raises(ValueError) as err:
        distributed.check(config(**fields))
    assert str(err.value).startswith(message)


def test_cli_bad_distributed_field_is_one_sentence():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "duo_jax.sweep",
            "--config=configs/gridworld.py:distshift,always",
            "--config.distributed.num_processes=2",
            "--config.distributed.coordinator=localhost:1",
            "--config.distributed.process_id=-1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: distributed.process_id must be in [0, 2) for distributed.num_processes=2; got -1."
    )


def test_procgen_refuses_several_processes(tmp_path):
    port = free_port()
    procs = launch(
        lambda i: [
            "-m",
            "duo_jax.main",
            "--config=configs/ask_every_k.py",
            f"--config.experiments_dir={tmp_path}",
            f"--config.distributed.coordinator=localhost:{port}",
            "--config.distributed.num_processes=2",
            f"--config.distributed.process_id={i}",
        ],
        devices=1,
        out_dir=tmp_path,
        timeout=120,
    )
    for p in procs:
        assert p.returncode == 1
        assert p.stderr.strip().splitlines()[-1] == (
            "error: distributed: several processes need a JAX-native env (gridworld); env.name 'procgen' steps its "
            "envs on the host, so run it as one process."
        )


PLACEMENT = """
import sys, numpy as np, ml_collections
from duo_jax.config import base_config
from duo_jax.core import checkpoint, distributed
c = base_config()
c.distributed.update(coordinator=sys.argv[1], num_processes=2, process_id=int(sys.argv[2]))
assert distributed.initialize(c)
import jax
me = jax.process_index()
assert (jax.process_count(), jax.device_count(), jax.local_device_count()) == (2, 4, 2)
# every process passes the whole batch
batch = distributed.shard_batch(np.arange(16, dtype=np.int32).reshape(8, 2))
mine = sorted(int(s.data[0, 0]) // 2 for s in batch.addressable_shards)
assert mine == [4 * me, 4 * me + 2], mine                                    # ...and holds its share only
odd = distributed.shard_batch(np.arange(3))                                  # does not divide: replicated
assert odd.is_fully_replicated and odd.shape == (3,)
double = jax.jit(lambda x, k: x * k)(batch, distributed.replicate(np.int32(2)))
assert distributed.to_host(double).tolist() == (np.arange(16).reshape(8, 2) * 2).tolist()
checkpoint.save_checkpoint(sys.argv[3], {"batch": batch}, {"by": me})      # every process calls; process 0 writes
distributed.barrier("saved")
tree, meta = checkpoint.load_checkpoint(sys.argv[3], target={"batch": np.zeros((8, 2), np.int32)})
assert tree["batch"].tolist() == np.arange(16).reshape(8, 2).tolist() and meta == {"by": 0}
print("ok", me)
"""


def test_two_processes_place_gather_and_checkpoint(tmp_path):
    port = free_port()
    procs = launch(
        lambda i: ["-c", PLACEMENT, f"localhost:{port}", str(i), str(tmp_path / "ckpt")], devices=2, out_dir=tmp_path
    )
    for i, p in enumerate(procs):
        assert p.returncode == 0, p.stderr[-3000:]
        assert p.stdout.split() == ["ok", str(i)]


SWEEP = [
    "-m",
    "duo_jax.sweep",
    "--config=configs/gridworld.py:distshift,ask_every_k",
    "--config.algorithm.candidates=(2,5)",
    "--config.evaluation.num_episodes=8",
    "--config.evaluation.num_envs=8",
    "--config.evaluation.validation_splits=('val_true',)",
    "--config.evaluation.progress=False",
    "--config.sweep.alphas=(0.0,0.5)",
]


def test_two_process_sweep_equals_one_process(tmp_path):
    """A gridworld sweep on 2 processes x 2 devices writes the sweep.json of a one-process run, once."""
    port = free_port()
    one = subprocess.Popen(
        [sys.executable, *SWEEP, f"--config.experiments_dir={tmp_path / 'one'}"],
        cwd=REPO,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    two = launch(
        lambda i: [
            *SWEEP,
            f"--config.experiments_dir={tmp_path / 'two'}",
            f"--config.distributed.coordinator=localhost:{port}",
            "--config.distributed.num_processes=2",
            f"--config.distributed.process_id={i}",
        ],
        devices=2,
        out_dir=tmp_path,
    )
    _, err = one.communicate(timeout=240)
    assert one.returncode == 0, err[-3000:]
    for p in two:
        assert p.returncode == 0, p.stderr[-3000:]
    assert two[0].stdout == two[1].stdout != ""  # every process reads the same gathered numbers

    def read(root):
        with open(tmp_path / root / "distshift_ask_every_k_sweep" / "sweep.json") as f:
            result = json.load(f)
        result.pop("wall_time_s")
        return result

    assert read("two") == read("one")
    assert os.listdir(tmp_path / "two") == ["distshift_ask_every_k_sweep"]  # no partial directory left
    with open(tmp_path / "two" / "distshift_ask_every_k_sweep" / "config.json") as f:
        assert json.load(f)["distributed"]["process_id"] == 0  # written by process 0
