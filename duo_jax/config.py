"""Default experiment config shared by `configs/*.py` (reference DuoAI defaults unless noted).

Every path a user gives (the --config file, `plugins`, `agents.*`, `eval.checkpoint`, `experiments_dir`, a method
config of configs/gridworld.py) is relative to the working directory, and an error names it in full. Only what
the package ships is found from the source tree wherever the command runs: the agents an empty `agents.*`
means, and the config files the entry points load by default.
"""
import difflib
import importlib.util
import os
import sys
import traceback

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = "experiment"
    c.mode = "train"                # train | eval
    c.overwrite = False             # replace an existing experiments/<name>
    c.experiments_dir = "experiments"
    c.seed = 0
    c.plugins = ()                  # user .py files whose register_* calls run first (paths as above)
    c.env = ml_collections.ConfigDict(dict(name="procgen", game="coinrun"))
    # YRC-0: train and val_sim use a simulated pair (a weaker novice; the real novice as expert),
    # so nothing but val_true and test ever sees the test expert. Empty = the shipped agents of env.game:
    # agents/<game>/{sim_novice, novice, novice, expert}/agent in the source tree; a path: an agent checkpoint.
    c.agents = ml_collections.ConfigDict(dict(train_novice="", train_expert="", test_novice="", test_expert=""))
    # Expert step cost alpha*BP, switch cost beta*BP; bp <= 0: derived from each pair's expert stats.
    # round_to_cents: charge round(alpha*BP, 2) and round(beta*BP, 2) as YRC-Bench does (a price below 0.005 is 0).
    c.costs = ml_collections.ConfigDict(dict(alpha=0.4, beta=0.0, bp=-1.0, round_to_cents=False))
    c.coordination = ml_collections.ConfigDict(dict(open_expert=False, temperature=1.0))
    c.policy = ml_collections.ConfigDict(dict(name="always"))
    # train_split: where the algorithm learns (with that split's pair); "test" only for the skyline.
    c.algorithm = ml_collections.ConfigDict(dict(name="always", train_split="train"))
    c.evaluation = ml_collections.ConfigDict(
        dict(
            num_episodes=256,
            num_envs=64,            # env slots per candidate; each plays episodes until none is left
            max_num_steps=256,
            seed=0,                 # picks the fixed levels of each split
            validation_splits=("val_sim", "val_true"),
            test_split="test",
            progress=True,
        )
    )
    c.eval = ml_collections.ConfigDict(dict(checkpoint="", splits=("test",)))
    # python -m duo_jax.sweep: the cost weights alpha to run the method at (the paper's grid).
    c.sweep = ml_collections.ConfigDict(dict(alphas=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)))
    # Training curves under experiments/<name>/curves (duo_jax.core.curves); wandb needs the `wandb` extra.
    c.logging = ml_collections.ConfigDict(dict(tensorboard=True, csv=True, wandb=False, wandb_project="duo_jax"))
    # Several processes (duo_jax.core.distributed, docs/scaling.md): JAX-native envs only; auto=True reads the cluster
    # (Slurm, Cloud TPU, Open MPI). Not part of what a rerun must match to resume.
    c.distributed = ml_collections.ConfigDict(dict(coordinator="", num_processes=1, process_id=0, auto=False))
    return c


def load_module(path: str, name: str, field: str):
    """Import the user's file `path` as module `name`; a file that fails is one ValueError naming `field`,
    the file and the line."""
    if not os.path.isfile(path):
        raise ValueError(f"{field}: file {os.path.abspath(path)!r} does not exist.")
    spec = importlib.util.spec_from_file_location(name, os.path.abspath(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - any failure of the user's code is bad input
        del sys.modules[name]
        raise ValueError(f"{field}: {path} failed to import at line {_line_in(path, err)}: {_text(err)}") from None
    return module


def _line_in(path: str, err: BaseException) -> int | str:
    """The last line of `path` the error passed through (a SyntaxError's own line)."""
    if isinstance(err, SyntaxError) and err.lineno is not None:
        return err.lineno
    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__)
             if os.path.abspath(f.filename) == os.path.abspath(path)]
    return lines[-1] if lines else "?"


def _text(err: BaseException) -> str:
    msg = err.msg if isinstance(err, SyntaxError) else str(err)
    return " ".join(f"{type(err).__name__}: {msg}".split())


def load_config(path: str, field: str = "--config") -> ml_collections.ConfigDict:
    """`get_config()` of a config file. `path` may end with `:arg`, passed to `get_config(arg)` as on the
    command line. Any failure (no file, a syntax error, get_config raising) is one ValueError sentence."""
    path, _, arg = path.partition(":")
    if not os.path.isfile(path):
        near = difflib.get_close_matches(path, _config_files(path), n=3)
        hint = f"; did you mean {' or '.join(near)}?" if near else "."
        raise ValueError(f"{field}: config file {os.path.abspath(path)!r} does not exist{hint}")
    module = load_module(path, "duo_jax_config_" + os.path.basename(path)[:-3], field)
    if not callable(getattr(module, "get_config", None)):
        raise ValueError(f"{field}: {path} defines no get_config() function.")
    try:
        config = module.get_config(arg) if arg else module.get_config()
    except ValueError as err:  # the config file's own message on a bad argument
        msg = str(err)
        raise ValueError(msg if msg.startswith(f"{field}: ") else f"{field}: {msg}") from None
    except Exception as err:  # noqa: BLE001
        raise ValueError(
            f"{field}: {path}'s get_config({arg!r}) failed at line {_line_in(path, err)}: {_text(err)}"
        ) from None
    if not isinstance(config, ml_collections.ConfigDict):
        raise ValueError(
            f"{field}: {path}'s get_config() must return an ml_collections.ConfigDict; got {type(config).__name__}."
        )
    return config


def _config_files(path: str) -> list[str]:
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        return []
    return [os.path.join(os.path.dirname(path), f) for f in sorted(os.listdir(folder)) if f.endswith(".py")]
