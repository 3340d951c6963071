"""More than one process: `jax.distributed` set-up and where arrays live when several processes share a run.

Every process runs the same program on the same config (SPMD). The env batch is spread over the devices of
all processes (each process's devices hold its share), everything else is replicated, every number the host
reads is gathered to every process, and only process 0 writes files. With `distributed.num_processes=1` and
`distributed.auto=False` (the defaults) nothing is initialised and the helpers place arrays exactly as a
single process always did.
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from duo_jax.validate import BOOL, INT, POSITIVE_INT, TEXT, check_rules

RULES = {
    "distributed.coordinator": TEXT,
    "distributed.num_processes": POSITIVE_INT,
    "distributed.process_id": INT,
    "distributed.auto": BOOL,
}


def check(config) -> None:
    """One sentence for a `distributed` section that cannot describe a set of processes."""
    check_rules(config, RULES)
    d = config.distributed
    if d.auto or d.num_processes == 1:
        return
    host, _, port = d.coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"distributed.coordinator must be 'host:port' (process 0's address) when "
                         f"distributed.num_processes > 1; got {d.coordinator!r}.")
    if not 0 <= d.process_id < d.num_processes:
        raise ValueError(f"distributed.process_id must be in [0, {d.num_processes}) for "
                         f"distributed.num_processes={d.num_processes}; got {d.process_id}.")


def initialize(config) -> bool:
    """Join the other processes of a run, as `config.distributed` says; returns whether it did.

    Must run before JAX touches a device. `auto=True` lets JAX read the cluster (Slurm, Cloud TPU pods,
    Open MPI; or JAX_COORDINATOR_ADDRESS with the cluster's process count and id); otherwise `coordinator`,
    `num_processes` and `process_id` name the processes. A config without the section runs alone.
    """
    if config is None or "distributed" not in config:
        return False
    check(config)
    d = config.distributed
    if not d.auto and d.num_processes == 1:
        return False
    # Cross-process collectives on CPU devices need an implementation (GPU and TPU bring their own).
    if "jax_cpu_collectives_implementation" in jax.config.values:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs = {} if d.auto else dict(coordinator_address=d.coordinator, num_processes=d.num_processes,
                                    process_id=d.process_id)
    try:
        jax.distributed.initialize(**kwargs)
    except (RuntimeError, ValueError) as err:
        where = "the cluster's environment" if d.auto else f"distributed.coordinator={d.coordinator!r}"
        raise ValueError(f"jax.distributed could not start from {where}: {err}") from None
    return True


def is_main() -> bool:
    """The process that writes files (experiment directories, checkpoints, curves)."""
    return jax.process_index() == 0


def mesh() -> Mesh:
    """Every device of every process on one "data" axis, in process order."""
    return Mesh(np.asarray(jax.devices()), ("data",))


def shard_batch(tree: Any, axis: int = 0) -> Any:
    """Spread the env batch (axis `axis` of every leaf) over every device of every process; jitted code then runs
    data-parallel with the same results as on one device. Every process passes the whole batch (it is computed
    identically everywhere) and its devices keep their share. A leaf whose batch does not divide by the device
    count stays where it is (replicated, when there are several processes)."""
    n = jax.device_count()
    if n == 1:
        return tree
    m = mesh()
    spec = NamedSharding(m, PartitionSpec(*[None] * axis, "data"))

    def place(x):
        if x.shape[axis] % n:
            return replicate(x)
        return jax.make_array_from_process_local_data(spec, _local(x), x.shape)

    return jax.tree_util.tree_map(place, tree)


def replicate(tree: Any) -> Any:
    """A copy of `tree` on every device of every process, so it can meet the sharded batch in one jitted call.
    One process: unchanged (jit places it)."""
    if jax.process_count() == 1:
        return tree
    spec = NamedSharding(mesh(), PartitionSpec())

    def place(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return x  # already global
        x = _local(x)
        return jax.make_array_from_process_local_data(spec, x, x.shape)

    return jax.tree_util.tree_map(place, tree)


def to_host(tree: Any) -> Any:
    """Numpy values of `tree` on every process: a leaf spread over processes is gathered (a collective, so every
    process must call this on the same tree). One process: `jax.device_get`."""
    if jax.process_count() == 1:
        return jax.device_get(tree)

    def get(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            if x.is_fully_replicated:
                return np.asarray(x.addressable_data(0))
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree_util.tree_map(get, tree)


def broadcast(value: Any) -> Any:
    """Process 0's `value` on every process (a collective)."""
    if jax.process_count() == 1:
        return value
    return multihost_utils.broadcast_one_to_all(value)


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier `name`."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def _local(x):
    """A leaf this process holds whole, as `make_array_from_process_local_data` takes it: on the host when other
    processes take part (each process keeps its share), as it is otherwise (a device-to-device copy)."""
    return x if jax.process_count() == 1 else np.asarray(x)
