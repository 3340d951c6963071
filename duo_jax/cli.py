"""The command line every entry point shares: absl flags, `--config=FILE[:ARG]` and `--config.a.b=VALUE`.

Any mistake on it, or in what `prepare` checks before the work starts, ends the program with one line
`error: <sentence>` on stderr and exit code 1, never a traceback: an unknown config field (with the
nearest names), a config file that is missing or fails, a value of the wrong type, and every ValueError
or OSError `prepare` raises. Two things found only once the work starts end the same way: a NaN in
training, and another process writing the same experiment directory. Ctrl-C and SIGTERM (`interruptible`)
end it with one line `interrupted: run the same command again to resume from <dir>.` and exit code 130 or 143.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import logging as pylogging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

import ml_collections
from absl import app, flags
from ml_collections import config_flags

from duo_jax import paths
from duo_jax.agents.ppo import Diverged
from duo_jax.config import load_config
from duo_jax.core import distributed
from duo_jax.core.checkpoint import CannotResume
from duo_jax.experiment import ExperimentBusy
from duo_jax.validate import leaves, some_of

HELP = " (--help lists them)"


def fail(message: Any) -> NoReturn:
    print("error: " + " ".join(str(message).split()), file=sys.stderr)
    sys.exit(1)


def print_lines(lines) -> None:
    """Print a listing; a reader that stops early (`| head`) ends it quietly, not with a BrokenPipeError."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit's flush cannot fail again


class Terminated(BaseException):
    """SIGTERM (what Slurm sends before it preempts or times out a job), raised in the main thread as Ctrl-C raises
    KeyboardInterrupt: a BaseException, so `except Exception` passes it on and `finally` clauses release locks."""


def _terminate(signum, frame):
    raise Terminated


def resume_hint(path: str | None) -> str:
    """What an interrupted command advises: to resume from `path` if the run left it there, else to start over."""
    if path and os.path.exists(path):
        return f"run the same command again to resume from {path}"
    return "run the same command again to start over"


@contextlib.contextmanager
def interruptible(hint: Callable[[], str] | str | None = None):
    """Ctrl-C (SIGINT) or SIGTERM inside ends the program with one line `interrupted: <hint>.` and exit code 130 or
    143 (128 + the signal), never a traceback. Unwinding runs the run's `finally` clauses (its lock is released);
    what it wrote stays (files are written atomically), so its partial directory is what a rerun resumes from."""
    main_thread = threading.current_thread() is threading.main_thread()  # signal handlers live in the main thread
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    previous_hook = sys.unraisablehook

    def redeliver(unraisable) -> None:
        # The signal came while a finalizer or a gc callback (jax has one) ran, which swallows exceptions: send it
        # again a moment later, from another thread, so that it is raised in the program's own code, not lost.
        if isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)):
            again = threading.Timer(0.01, os.kill, (os.getpid(), _signal_of(unraisable.exc_value)))
            again.daemon = True
            again.start()
        else:
            previous_hook(unraisable)

    sys.unraisablehook = redeliver
    try:
        yield
    except (KeyboardInterrupt, Terminated) as err:
        text = hint() if callable(hint) else hint or resume_hint(None)
        print(f"interrupted: {text}.", file=sys.stderr)
        sys.exit(128 + _signal_of(err))
    finally:
        sys.unraisablehook = previous_hook
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _signal_of(err: BaseException) -> int:
    return signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written (its example commands keep their lines); each option's default after its help."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS) \
                and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """argparse (for the entry points without a config) whose complaints are one `error:` line, and whose
    `--help` shows every option's default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        fail(f"{message} (see --help).")


def _is_config_flag(arg: str) -> bool:
    return arg.lstrip("-").startswith(("config.", "noconfig.")) and arg.startswith("-")


