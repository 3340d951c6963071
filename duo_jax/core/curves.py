"""Training curves: scalars to TensorBoard event files, a CSV and, optionally, Weights & Biases.

A trainer needs three lines:

    curves = open_curves(task.logdir, config)      # <experiment>/curves, sinks from config.logging
    curves.write(step, {"loss/policy": ..., "return/mean": ...})
    curves.close()

`<logdir>/scalars.csv` holds one `step,tag,value` row per scalar (long format, so tags may differ
from one write to the next), beside TensorBoard's `events.out.tfevents.*` (`tensorboard --logdir
experiments`) and, with `logging.wandb`, W&B's `wandb/` directory. Each write reaches both files before it
returns, so a killed run keeps every step it logged. A resumed run reopens the same logdir and may re-log
steps done after its last checkpoint: its first write at step s drops the CSV
rows with step >= s and marks TensorBoard's events from s on as purged, so no step appears twice.

    python -m duo_jax.curves experiments/<name> --out curves.png     # one panel per tag (duo_jax.curves)
"""
from __future__ import annotations

import csv
import glob
import importlib.util
import os
import struct
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.summary import scalar

from duo_jax.core import distributed
from duo_jax.core.files import atomic_write

CSV_NAME = "scalars.csv"
SINKS = ("tensorboard", "csv", "wandb")
DEFAULTS = {"tensorboard": True, "csv": True, "wandb": False, "wandb_project": "duo_jax"}


def check_logging(logging: Mapping[str, Any] | None) -> dict:
    """config.logging with defaults filled in; raises ValueError (one sentence) on a bad field."""
    settings = dict(DEFAULTS, **(dict(logging) if logging is not None else {}))
    for name in settings:
        if name not in DEFAULTS:
            raise ValueError(f"logging.{name} is not a logging field; the fields are {', '.join(DEFAULTS)}.")
    for name in SINKS:
        if not isinstance(settings[name], bool):
            raise ValueError(f"logging.{name} must be True or False; got {settings[name]!r}.")
    if not isinstance(settings["wandb_project"], str) or not settings["wandb_project"]:
        raise ValueError(f"logging.wandb_project must be a non-empty string; got {settings['wandb_project']!r}.")
    if settings["wandb"] and importlib.util.find_spec("wandb") is None:
        raise ValueError("logging.wandb=True needs the wandb package; install it with pip install -e '.[wandb]'.")
    return settings


