"""Orbax checkpoints: a params pytree plus a JSON config, restorable on any backend; a coordination policy's
(`save_policy`; `duo_jax.api.load_policy` rebuilds it)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from duo_jax.core import distributed
from duo_jax.core.policy import to_python


class CannotResume(RuntimeError):
    """A run's saved training state belongs to other code or another config: one sentence saying which and that
    removing it starts the run over (nothing is deleted for the user)."""


@contextlib.contextmanager
def _quiet(level: int = logging.WARNING):
    """Orbax logs every file it touches at INFO; keep run logs readable."""
    previous = logging.get_verbosity()
    logging.set_verbosity(level)
    try:
        yield
    finally:
        logging.set_verbosity(previous)


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


def save_policy(path: str, name: str, params: Any, policy_config: dict | None = None, **extra) -> None:
    """An Orbax checkpoint of a coordination policy: its params plus what `load_policy` needs to rebuild it."""
    config = {"policy": name, "policy_config": policy_config or {}, "params_json": to_python(params), **extra}
    save_checkpoint(path, params, config)


def latest_step(path: str) -> int | None:
    if not os.path.isdir(path):
        return None
    with _quiet(), _manager(path, create=False) as mngr:
        return mngr.latest_step()


class _DrainingLoop(asyncio.SelectorEventLoop):
    """An event loop that lets its pending tasks end before it closes. Orbax closes its loop as soon as one read of a
    corrupt checkpoint fails; the reads still in flight would then end against the closed loop, each printing a
    traceback ('Event loop is closed') after the one-sentence error, some while Python shuts down."""

    def close(self) -> None:
        pending = [task for task in asyncio.all_tasks(self) if not task.done()]
        if pending and not self.is_running() and not self.is_closed():
            self.run_until_complete(asyncio.wait(pending, timeout=30))
            for task in pending:  # their errors are the one already raised
                if task.done() and not task.cancelled():
                    task.exception()
        super().close()


class _DrainingPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return _DrainingLoop()


@contextlib.contextmanager
def _draining_loops():
    """Orbax's event loops, while inside, are `_DrainingLoop`s."""
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(_DrainingPolicy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(previous)


def _damage(path: str, err: Exception) -> str:
    """Which file of the unreadable checkpoint at `path` is damaged, and how, in a few words."""
    text = str(err.args[0] if isinstance(err, KeyError) and err.args else err).split(" [tensorstore_spec=")[0]
    files = re.findall(r'local file "([^"]+)"', text)
    detail = text.rsplit(": ", 1)[-1] if files else text
    if not files:  # a JSON file orbax parsed (the config, the tree's metadata): the first that does not parse
        for root, _, names in sorted(os.walk(path)):
            for name in sorted(n for n in names if n in ("_METADATA", "metadata", "_CHECKPOINT_METADATA")):
                try:
                    with open(os.path.join(root, name)) as f:
                        json.load(f)
                except (OSError, ValueError):
                    files.append(os.path.join(root, name))
    detail = detail if len(detail) <= 120 else detail[:117] + "..."
    if not files:
        return detail
    damaged = os.path.relpath(files[-1], path)
    return f"{'the data in ' if files[-1].endswith('/') else ''}{damaged} is truncated or damaged ({detail})"


def _saved_child(path: str) -> str | None:
    """A directory inside `path` that holds a saved checkpoint (for a user who named its parent)."""
    for name in sorted(os.listdir(path)):
        child = os.path.join(path, name)
        if os.path.isdir(child) and latest_step(child) is not None:
            return child
    return None


def load_checkpoint(path: str, target: Any = None, step: int | None = None,
                    what: str = "a checkpoint written by duo_jax") -> tuple[Any, dict]:
    """Return (tree, config) of `step` (default: latest). `target` gives the tree structure to restore into.
    A path that holds no checkpoint, or a damaged one, raises one sentence naming it and `what` was expected."""
    if not os.path.isdir(path):
        if os.path.exists(path):
            raise FileNotFoundError(f"Checkpoint path {path!r} is a file, not a directory; expected {what}.")
        raise FileNotFoundError(f"Checkpoint path {path!r} does not exist.")
    try:
        # What orbax logs about a damaged file (at ERROR) is said by the one sentence below.
        with _quiet(logging.FATAL), _draining_loops(), _manager(path, create=False) as mngr:
            step = mngr.latest_step() if step is None else step
            if step is None:
                child = _saved_child(path)
                hint = f"; did you mean {child}?" if child else "."
                raise FileNotFoundError(f"Checkpoint path {path!r} holds no saved step; expected {what}{hint}")
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
        raise ValueError(f"Checkpoint at {path!r} is corrupt or unreadable: {_damage(path, err)}.") from err
    return restored.state, dict(restored.config)
