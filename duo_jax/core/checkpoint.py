"""Orbax checkpoints: a params pytree plus a JSON config, restorable on any backend."""
from __future__ import annotations

import contextlib
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from duo_jax.core import distributed


@contextlib.contextmanager
def _quiet():
    """Orbax logs every file it touches at INFO; keep run logs readable."""
    level = logging.get_verbosity()
    logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        logging.set_verbosity(level)


def _manager(path: str, max_to_keep: int | None = None, create: bool = True) -> ocp.CheckpointManager:
    if jax.process_count() == 1:
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=create)
    else:  # several processes: each uses Orbax alone (no barriers); process 0 writes, every process reads
        if create:
            os.makedirs(path, exist_ok=True)
        me = jax.process_index()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=False,
            multiprocessing_options=ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me}))
    return ocp.CheckpointManager(os.path.abspath(path), options=options)


def save_checkpoint(
    path: str, tree: Any, config: dict, step: int | None = None, max_to_keep: int | None = None
) -> None:
    """Write `tree` (StandardSave) and `config` (JsonSave) as step `step` under `path`.

    Without `step`, the checkpoint replaces what is there: it is written as the next step and the older
    ones are removed only once it is complete, so an interrupted save never loses the previous one.
    Several processes: every process calls it (arrays spread over processes are gathered), process 0 writes.
    """
    tree = jax.tree_util.tree_map(np.asarray, distributed.to_host(tree))
    if not distributed.is_main():
        return
    if step is None:
        latest = latest_step(path)
        step, max_to_keep = (0 if latest is None else latest + 1), 1
    with _quiet(), _manager(path, max_to_keep) as mngr:
        if step in mngr.all_steps():
            mngr.delete(step)
        mngr.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(tree), config=ocp.args.JsonSave(config)),
            force=True,
        )
        mngr.wait_until_finished()


def latest_step(path: str) -> int | None:
    if not os.path.isdir(path):
        return None
    with _quiet(), _manager(path, create=False) as mngr:
        return mngr.latest_step()


def load_checkpoint(path: str, target: Any = None, step: int | None = None) -> tuple[Any, dict]:
    """Return (tree, config) of `step` (default: latest). `target` gives the tree structure to restore into."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Checkpoint path {path!r} does not exist.")
    try:
        with _quiet(), _manager(path, create=False) as mngr:
            step = mngr.latest_step() if step is None else step
            if step is None:
                raise FileNotFoundError(f"Checkpoint path {path!r} holds no saved step.")
            abstract = None
            if target is not None:
                abstract = jax.tree_util.tree_map(lambda x: ocp.utils.to_shape_dtype_struct(np.asarray(x)), target)
            restored = mngr.restore(
                step,
                args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), config=ocp.args.JsonRestore()),
            )
    except FileNotFoundError:
        raise
    except Exception as err:  # orbax raises many types for unreadable data
        raise ValueError(f"Checkpoint at {path!r} is corrupt or unreadable: {err}") from err
    return restored.state, dict(restored.config)