class CurveWriter:
    """Writes each `write(step, scalars)` to every enabled sink; files are opened at the first write."""

    def __init__(self, logdir: str, tensorboard: bool = True, csv: bool = True, wandb: bool = False,
                 wandb_project: str = "duo_jax", run_name: str = "", run_config: dict | None = None):
        self.logdir = logdir
        self._sinks = {"tensorboard": tensorboard, "csv": csv, "wandb": wandb}
        self._wandb_project, self._run_name, self._run_config = wandb_project, run_name, run_config
        self._tb = self._csv = self._wandb = None
        self._opened = False

    @property
    def enabled(self) -> bool:
        # Several processes (duo_jax.core.distributed) log the same numbers; process 0 writes them.
        return bool(self.logdir) and any(self._sinks.values()) and distributed.is_main()

    def _open(self, first_step: int) -> None:
        os.makedirs(self.logdir, exist_ok=True)
        if self._sinks["csv"]:
            path = os.path.join(self.logdir, CSV_NAME)
            if os.path.exists(path):
                _drop_rows_from(path, first_step)
            else:
                with open(path, "w", newline="") as f:
                    f.write("step,tag,value\n")
            self._csv = open(path, "a", newline="")
            self._rows = csv.writer(self._csv, lineterminator="\n")
        if self._sinks["tensorboard"]:
            # tensorboardX's EventsWriter writes in this thread (its SummaryWriter queues events for a thread that
            # writes them out up to flush_secs later, so a killed run lost them, flush() or not).
            # A numbered suffix keeps a writer reopened within the same second off its predecessor's file,
            # and in order: TensorBoard reads a directory's event files sorted by name.
            earlier = len(_event_files(self.logdir))
            self._tb = EventsWriter(os.path.join(self.logdir, "events"), f".{earlier:04d}")
            if earlier:  # TensorBoard hides the earlier files' events at steps >= first_step (a purge_step)
                self._tb.write_event(Event(wall_time=time.time(), step=first_step,
                                           session_log=SessionLog(status=SessionLog.START)))
        if self._sinks["wandb"]:
            import wandb

            self._wandb = wandb.init(project=self._wandb_project, name=self._run_name or None, dir=self.logdir,
                                     config=self._run_config)
        self._opened = True

    def write(self, step: int, scalars: Mapping[str, Any]) -> None:
        """Logs `scalars` ({tag: number or 0-d array}) at `step`; a no-op when no sink is enabled."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be an integer >= 0; got {step!r}.")
        values = {}
        for tag, value in scalars.items():
            array = np.asarray(value)
            if not isinstance(tag, str) or not tag or array.shape != () or not np.issubdtype(array.dtype, np.number):
                raise ValueError(f"scalars must map non-empty tags to numbers; got {tag!r}: {value!r:.60}.")
            values[tag] = float(array)
        if not self.enabled or not values:
            return
        step = int(step)
        if not self._opened:
            self._open(step)
        if self._csv is not None:
            self._rows.writerows((step, tag, repr(value)) for tag, value in values.items())
            self._csv.flush()
        if self._tb is not None:
            now = time.time()
            for tag, value in values.items():
                self._tb.write_event(Event(wall_time=now, step=step, summary=scalar(tag, value)))
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(values, step=step)

    def flush(self) -> None:
        if self._csv is not None:
            self._csv.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
        self._tb = self._csv = self._wandb = None

    def __enter__(self) -> CurveWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_curves(logdir: str, config) -> CurveWriter:
    """A writer into `logdir` with the sinks of `config.logging` (defaults if the config has none).

    An empty `logdir` (a TrainTask built outside an experiment) gives a writer that writes nothing.
    """
    settings = check_logging(config.get("logging") if config is not None else None)
    run_config = config.to_dict() if hasattr(config, "to_dict") else None
    name = config.get("name", "") if config is not None else ""
    return CurveWriter(logdir, settings["tensorboard"], settings["csv"], settings["wandb"], settings["wandb_project"],
                       name, run_config)


def _drop_rows_from(path: str, first_step: int) -> None:
    """Keeps the CSV rows logged before `first_step` (a resumed run logs the later ones again); rewriting
    the file also drops a line cut off by a killed run."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = [["step", "tag", "value"]] + [r for r in rows[1:] if len(r) == 3 and int(r[0]) < first_step]
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(kept)
    atomic_write(path, write)


Curves = dict[str, tuple[np.ndarray, np.ndarray]]   # tag -> (steps, values), in logging order


def _group(rows) -> Curves:
    curves: dict[str, tuple[list, list]] = {}
    for step, tag, value in rows:
        steps, values = curves.setdefault(tag, ([], []))
        steps.append(step)
        values.append(value)
    return {tag: (np.asarray(s, np.int64), np.asarray(v, np.float64)) for tag, (s, v) in curves.items()}


def read_csv(logdir: str) -> Curves:
    """The curves in `<logdir>/scalars.csv`."""
    with open(os.path.join(logdir, CSV_NAME), newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["step", "tag", "value"]:
            raise ValueError(f"{os.path.join(logdir, CSV_NAME)} is not a curves CSV (header {header!r}).")
        return _group((int(step), tag, float(value)) for step, tag, value in reader)


def _records(path: str):
    """The payloads of a TFRecord file (8-byte length, 4-byte CRC, data, 4-byte CRC); a cut-off last record
    (a run killed while writing) ends the file."""
    with open(path, "rb") as f:
        while True:
            header = f.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            if len(data) < length or len(f.read(4)) < 4:
                return
            yield data


def _event_files(logdir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")))


def read_events(logdir: str) -> Curves:
    """The scalar curves in `<logdir>`'s TensorBoard event files, read as TensorBoard does: a SessionLog
    START at step s (a resumed writer's `purge_step`) hides the events logged earlier at steps >= s."""
    rows: list[tuple[int, str, float]] = []
    for path in _event_files(logdir):
        for data in _records(path):
            event = Event.FromString(data)
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                rows = [r for r in rows if r[0] < event.step]
            elif event.HasField("summary"):
                rows += [(event.step, v.tag, v.simple_value) for v in event.summary.value
                         if v.WhichOneof("value") == "simple_value"]
    return _group(rows)