def split_config_args(argv: list[str]) -> tuple[str | None, list[str], list[str]]:
    """(the --config value, the --config.* overrides, everything else) of `argv` (program name first)."""
    path, overrides, rest, i = None, [], [argv[0]], 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config", "-config"):
            if i + 1 == len(argv):
                raise ValueError("--config needs a config file, e.g. --config=configs/ask_every_k.py.")
            path, i = argv[i + 1], i + 2
            continue
        if arg.startswith(("--config=", "-config=")):
            path = arg.split("=", 1)[1]
        elif _is_config_flag(arg):
            # `--config.a.b VALUE` (absl's spaced form) unless the next word is another flag.
            if "=" not in arg and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                overrides.append((arg, argv[i + 1]))
                i += 2
                continue
            overrides.append((arg, None))
        else:
            rest.append(arg)
        i += 1
    return path, overrides, rest


def _field_of(flag: str) -> str:
    name = flag.lstrip("-").split("=", 1)[0]
    return name[len("noconfig."):] if name.startswith("noconfig.") else name[len("config."):]


def _check_field(config: ml_collections.ConfigDict, field: str) -> None:
    """An override must name a field the config has; the error names the closest ones."""
    node, done = config, []
    for part in field.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            near = difflib.get_close_matches(field, [f for f, _ in leaves(config)], n=3, cutoff=0.6)
            if not isinstance(node, ml_collections.ConfigDict):
                hint = f"{'.'.join(done)} is a value, not a section."
            elif near:
                hint = f"did you mean {' or '.join(near)}?"
            else:
                hint = f"the fields of {'.'.join(done) or 'the config'} are {some_of(sorted(node.keys()), HELP)}."
            raise ValueError(f"--config.{field}: the config has no field {field!r}; {hint}")
        node, done = node[part], done + [part]


def _kind(value: Any) -> str:
    names = {bool: "True or False", int: "an integer", float: "a number", str: "a string",
             tuple: "a tuple like (1, 2) (quote it for the shell)", list: "a list like [1, 2]"}
    return names.get(type(value), f"a {type(value).__name__}")


def parse_config(argv: list[str], default: str | None, example: str) -> ml_collections.ConfigDict:
    """The config named by `--config` (relative to the working directory) or else `default` (a shipped config,
    relative to the source tree), with the `--config.*` overrides of `argv` applied."""
    path, overrides, _ = split_config_args(argv)
    path = path or (default and os.path.join(paths.REPO, default))
    if not path:
        raise ValueError(f"--config is required, e.g. --config={example}.")
    config = load_config(path, "--config")
    tokens = []
    for flag, value in overrides:
        field = _field_of(flag)
        _check_field(config, field)
        tokens.append(flag if value is None else f"{flag}={value}")
    fv = flags.FlagValues()
    config_flags.DEFINE_config_dict("config", config, flag_values=fv, lock_config=True, sys_argv=[argv[0], *tokens])
    try:
        fv([argv[0], *tokens])
    except Exception as err:  # noqa: BLE001 - absl and ml_collections raise several kinds
        bad = next((t for t in tokens if f"--{t.lstrip('-')}" in str(err) or t.lstrip("-") in str(err)), None)
        if bad is None:
            raise ValueError(f"--config: {err}") from None
        field = _field_of(bad)
        value = bad.split("=", 1)[1] if "=" in bad else None
        current = config
        for part in field.split("."):
            current = current[part]
        got = "no value" if value is None else repr(value)
        if isinstance(current, ml_collections.ConfigDict):
            fields = sorted(current.keys())
            raise ValueError(f"--config.{field} is a section ({some_of(fields, HELP, 8)}); set one of its fields, e.g. "
                             f"--config.{field}.{fields[0]}=...; got {got}.") from None
        raise ValueError(
            f"--config.{field} must be {_kind(current)} (its default is {current!r}); got {got}."
        ) from None
    return fv.config


def config_with_overrides(path: str, overrides, before=(), after=()) -> ml_collections.ConfigDict:
    """The config at `path` with a command's `--override=FIELD=VALUE`s (so named in its errors), between the
    command's own FIELD=VALUEs `before` and `after` (generated, so a failure is the user's)."""
    argv = ["cmd", f"--config={path}", *[f"--config.{o}" for o in (*before, *overrides, *after)]]
    try:
        return parse_config(argv, None, path)
    except ValueError as err:
        raise ValueError(str(err).replace("--config.", "--override=")) from None


HELP_FLAGS = ("-h", "-help", "--help", "--helpshort", "--helpfull")


def print_help(argv: list[str], config_default: str | None, config_example: str | None) -> None:
    """`--help`: the module's docstring and its flags (absl's usage), then every field of the config (the one
    `--config` names, else the default) with its default, so a user sees what `--config.FIELD=VALUE` can set."""
    if not config_example:
        app.usage(shorthelp="--helpfull" not in argv, writeto_stdout=True)
        return
    path = split_config_args(argv)[0]
    shown = path or config_default or config_example
    config = load_config(path or os.path.join(paths.REPO, shown), "--config")  # a bad one: an error, no help
    app.usage(shorthelp="--helpfull" not in argv, writeto_stdout=True)
    given = f"default {config_default}" if config_default else "required"
    print_lines([f"--config=FILE[:ARG] ({given}, e.g. --config={config_example}), then --config.FIELD=VALUE "
                 "for any of its fields; a relative FILE is read from the working directory.",
                 f"Fields of {shown} (FIELD = default):",
                 *(f"  {field} = {value!r}" for field, value in leaves(config))])


def run(
    prepare: Callable,
    execute: Callable,
    *,
    config_default: str | None = None,
    config_example: str | None = None,
    argv: list[str] | None = None,
    resume_from: Callable[[Any], str] | None = None,
) -> None:
    """`app.run` for an entry point: parse the flags (and the config, when `config_example` is set), call
    `prepare(config)` (or `prepare()`), which raises ValueError or OSError on bad input, then
    `execute(prepared)`. A bad input exits with one sentence before `execute` starts. Ctrl-C or SIGTERM
    ends it with one line (`interruptible`) naming `resume_from(prepared)`, the directory a rerun resumes from."""
    parsed: dict[str, Any] = {}

    def parser(argv):
        if any(arg in HELP_FLAGS for arg in argv[1:]):
            try:
                print_help(argv, config_default, config_example)
            except ValueError as err:
                fail(err)
            sys.exit(0)
        try:
            rest = split_config_args(argv)[2] if config_example else argv
            if config_example:
                parsed["config"] = parse_config(argv, config_default, config_example)
            flags.FLAGS.unparse_flags()  # defaults first: in-process reruns must not inherit values
            positional = flags.FLAGS(rest)
        except flags.Error as err:
            fail(err)
        except ValueError as err:
            fail(err)
        if len(positional) > 1:
            fail(f"unexpected arguments {' '.join(positional[1:])!r}; every option is a --flag (see --help).")
        return positional

    def main(_):
        resume: list[str | None] = [None]
        with interruptible(lambda: resume_hint(resume[0])):
            try:
                if config_example:  # before anything touches a device: join the other processes, if any
                    distributed.initialize(parsed["config"])
                prepared = prepare(parsed["config"]) if config_example else prepare()
            except (ValueError, OSError) as err:  # bad input: one sentence, no traceback, nothing written
                fail(err)
            resume[0] = resume_from(prepared) if resume_from else None
            try:
                execute(prepared)
            except (Diverged, ExperimentBusy, CannotResume) as err:  # a NaN in training (its last good checkpoint
                fail(err)  # is kept), another run writing the same experiment, a stale training state: one sentence

    # jax logs each backend it does not find (libtpu on a CPU machine) at INFO: noise on every command.
    pylogging.getLogger("jax._src.xla_bridge").setLevel(pylogging.WARNING)
    app.run(main, argv=argv, flags_parser=parser)
